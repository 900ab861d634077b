"""The WatchdogActor shows the fence as metrics: armed or not and until when (what the
fence confirmed), and every firing, also one that happened while the agent was frozen
or dead.

A real WatchdogActor and a real MetricsActor, scraped as the REST API would; real
fence processes, over a real primary where one must fire.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.metrics import MetricsActor
from actors.postgres import procfs
from actors.postgres.control import Postmaster
from actors.postgres.fence import read_record
from actors.postgres.oscommand import run_dir
from actors.postgres.watchdog import WatchdogActor
from actors.runtime.actor import ask
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from messages.base import ActorName
from messages.config import PostgresSettings, StopMode
from messages.metrics import MetricsText, RenderMetrics
from messages.postgres import ArmWatchdog, DisarmWatchdog
from messages.runtime import Ping

from .conftest import PgFactory, wait_for

pytestmark = pytest.mark.integration

METRICS = ActorName("metrics")
WATCHDOG = ActorName("watchdog")
FAR_S = 600.0


class Agent:
    """The part of a node that matters here: a MetricsActor, and a WatchdogActor that
    may stop and start again beside it."""

    def __init__(self, settings: PostgresSettings) -> None:
        self.settings = settings
        self.registry = Registry()
        self.runtime = Runtime(registry=self.registry)
        self.metrics = MetricsActor.start(
            name=METRICS, runtime=self.runtime, scope="demo", member="pg1"
        )
        self.watchdog: Any = None

    def start_watchdog(self) -> None:
        self.watchdog = WatchdogActor.start(
            name=WATCHDOG, runtime=self.runtime, settings=self.settings
        )

    def stop_watchdog(self) -> None:
        self.watchdog.stop()
        self.watchdog = None

    def tell(self, msg: ArmWatchdog | DisarmWatchdog) -> None:
        self.registry.tell(WATCHDOG, msg)

    def scrape(self) -> dict[str, float]:
        """The fence's series, once the watchdog handled what it was told before."""
        if self.watchdog is not None:
            ask(self.registry, WATCHDOG, Ping(), timeout_s=10)
        text = ask(self.registry, METRICS, RenderMetrics(), timeout_s=10)
        assert isinstance(text, MetricsText)
        return {
            s.name: s.value
            for family in text_string_to_metric_families(text.text)
            for s in family.samples
            if s.name.startswith("pgactor_fence_") and not s.name.endswith("_created")
        }

    def stop(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
        self.metrics.stop()


@pytest.fixture
def agent(pg: PgFactory) -> Iterator[Agent]:
    settings = pg.settings(f"fence-metrics-{time.monotonic_ns()}")
    os.makedirs(run_dir(settings), exist_ok=True)
    a = Agent(settings)
    yield a
    a.stop()


def test_the_armed_deadline_is_exported_as_a_unix_time_and_goes_when_disarmed(
    agent: Agent,
) -> None:
    agent.start_watchdog()
    assert agent.scrape() == {"pgactor_fence_armed": 0, "pgactor_fence_fired_total": 0}
    agent.tell(ArmWatchdog(fire_at=time.monotonic() + FAR_S))
    armed = agent.scrape()
    assert armed["pgactor_fence_armed"] == 1
    assert abs(armed["pgactor_fence_fire_at_seconds"] - (time.time() + FAR_S)) < 5
    agent.tell(DisarmWatchdog())
    assert agent.scrape() == {"pgactor_fence_armed": 0, "pgactor_fence_fired_total": 0}


def test_a_fence_that_cannot_start_is_not_shown_armed(agent: Agent) -> None:
    agent.watchdog = WatchdogActor.start(
        name=WATCHDOG, runtime=agent.runtime, settings=agent.settings, python="/usr/bin/true"
    )
    agent.tell(ArmWatchdog(fire_at=time.monotonic() + FAR_S))
    got = agent.scrape()
    assert got["pgactor_fence_armed"] == 0 and "pgactor_fence_fire_at_seconds" not in got


@pytest.fixture
def server(pg: PgFactory) -> Iterator[Postmaster]:
    pm = pg.bootstrap_primary(f"fence-metrics-pg-{time.monotonic_ns()}")
    yield pm
    pm.stop(StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=10)


def _gone(pm: Postmaster) -> bool:
    return not pm.is_alive() and not procfs.processes_in_dir(pm.settings.data_dir)


def _fired(pm: Postmaster) -> int:
    record = read_record(run_dir(pm.settings))
    return 0 if record is None else record.fired


def test_a_firing_while_the_agent_was_dead_is_counted_once_it_runs_again(
    server: Postmaster,
) -> None:
    # The dead agent's fence: armed, then its agent gone (end of input); it fires.
    fence = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "actors.postgres.fence",
            server.settings.data_dir,
            run_dir(server.settings),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    assert fence.stdin is not None
    fence.stdin.write(f"arm {time.monotonic() + 0.3}\n".encode())
    fence.stdin.close()
    assert fence.wait(10) == 0
    assert _gone(server)

    agent = Agent(server.settings)  # the agent starts again
    try:
        agent.start_watchdog()
        assert agent.scrape()["pgactor_fence_fired_total"] == 1
        agent.stop_watchdog()  # the supervisor restarts the watchdog alone:
        agent.start_watchdog()  # the same firing is not counted again
        assert agent.scrape()["pgactor_fence_fired_total"] == 1
    finally:
        agent.stop()
    # Nor by the next agent process: its counter starts again from 0 (which
    # Prometheus takes for a restart) and adds only firings nobody counted.
    again = Agent(server.settings)
    try:
        again.start_watchdog()
        assert again.scrape()["pgactor_fence_fired_total"] == 0
    finally:
        again.stop()


def test_a_firing_while_the_agent_did_not_re_arm_is_counted_when_it_wakes(
    server: Postmaster,
) -> None:
    agent = Agent(server.settings)
    try:
        agent.start_watchdog()
        agent.tell(ArmWatchdog(fire_at=time.monotonic() + 0.3))
        assert agent.scrape()["pgactor_fence_armed"] == 1
        # the agent stalls past its deadline: the fence fires under it
        wait_for(lambda: _gone(server), 10, "the fence to kill PostgreSQL")
        wait_for(lambda: _fired(server) == 1, 10, "the fence's record of its firing")
        agent.tell(DisarmWatchdog())  # it wakes and carries on
        got = agent.scrape()
        assert got["pgactor_fence_fired_total"] == 1 and got["pgactor_fence_armed"] == 0
    finally:
        agent.stop()
