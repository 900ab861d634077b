"""Exponential backoff bounded by a deadline: how every DCS call retries.

A DCS call retries until ``retry_timeout_s`` has passed and then gives up with
DcsUnreachable, so the leader can still demote before its lease ends.  The
waits double from ``initial_s`` up to ``maximum_s`` and never run past the
deadline.  Pure: the caller supplies the clock readings.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(slots=True)
class Backoff:
    """The next wait, doubling from ``initial_s`` to ``maximum_s``."""

    initial_s: float = 0.05
    maximum_s: float = 1.0
    _next_s: float = dataclasses.field(default=0.0, init=False)

    def next_delay(self) -> float:
        delay = self._next_s or self.initial_s
        self._next_s = min(delay * 2, self.maximum_s)
        return min(delay, self.maximum_s)

    def reset(self) -> None:
        self._next_s = 0.0


@dataclasses.dataclass(slots=True)
class Deadline:
    """A point on the monotonic clock after which a call stops retrying."""

    at: float

    def remaining(self, now: float) -> float:
        return max(0.0, self.at - now)

    def wait_before_retry(self, backoff: Backoff, now: float) -> float | None:
        """How long to wait before the next try; None when no time is left for one."""
        remaining = self.remaining(now)
        if remaining <= 0:
            return None
        return min(backoff.next_delay(), remaining)
