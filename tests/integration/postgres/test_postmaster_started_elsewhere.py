"""A postmaster another actor started (the BootstrapActor's initdb) is watched from the
status that reports it, not from the next periodic tick.

The BootstrapActor starts a new cluster's first server; the HA actor then asks the
PostmasterActor for a Resend.  The status it sent named the new primary, but its
pidfd watch stayed on "nothing" until its next tick, up to a full status (5 s) away,
and an async primary ticks only that often: a crash in those seconds was seen late
(issue 16: one leader crash under a CPU hog took 2.6 s, 2.3 s of them unseen).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from actors.postgres.actor import PostmasterActor
from actors.postgres.control import Postmaster
from actors.runtime.actor import BaseActor, handles
from actors.runtime.context import Runtime
from actors.runtime.timers import Scheduler
from messages.base import ActorName
from messages.cluster import PgState, Role
from messages.config import DynamicConfig, StopMode, SyncMode
from messages.dcs import DcsConfig
from messages.ha import ActionDone
from messages.postgres import PostgresStatus
from messages.runtime import Resend
from node.tree import new_registry

from .actor_harness import Inbox
from .conftest import SCOPE, PgFactory, wait_for

pytestmark = pytest.mark.integration

POSTMASTER = ActorName("postmaster")


class Recorder(BaseActor):
    """Stands in for the HA actor."""

    def __init__(self, *, inbox: Inbox, **base: Any) -> None:
        super().__init__(**base)
        self.inbox = inbox

    @handles(PostgresStatus, ActionDone)
    def handle_any(self, msg: Any) -> None:
        self.inbox.put(msg)


@contextlib.contextmanager
def actor_of(pm: Postmaster) -> Iterator[tuple[Any, Runtime, Inbox]]:
    """A PostmasterActor on `pm`'s data directory, its full status ten minutes apart."""
    scheduler = Scheduler()
    scheduler.start()
    runtime = Runtime(registry=new_registry(), scheduler=scheduler)
    inbox = Inbox()
    recorder = Recorder.start(name=ActorName("ha"), runtime=runtime, inbox=inbox)
    actor = PostmasterActor.start(
        name=POSTMASTER,
        runtime=runtime,
        settings=pm.settings,
        member=pm.name,
        scope=SCOPE,
        status_interval_s=600.0,
    )
    try:
        yield actor, runtime, inbox
    finally:
        actor.stop()
        recorder.stop()
        scheduler.stop()


def test_a_primary_started_by_another_actor_is_watched_from_its_first_status(
    pg: PgFactory,
) -> None:
    bootstrapper = pg.bootstrap_primary("elsewhere")  # stands in for the BootstrapActor
    assert bootstrapper.stop(StopMode.FAST, checkpoint_first=False, timeout_s=30).ok
    with actor_of(bootstrapper) as (actor, runtime, inbox):
        async_mode = DcsConfig(config=DynamicConfig(synchronous_mode=SyncMode.OFF))
        runtime.registry.tell(POSTMASTER, async_mode)
        wait_for(lambda: actor.proxy().pace.get() == 600.0, 10, "an idle actor")
        assert bootstrapper.start(Role.PRIMARY, None, 30).ok  # not through the actor
        runtime.registry.tell(POSTMASTER, Resend())  # as the HA actor asks after a bootstrap
        inbox.wait(PostgresStatus, lambda s: s.role is Role.PRIMARY, 10, "the primary reported")
        pid = bootstrapper.postmaster_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()

        def crash_seen() -> float | None:
            return next((t for t, m in inbox.timed() if _crashed(m) and t >= killed_at), None)

        seen_at = wait_for(crash_seen, 5, "the crash reported")
        assert seen_at - killed_at < 1.0, f"the crash was seen {seen_at - killed_at:.2f} s late"


def _crashed(msg: Any) -> bool:
    return isinstance(msg, PostgresStatus) and msg.state is PgState.CRASHED
