"""What the HTTP threads know of this member: the latest NodeStatus and its age.

The HA actor pushes a full :class:`NodeStatus` every loop; the API actor drops
it into a :class:`StatusBox`, and every HTTP request reads one immutable
:class:`Snapshot` from the box under a short lock.  A request therefore never
waits on an actor's mailbox and never sees half of one status and half of the
next.  The box's clock starts when it is made, so before the first status
arrives the liveness check still has a grace period instead of failing at
once (a Kubernetes liveness probe must not kill a node that is just booting).
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from messages.admin import NodeStatus

T = TypeVar("T")

RECENT = 32
"""Statuses kept for waiters, newest last: more than a switchover publishes in its wait."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """One consistent reading of the box, taken at `wall_time`."""

    scope: str
    status: NodeStatus | None
    """None until the HA actor has pushed its first status."""
    age_s: float
    """Seconds since the last status arrived (since the box was made, before any)."""
    liveness_timeout_s: float
    dcs_last_seen: int | None
    """Epoch seconds of the last status that reported the DCS reachable."""
    wall_time: float
    """Epoch seconds when read: only for an operator's scheduled_at."""


class StatusBox:
    """Thread-safe holder of the latest status: written by the actor, read by HTTP threads."""

    def __init__(
        self,
        *,
        scope: str,
        liveness_timeout_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._scope = scope
        self._liveness_timeout_s = liveness_timeout_s
        self._monotonic = monotonic
        self._wall = wall
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._seq = 0
        self._recent: collections.deque[tuple[int, NodeStatus]] = collections.deque(maxlen=RECENT)
        self._status: NodeStatus | None = None
        self._received_at = monotonic()
        self._dcs_last_seen: int | None = None

    def put(self, status: NodeStatus) -> None:
        received_at, wall = self._monotonic(), self._wall()
        with self._lock:
            self._status = status
            self._received_at = received_at
            if status.dcs_reachable:
                self._dcs_last_seen = int(wall)
            self._seq += 1
            self._recent.append((self._seq, status))
            self._changed.notify_all()

    def mark(self) -> int:
        """Where the statuses put from now on begin, for :meth:`wait_for`."""
        with self._lock:
            return self._seq

    def wait_for(
        self, judge: Callable[[NodeStatus], T | None], timeout_s: float, *, since: int
    ) -> T | None:
        """The first verdict `judge` gives on the statuses put after `since` (the newest
        one before it too), each in order, or None after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            judged = since - 1
            while True:
                for seq, status in tuple(self._recent):
                    if seq > judged:
                        judged = seq
                        verdict = judge(status)
                        if verdict is not None:
                            return verdict
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def read(self) -> Snapshot:
        now, wall = self._monotonic(), self._wall()
        with self._lock:
            status, received_at, dcs_last_seen = (
                self._status,
                self._received_at,
                self._dcs_last_seen,
            )
        return Snapshot(
            scope=self._scope,
            status=status,
            age_s=max(0.0, now - received_at),
            liveness_timeout_s=self._liveness_timeout_s,
            dcs_last_seen=dcs_last_seen,
            wall_time=wall,
        )
