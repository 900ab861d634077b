"""PostmasterActor on a real primary: a standby that connects or leaves is reported at
once, not at the next periodic status.

The periodic status is set to ten minutes, so every status the recorder sees
after the first came from the actor noticing a WAL sender appear or vanish.
"""

from __future__ import annotations

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
from messages.config import StopMode
from messages.ha import ActionDone
from messages.postgres import PostgresStatus
from node.tree import new_registry

from .conftest import SCOPE, PgFactory, upstream_of, wait_for

pytestmark = pytest.mark.integration

HA = ActorName("ha")


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
    primary = pg.bootstrap_primary("ws-primary")
    settings = pg.settings("ws-replica")
    made = create_replica(settings, [upstream_of(primary)], name="ws-replica", scope=SCOPE)
    assert made.ok, made.detail
    replica = pg.postmaster(settings, "ws-replica")
    yield primary, replica
    for pm in (replica, primary):
        pm.stop(StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=10)


def _pid(pm: Postmaster) -> int:
    pid = pm.postmaster_pid()
    assert pid is not None, "the primary runs"
    return pid


def test_a_standby_connecting_and_leaving_is_reported_at_once(
    pg: PgFactory, primary_and_clone: tuple[Postmaster, Postmaster]
) -> None:
    primary, replica = primary_and_clone
    seen: list[PostgresStatus] = []
    lock = threading.Lock()
    scheduler = Scheduler()
    scheduler.start()
    runtime = Runtime(registry=new_registry(), scheduler=scheduler)
    recorder = Recorder.start(name=HA, runtime=runtime, seen=seen, lock=lock)
    actor = PostmasterActor.start(
        name=ActorName("postmaster"),
        runtime=runtime,
        settings=primary.settings,
        member="ws-primary",
        scope=SCOPE,
        status_interval_s=600.0,
    )

    def last() -> PostgresStatus | None:
        with lock:
            return seen[-1] if seen else None

    def streams() -> bool:
        status = last()
        return status is not None and any(r.state == "streaming" for r in status.replication)

    try:
        first = wait_for(last, 10, "the first status")
        assert first.role is Role.PRIMARY and first.replication == ()
        assert replica.start(Role.REPLICA, upstream_of(primary), 30).ok
        wait_for(streams, 10, "a status naming the streaming standby")
        assert primary.walsenders(_pid(primary)), "the primary has a WAL sender"
        replica.stop(StopMode.FAST, checkpoint_first=False, timeout_s=10)
        wait_for(lambda: not last().replication, 10, "a status without the standby")  # type: ignore[union-attr]
        assert primary.walsenders(_pid(primary)) == frozenset()
    finally:
        actor.stop()
        recorder.stop()
        scheduler.stop()
