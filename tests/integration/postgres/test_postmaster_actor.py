"""PostmasterActor on a real primary: a standby that connects or leaves is reported at
once, not at the next periodic status.

The periodic status is set to ten minutes, so every status the recorder sees
after the first came from the actor noticing a WAL sender appear or vanish.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from actors.postgres.actor import PostmasterActor
from actors.postgres.bootstrap import create_replica
from actors.postgres.control import Postmaster
from actors.runtime.actor import BaseActor, handles
from actors.runtime.context import Runtime
from actors.runtime.timers import Scheduler
from messages.base import ActorName
from messages.cluster import Role
from messages.config import DynamicConfig, StopMode, SyncMode
from messages.dcs import DcsConfig
from messages.ha import ActionDone
from messages.postgres import PostgresStatus
from node.tree import new_registry

from .conftest import SCOPE, PgFactory, upstream_of, wait_for

pytestmark = pytest.mark.integration

HA = ActorName("ha")
_PAIRS = itertools.count()


class Recorder(BaseActor):
    """Stands in for the HA actor: keeps every status the postmaster actor sends."""

    def __init__(self, *, seen: list[PostgresStatus], lock: threading.Lock, **base: Any) -> None:
        super().__init__(**base)
        self.seen, self.lock = seen, lock

    @handles(PostgresStatus)
    def handle_status(self, msg: PostgresStatus) -> None:
        with self.lock:
            self.seen.append(msg)

    @handles(ActionDone)
    def handle_done(self, msg: ActionDone) -> None:
        pass


@pytest.fixture
def primary_and_clone(pg: PgFactory) -> Iterator[tuple[Postmaster, Postmaster]]:
    tag = next(_PAIRS)  # one pair of data directories per test
    primary = pg.bootstrap_primary(f"ws-primary{tag}")
    settings = pg.settings(f"ws-replica{tag}")
    made = create_replica(settings, [upstream_of(primary)], name=f"ws-replica{tag}", scope=SCOPE)
    assert made.ok, made.detail
    replica = pg.postmaster(settings, f"ws-replica{tag}")
    yield primary, replica
    for pm in (replica, primary):
        pm.stop(StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=10)


def _pid(pm: Postmaster) -> int:
    pid = pm.postmaster_pid()
    assert pid is not None, "the primary runs"
    return pid


@dataclasses.dataclass
class Watched:
    """A PostmasterActor at a ten-minute full status, and what its fake HA heard."""

    actor: Any
    runtime: Runtime
    seen: list[PostgresStatus]
    lock: threading.Lock

    def last(self) -> PostgresStatus | None:
        with self.lock:
            return self.seen[-1] if self.seen else None

    def pace(self) -> float:
        return float(self.actor.proxy().pace.get())


@contextlib.contextmanager
def watching(pm: Postmaster, member: str) -> Iterator[Watched]:
    scheduler = Scheduler()
    scheduler.start()
    runtime = Runtime(registry=new_registry(), scheduler=scheduler)
    seen: list[PostgresStatus] = []
    lock = threading.Lock()
    recorder = Recorder.start(name=HA, runtime=runtime, seen=seen, lock=lock)
    actor = PostmasterActor.start(
        name=ActorName("postmaster"),
        runtime=runtime,
        settings=pm.settings,
        member=member,
        scope=SCOPE,
        status_interval_s=600.0,
    )
    try:
        yield Watched(actor, runtime, seen, lock)
    finally:
        actor.stop()
        recorder.stop()
        scheduler.stop()


def test_a_standby_connecting_and_leaving_is_reported_at_once(
    pg: PgFactory, primary_and_clone: tuple[Postmaster, Postmaster]
) -> None:
    primary, replica = primary_and_clone

    def streams(w: Watched) -> bool:
        status = w.last()
        return status is not None and any(r.state == "streaming" for r in status.replication)

    with watching(primary, "ws-primary") as w:
        first = wait_for(w.last, 10, "the first status")
        assert first.role is Role.PRIMARY and first.replication == ()
        assert replica.start(Role.REPLICA, upstream_of(primary), 30).ok
        wait_for(lambda: streams(w), 10, "a status naming the streaming standby")
        assert primary.walsenders(_pid(primary)), "the primary has a WAL sender"
        replica.stop(StopMode.FAST, checkpoint_first=False, timeout_s=10)
        wait_for(lambda: not w.last().replication, 10, "a status without the standby")  # type: ignore[union-attr]
        assert primary.walsenders(_pid(primary)) == frozenset()


def test_a_replicas_killed_postmaster_is_reported_at_once_without_polling(
    pg: PgFactory, primary_and_clone: tuple[Postmaster, Postmaster]
) -> None:
    """An idle replica's actor ticks only for the (here ten-minute) full status; the
    postmaster's end still arrives at once, through its pidfd."""
    primary, replica = primary_and_clone
    assert replica.start(Role.REPLICA, upstream_of(primary), 30).ok
    with watching(replica, "ws-replica") as w:
        first = wait_for(w.last, 10, "the first status")
        assert first.role is Role.REPLICA
        assert w.pace() == 600.0, "an idle replica's actor polls"
        os.kill(_pid(replica), signal.SIGKILL)
        wait_for(lambda: w.last().state is not first.state, 2, "the killed postmaster reported")  # type: ignore[union-attr]


def test_an_async_primary_stops_watching_its_wal_senders_closely(
    pg: PgFactory, primary_and_clone: tuple[Postmaster, Postmaster]
) -> None:
    """Only synchronous mode needs a standby's coming and going at once; in async mode
    the primary's actor ticks only for the full status, as a replica's does."""
    primary, _ = primary_and_clone
    with watching(primary, "ws-primary") as w:
        wait_for(lambda: w.pace() == 0.5, 10, "a primary watching closely")
        for mode, pace in ((SyncMode.OFF, 600.0), (SyncMode.ON, 0.5)):
            config = DynamicConfig(synchronous_mode=mode)
            w.runtime.registry.tell(ActorName("postmaster"), DcsConfig(config=config))
            wait_for(lambda p=pace: w.pace() == p, 5, f"pace {pace} in {mode}")  # type: ignore[misc]
