"""The simulator's time: one priority queue of events in true (simulated) seconds.

Every thing that happens -- a message reaching an actor, a request reaching
the store, PostgreSQL finishing a promotion, a client's write, a fault --
is an event at a float time.  Events at the same time run in the order they
were scheduled, so a run is deterministic for a seed.  Time jumps from event
to event: an idle cluster costs nothing between its timers, and a timing
margin is as fine as the float that measures it (no tick hides it).

Nodes never read this time: each has its own clock (clock.py) running at its
own rate from its own origin, as monotonic clocks of different hosts do.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

Event = tuple[float, int, Callable[..., Any], tuple[Any, ...]]


class Loop:
    __slots__ = ("after_event", "heap", "seq", "t")

    def __init__(self) -> None:
        self.t = 0.0
        self.seq = 0
        self.heap: list[Event] = []
        self.after_event: Callable[[], None] = _nothing
        """Called after every event (the world checks its invariants there)."""

    def at(self, when: float, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn(*args) at `when` (never in the past: then at once, after what is due now)."""
        self.seq += 1
        heapq.heappush(self.heap, (when if when > self.t else self.t, self.seq, fn, args))

    def run_until(self, until: float, stop: Callable[[], bool] | None = None) -> bool:
        """Run events up to `until`; True if `stop()` became true after some event."""
        heap, pop, after = self.heap, heapq.heappop, self.after_event
        while heap and heap[0][0] <= until:
            when, _, fn, args = pop(heap)
            self.t = when
            fn(*args)
            after()
            if stop is not None and stop():
                return True
        self.t = max(self.t, until)
        return False


def _nothing() -> None:
    return None
