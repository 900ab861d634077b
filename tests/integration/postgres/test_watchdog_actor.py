"""WatchdogActor tells the HA actor whether a live fence holds its arming.

Real fence processes (or real programs that fail to be one) beside a small
fake HA actor that keeps every WatchdogStatus it gets.  No PostgreSQL runs:
the fences guard data directories that hold no server, and are armed far
ahead.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from actors.postgres.oscommand import run_dir
from actors.postgres.watchdog import WatchdogActor
from actors.runtime.actor import BaseActor, ask, handles
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from messages.base import ActorName
from messages.config import PostgresSettings
from messages.postgres import ArmWatchdog, DisarmWatchdog, WatchdogStatus
from messages.runtime import Ping

from .conftest import PgFactory, wait_for

pytestmark = pytest.mark.integration

HA = ActorName("ha")
WATCHDOG = ActorName("watchdog")
FAR_S = 600.0
"""Armed this far ahead: no fence here fires within a test."""


class FakeHa(BaseActor):
    """Stands in for the HA actor: keeps every WatchdogStatus."""

    def __init__(self, *, seen: list[WatchdogStatus], lock: threading.Lock, **base: Any) -> None:
        super().__init__(**base)
        self.seen, self.lock = seen, lock

    @handles(WatchdogStatus)
    def handle_status(self, msg: WatchdogStatus) -> None:
        with self.lock:
            self.seen.append(msg)


class Harness:
    def __init__(self, settings: PostgresSettings) -> None:
        self.settings = settings
        self.registry = Registry()
        self.runtime = Runtime(registry=self.registry)
        self.seen: list[WatchdogStatus] = []
        self.lock = threading.Lock()
        self.refs: list[Any] = []

    def start_ha(self) -> None:
        self.seen.clear()
        ref = FakeHa.start(name=HA, runtime=self.runtime, seen=self.seen, lock=self.lock)
        self.refs.append(ref)

    def start_watchdog(self, **kwargs: Any) -> Any:
        ref = WatchdogActor.start(
            name=WATCHDOG, runtime=self.runtime, settings=self.settings, **kwargs
        )
        self.refs.insert(0, ref)
        return ref

    def statuses(self) -> list[WatchdogStatus]:
        """Every status so far, once both actors have handled what was sent before."""
        for name in (WATCHDOG, HA):
            ask(self.registry, name, Ping(), timeout_s=10)
        with self.lock:
            return list(self.seen)

    def wait_statuses(self, count: int) -> list[WatchdogStatus]:
        return wait_for(lambda: _at_least(self.statuses(), count), 10, f"{count} statuses")

    def tell(self, msg: ArmWatchdog | DisarmWatchdog) -> None:
        self.registry.tell(WATCHDOG, msg)

    def stop(self) -> None:
        for ref in self.refs:
            ref.stop()


def _at_least(seen: list[WatchdogStatus], count: int) -> list[WatchdogStatus] | None:
    return seen if len(seen) >= count else None


def _recorded(settings: PostgresSettings, fire_at: float) -> bool:
    """The fence's own record says it holds `fire_at`."""
    try:
        with open(os.path.join(run_dir(settings), "fence.json")) as fh:
            recorded = float(json.load(fh)["fire_at"])
    except (OSError, ValueError, TypeError, KeyError):
        return False
    return abs(recorded - fire_at) < 1e-5


@pytest.fixture
def harness(pg: PgFactory) -> Iterator[Harness]:
    settings = pg.settings(f"watchdog-{time.monotonic_ns()}")
    os.makedirs(run_dir(settings), exist_ok=True)  # where the fence records its arming
    h = Harness(settings)
    h.start_ha()
    yield h
    h.stop()


def test_a_fence_that_cannot_be_started_is_reported_at_start_and_after_every_arm(
    harness: Harness,
) -> None:
    harness.start_watchdog(python="/nonexistent/python3")
    [first] = harness.wait_statuses(1)
    assert not first.ok and "cannot start the fence" in first.detail, first
    assert "/nonexistent/python3" in first.detail
    harness.tell(ArmWatchdog(fire_at=time.monotonic() + FAR_S))
    harness.tell(ArmWatchdog(fire_at=time.monotonic() + FAR_S + 1))
    harness.tell(DisarmWatchdog())  # not an arm, no news: nothing to say
    assert [s.ok for s in harness.statuses()] == [False, False, False]


def test_a_program_that_exits_instead_of_fencing_is_reported_not_holding(
    harness: Harness,
) -> None:
    harness.start_watchdog(python="/usr/bin/true")  # starts fine, never answers
    [first] = harness.wait_statuses(1)
    assert not first.ok, first


def test_a_healthy_fence_is_reported_once_and_then_only_when_that_changes(
    harness: Harness,
) -> None:
    watchdog = harness.start_watchdog()
    [first] = harness.wait_statuses(1)
    assert first.ok, first
    fire_at = time.monotonic() + FAR_S
    harness.tell(ArmWatchdog(fire_at=fire_at))
    harness.tell(DisarmWatchdog())
    harness.tell(ArmWatchdog(fire_at=fire_at))
    assert len(harness.statuses()) == 1, "the HA actor is told only what is new to it"
    assert _recorded(harness.settings, fire_at)

    fence = watchdog.proxy().fence.get()
    os.kill(fence.pid, signal.SIGSTOP)  # a hung fence: alive, but takes nothing
    try:
        harness.tell(ArmWatchdog(fire_at=fire_at + 1))
        hung = harness.wait_statuses(2)[-1]
        assert not hung.ok and "did not answer" in hung.detail, hung
    finally:
        os.kill(fence.pid, signal.SIGCONT)
    wait_for(lambda: _recorded(harness.settings, fire_at + 1), 10, "the fence to wake")
    harness.tell(ArmWatchdog(fire_at=fire_at + 2))
    assert harness.wait_statuses(3)[-1].ok


def test_a_restarted_ha_actor_is_told_again(harness: Harness) -> None:
    harness.start_watchdog()
    assert harness.wait_statuses(1)[0].ok
    harness.refs.pop().stop()  # the HA actor's restart: a new one under the same name
    harness.start_ha()
    harness.tell(ArmWatchdog(fire_at=time.monotonic() + FAR_S))
    assert [s.ok for s in harness.wait_statuses(1)] == [True]


def test_the_fence_inherits_no_password_from_the_agent(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent's PGACTOR_* passwords are for the agent: no child may see them in
    /proc/<pid>/environ, the fence (the one child started outside oscommand) included."""
    monkeypatch.setenv("PGACTOR_POSTGRESQL_AUTHENTICATION_SUPERUSER_PASSWORD", "s3cret-x")
    monkeypatch.setenv("PGPASSWORD", "s3cret-y")
    harness.start_watchdog()
    harness.wait_statuses(1)
    fences = [
        int(pid)
        for pid in os.listdir("/proc")
        if pid.isdigit() and _fence_of(int(pid), harness.settings.data_dir)
    ]
    assert fences, "no fence process found"
    for pid in fences:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            environ = fh.read()
        assert b"s3cret" not in environ and b"PGACTOR_" not in environ


def _fence_of(pid: int, data_dir: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return False
    return b"actors.postgres.fence" in argv and data_dir.encode() in argv
