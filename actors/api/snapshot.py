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

import dataclasses
import threading
import time
from collections.abc import Callable

from messages.admin import NodeStatus


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
