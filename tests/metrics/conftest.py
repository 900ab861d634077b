"""Fixtures: a registry per test, a scheduler, and every actor stopped at teardown."""

from __future__ import annotations

from collections.abc import Iterator

import pykka
import pytest

from actors.runtime.registry import Registry
from actors.runtime.timers import Scheduler


@pytest.fixture(autouse=True)
def stop_every_actor() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    scheduler = Scheduler()
    scheduler.start()
    yield scheduler
    scheduler.stop()
