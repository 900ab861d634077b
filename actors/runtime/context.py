"""The runtime: what every actor of one node shares, handed over as one record.

Each node has one registry (who is who, who hears which topic), one
scheduler thread (timers), one monotonic clock (leases, deadlines, ages:
safety rule 2) and one wall clock (only for what an operator schedules or
reads).  The node builds a :class:`Runtime` once and the supervisor gives
the same record to every child it starts or restarts, so no actor can be
wired to a clock or a registry its neighbours do not use, and a test swaps
a clock for every actor in one place.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from actors.runtime.registry import Registry
from actors.runtime.timers import Scheduler, Timers
from messages.base import ActorName

Clock = Callable[[], float]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Runtime:
    """The node's registry, scheduler and clocks; frozen, shared by every actor."""

    registry: Registry
    scheduler: Scheduler | None = None
    """None only where no actor sets a timer (small tests): see :meth:`timers`.  Timers
    wait in real time whatever `clock` says: the scheduler keeps its own clock."""
    clock: Clock = time.monotonic
    """Monotonic seconds: every lease, deadline and age is measured on it.  Fake only in
    tests: the fence process reads the machine's CLOCK_MONOTONIC for the deadlines it gets."""
    wall: Clock = time.time
    """Epoch seconds: only for what humans schedule or read, never compared across hosts."""

    def timers(self, owner: ActorName) -> Timers:
        """`owner`'s named timers; a clear error at construction when there is no scheduler."""
        if self.scheduler is None:
            raise ValueError(f"actor {owner} sets timers, but its runtime has no scheduler")
        return Timers(self.scheduler, self.registry, owner)
