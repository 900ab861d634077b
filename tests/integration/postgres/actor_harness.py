"""A PostmasterActor beside fake "ha" and "leader_lock" actors that record what it says.

The fakes keep every message in one :class:`Inbox`; tests wait on it with a
deadline.  :func:`running_actor` starts the lot and stops it, whatever happens.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from actors.postgres.actor import BootstrapActor, PostmasterActor
from actors.runtime.actor import BaseActor, handles
from actors.runtime.context import Runtime
from actors.runtime.timers import Scheduler
from messages.base import ActorName, Message
from messages.codec import encode
from messages.config import PostgresSettings
from messages.dcs import ReleaseLock
from messages.ha import ActionDone, ActionKind
from messages.postgres import PostgresStatus, PrimaryProbed
from node.tree import new_registry

from .conftest import SCOPE

M = TypeVar("M", bound=Message)


class Inbox:
    """Every message the fakes received, in order, with when it arrived."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[tuple[float, Message]] = []

    def put(self, msg: Message) -> None:
        with self._cond:
            self._items.append((time.monotonic(), msg))
            self._cond.notify_all()

    def all(self, kind: type[M]) -> list[M]:
        with self._cond:
            return [m for _, m in self._items if isinstance(m, kind)]

    def timed(self) -> list[tuple[float, Message]]:
        with self._cond:
            return list(self._items)

    def wait(self, kind: type[M], check: Callable[[M], bool], timeout_s: float, what: str) -> M:
        """The first message of ``kind`` passing ``check`` (already received or to come)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for _, msg in self._items:
                    if isinstance(msg, kind) and check(msg):
                        return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
                self._cond.wait(left)

    def done(self, kind: ActionKind, timeout_s: float) -> ActionDone:
        return self.wait(ActionDone, lambda d: d.kind is kind, timeout_s, f"ActionDone({kind})")


class Recorder(BaseActor):
    """Stands in for the HA and the leader-lock actors."""

    def __init__(self, *, inbox: Inbox, **base: Any) -> None:
        super().__init__(**base)
        self.inbox = inbox

    @handles(PostgresStatus, ActionDone, PrimaryProbed, ReleaseLock)
    def handle_any(self, msg: Message) -> None:
        self.inbox.put(msg)


@contextlib.contextmanager
def _peers() -> Iterator[tuple[Runtime, Inbox]]:
    inbox = Inbox()
    scheduler = Scheduler()
    scheduler.start()
    runtime = Runtime(registry=new_registry(), scheduler=scheduler)
    fakes = [
        Recorder.start(name=ActorName(name), runtime=runtime, inbox=inbox)
        for name in ("ha", "leader_lock")
    ]
    try:
        yield runtime, inbox
    finally:
        for fake in fakes:
            fake.stop()
        scheduler.stop()


@contextlib.contextmanager
def running_bootstrap(
    settings: PostgresSettings, member: str, **kwargs: Any
) -> Iterator[tuple[Any, Inbox]]:
    """A started BootstrapActor (its ref) and the inbox of its fake HA actor."""
    with _peers() as (runtime, inbox):
        actor = BootstrapActor.start(
            name=ActorName("bootstrap"),
            runtime=runtime,
            settings=settings,
            member=member,
            scope=SCOPE,
            **kwargs,
        )
        try:
            yield actor, inbox
        finally:
            actor.stop(timeout=60)


@contextlib.contextmanager
def running_actor(
    settings: PostgresSettings, member: str, **kwargs: Any
) -> Iterator[tuple[Any, Inbox]]:
    """A started PostmasterActor (its ref) and the inbox of its fake peers."""
    with _peers() as (runtime, inbox):
        actor = PostmasterActor.start(
            name=ActorName("postmaster"),
            runtime=runtime,
            settings=settings,
            member=member,
            scope=SCOPE,
            **kwargs,
        )
        try:
            yield actor, inbox
        finally:
            with contextlib.suppress(Exception):
                actor.stop(timeout=60)


def tell(actor: Any, msg: Message) -> None:
    """Deliver ``msg`` as the other actors do: encoded."""
    actor.tell(encode(msg))
