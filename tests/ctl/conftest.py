"""Fixtures for the ctl tests: real ConsoleActors from tests/console's helpers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pykka
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "console"))
from console_support import make_keys


@pytest.fixture(autouse=True)
def stop_every_actor() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return make_keys(tmp_path)


@pytest.fixture(autouse=True)
def no_ambient_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A developer's running demo or PGACTOR_CTL_CONFIG must not leak into a test."""
    monkeypatch.delenv("PGACTOR_CTL_CONFIG", raising=False)
    monkeypatch.setenv("PGACTOR_DEMO_DIR", str(tmp_path / "no-demo"))
