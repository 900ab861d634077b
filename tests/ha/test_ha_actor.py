"""The HA actor as a shell: real pykka actors, small recorders for the actors it talks to."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from actors.ha.actor import HaActor, Identity
from actors.runtime import names
from actors.runtime.actor import ask
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from actors.runtime.timers import Scheduler
from messages.admin import NodeStatus
from messages.base import MemberName
from messages.cluster import ClusterView, LeaderRecord, MemberStatus, PgState, Role
from messages.codec import decode
from messages.config import DynamicConfig
from messages.dcs import DcsView
from messages.postgres import PostgresStatus
from messages.runtime import Ping

ME = MemberName("node1")
WINDOW_S = 1.0


class Counter(pykka.ThreadingActor):
    """Stands in for the API actor: counts the NodeStatus the HA actor sends after each cycle."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.statuses: list[float] = []

    def on_receive(self, raw: Any) -> Any:
        if isinstance(decode(raw) if isinstance(raw, bytes) else raw, NodeStatus):
            with self.lock:
                self.statuses.append(time.monotonic())
        return None


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    scheduler = Scheduler()
    scheduler.start()
    yield Runtime(registry=Registry(), scheduler=scheduler)
    pykka.ActorRegistry.stop_all()
    scheduler.stop()


def start_ha(runtime: Runtime) -> Any:
    counter = Counter.start()
    runtime.registry.register(names.API, counter)
    HaActor.start(
        name=names.HA,
        runtime=runtime,
        identity=Identity(member=ME, scope="demo", conn_host="127.0.0.1", conn_port=5432),
        bootstrap_config=DynamicConfig(),
    )
    return counter


def cycles_in(counter: Any, seconds: float) -> int:
    began = time.monotonic()
    time.sleep(seconds)  # the window cycles are counted in, not a wait for anything
    stamps: list[float] = counter.proxy().statuses.get(timeout=5)
    return sum(1 for t in stamps if t >= began)


def test_a_paused_leader_past_its_lease_waits_for_events_instead_of_spinning(
    runtime: Runtime,
) -> None:
    """The decision's deadline lay in the past, and the actor re-armed a 10 ms timer
    for it every cycle: 75-85 cycles a second in pause past the lease."""
    counter = start_ha(runtime)
    registry = runtime.registry
    paused = DynamicConfig(ttl_s=10, loop_wait_s=2, retry_timeout_s=3, pause=True)
    long_ago = time.monotonic() - 100
    view = ClusterView(
        initialize="1",
        config=paused,
        leader=LeaderRecord(name=ME, ttl_s=10, observed_change_at=long_ago),
        members=(MemberStatus(name=ME),),
    )
    registry.tell(names.HA, DcsView(view=view))
    registry.tell(names.HA, PostgresStatus(state=PgState.RUNNING, role=Role.PRIMARY))
    ask(registry, names.HA, Ping(), timeout_s=5)
    assert cycles_in(counter, WINDOW_S) <= 3
