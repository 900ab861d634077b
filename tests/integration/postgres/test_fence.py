"""The fence process and WatchdogActor on a real primary: PostgreSQL is killed when the
agent stops re-arming in time, and only then."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from actors.postgres import procfs
from actors.postgres.bootstrap import create_replica
from actors.postgres.control import Postmaster
from actors.postgres.oscommand import run_dir
from actors.postgres.watchdog import WatchdogActor
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from messages.base import ActorName
from messages.cluster import Role
from messages.config import StopMode
from messages.postgres import ArmWatchdog, DisarmWatchdog

from .conftest import SCOPE, PgFactory, sql, upstream_of, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def server(pg: PgFactory) -> Iterator[Postmaster]:
    pm = pg.bootstrap_primary(f"fenced-{time.monotonic_ns()}")
    yield pm
    pm.stop(StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=10)


def _fence(pm: Postmaster) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "actors.postgres.fence",
        pm.settings.data_dir,
        run_dir(pm.settings),
    ]
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)


def _tell(fence: subprocess.Popen[bytes], *lines: str) -> None:
    assert fence.stdin is not None
    fence.stdin.write("".join(f"{line}\n" for line in lines).encode())
    fence.stdin.flush()


def _gone(pm: Postmaster) -> bool:
    return not pm.is_alive() and not procfs.processes_in_dir(pm.settings.data_dir)


def test_an_armed_fence_kills_the_server_and_its_backends_at_the_time(server: Postmaster) -> None:
    fence = _fence(server)
    try:
        _tell(fence, f"arm {time.monotonic() + 0.3}")
        wait_for(lambda: _gone(server), 10, "the fence to kill PostgreSQL")
        assert fence.poll() is None, "the fence keeps running for an agent that may wake up"
    finally:
        _tell(fence, "quit")
        assert fence.wait(10) == 0


def test_a_disarmed_fence_kills_nothing(server: Postmaster) -> None:
    fence = _fence(server)
    # one write: the fence reads all three lines before it looks at the clock again
    _tell(fence, f"arm {time.monotonic() + 0.2}", "disarm", "quit")
    assert fence.wait(10) == 0
    assert server.is_alive()


def test_an_armed_fence_kills_a_standby_too(pg: PgFactory, server: Postmaster) -> None:
    """A lock holder arms before it promotes: a standby under an armed fence may be a
    promotion away from taking writes (its agent frozen mid-promote), so it dies too."""
    settings = pg.settings(f"fenced-standby-{time.monotonic_ns()}")
    made = create_replica(settings, [upstream_of(server)], name="fenced-standby", scope=SCOPE)
    assert made.ok, made.detail
    standby = pg.postmaster(settings, "fenced-standby")
    assert standby.start(Role.REPLICA, upstream_of(server), 30).ok
    try:
        assert os.path.exists(os.path.join(settings.data_dir, "standby.signal"))
        assert sql(settings, "SELECT pg_is_in_recovery()") == [(True,)]
        fence = _fence(standby)
        try:
            _tell(fence, f"arm {time.monotonic() + 0.3}")
            wait_for(lambda: _gone(standby), 10, "the fence to kill the standby")
            assert server.is_alive(), "only the fenced data directory's server is killed"
        finally:
            _tell(fence, "quit")
            assert fence.wait(10) == 0
    finally:
        standby.stop(StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=10)


def _record(pm: Postmaster) -> tuple[int, float | None] | None:
    try:
        with open(os.path.join(run_dir(pm.settings), "fence.json")) as fh:
            state = json.load(fh)
    except (OSError, ValueError):
        return None
    return state["pid"], state["fire_at"]


def test_after_its_agent_died_a_fence_still_fires_at_the_armed_time(server: Postmaster) -> None:
    fence = _fence(server)
    _tell(fence, f"arm {time.monotonic() + 0.5}")
    assert fence.stdin is not None
    fence.stdin.close()  # the agent is gone
    assert fence.wait(10) == 0
    assert _gone(server)


def test_a_fence_stands_down_for_the_restarted_agents_newer_one(server: Postmaster) -> None:
    old, new = _fence(server), _fence(server)
    try:
        _tell(old, f"arm {time.monotonic() + 1.0}")
        wait_for(lambda: (_record(server) or (0,))[0] == old.pid, 10, "the old fence's record")
        _tell(new, f"arm {time.monotonic() + 60}")  # the new agent renewed the lease
        wait_for(lambda: (_record(server) or (0,))[0] == new.pid, 10, "the new fence's record")
        assert old.stdin is not None
        old.stdin.close()
        assert old.wait(10) == 0  # exits once its own time has come and gone
        assert server.is_alive()
    finally:
        _tell(new, "quit")
        new.wait(10)


def test_the_actor_arms_disarms_and_replaces_a_fence_that_died(server: Postmaster) -> None:
    registry = Registry()
    ref = WatchdogActor.start(
        name=ActorName("watchdog"), runtime=Runtime(registry=registry), settings=server.settings
    )
    try:
        actor = ref.proxy()
        first = wait_for(lambda: actor.fence.get(), 10, "the fence process")
        first.proc.kill()
        first.proc.wait()
        registry.tell(ActorName("watchdog"), DisarmWatchdog())
        wait_for(lambda: actor.fence.get() is not first, 10, "a new fence")
        registry.tell(ActorName("watchdog"), ArmWatchdog(fire_at=time.monotonic() + 0.3))
        wait_for(lambda: _gone(server), 10, "the new fence to kill PostgreSQL")
    finally:
        ref.stop()
