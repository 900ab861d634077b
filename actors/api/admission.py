"""Which connection gets a thread now, which waits, which is turned away: a gate that never blocks.

The REST API serves each connection in a thread of its own, and its accept
loop must never wait for one to finish: a loop that waited for a free thread
is how 200 clients trickling bytes once kept ``/health`` from answering for
40 s.  So the loop asks this gate, which answers at once:

- ``RUN``: a thread starts on it now.  One client address has at most
  ``per_address`` connections in progress, all addresses together at most
  ``max_active``: a client that trickles bytes ties up its own address's share,
  and a probe from another address still gets a thread of its own at once.
- ``WAIT``: over its address's share (or the total), it queues without a
  thread, in arrival order.  When a connection finishes, its thread takes the
  next waiting connection whose address has room, round robin over addresses,
  so a burst of checks from one address is served in full, a share at a time.
- ``REFUSE``: its address's queue or the whole queue is full: closed at once.

Threads, sockets and memory stay bounded by ``max_active + max_waiting``.
Pure: the server calls it under its own lock, and tests drive it as a table.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Verdict(enum.Enum):
    RUN = "run"
    WAIT = "wait"
    REFUSE = "refuse"


class Admission(Generic[T]):
    """Counts connections in progress and keeps the waiting ones, per client address."""

    def __init__(
        self, *, per_address: int, max_active: int, max_waiting: int, max_waiting_per_address: int
    ) -> None:
        self.per_address = per_address
        self.max_active = max_active
        self.max_waiting = max_waiting
        self.max_waiting_per_address = max_waiting_per_address
        self._active: collections.Counter[Hashable] = collections.Counter()
        self._waiting: dict[Hashable, collections.deque[T]] = {}
        """Addresses in round-robin order: the next to be served first."""
        self.active = 0
        self.waiting = 0

    def in_progress(self, address: Hashable) -> int:
        return self._active[address]

    def arrive(self, address: Hashable, item: T) -> Verdict:
        """A new connection: run it now (its slot is taken), queue it, or refuse it."""
        if self._has_room(address) and address not in self._waiting:
            self._take(address)
            return Verdict.RUN
        queue = self._waiting.get(address)
        if self.waiting >= self.max_waiting or (
            queue is not None and len(queue) >= self.max_waiting_per_address
        ):
            return Verdict.REFUSE
        self._waiting.setdefault(address, collections.deque()).append(item)
        self.waiting += 1
        return Verdict.WAIT

    def finish(self, address: Hashable) -> tuple[Hashable, T] | None:
        """A connection of `address` ended: the waiting one to run next in its thread, if any.

        The returned connection's slot is already taken.
        """
        self._active[address] -= 1
        if self._active[address] <= 0:
            del self._active[address]
        self.active -= 1
        for candidate in list(self._waiting):
            if self._has_room(candidate):
                return candidate, self._pop(candidate)
        return None

    def drain(self) -> list[T]:
        """Every waiting connection, removed (the server closes them when it stops)."""
        items = [item for queue in self._waiting.values() for item in queue]
        self._waiting.clear()
        self.waiting = 0
        return items

    def _has_room(self, address: Hashable) -> bool:
        return self.active < self.max_active and self._active[address] < self.per_address

    def _take(self, address: Hashable) -> None:
        self._active[address] += 1
        self.active += 1

    def _pop(self, address: Hashable) -> T:
        queue = self._waiting.pop(address)  # re-inserted last: round robin
        item = queue.popleft()
        if queue:
            self._waiting[address] = queue
        self.waiting -= 1
        self._take(address)
        return item
