"""Fixtures for the console tests; the helpers live in console_support."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pykka
import pytest
from console_support import make_keys


@pytest.fixture(autouse=True)
def stop_every_actor() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return make_keys(tmp_path)
