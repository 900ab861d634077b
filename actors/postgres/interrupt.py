"""How a stop cuts a running action short.

The PostmasterActor runs a start, promote, restart or follow in a worker
thread.  A StopPostgres that arrives meanwhile (the lease is ending) must not
wait behind it: it *fires* the action's :class:`Interrupt`, and every wait of
that action (for readiness, for promotion, for a postmaster to exit) ends at
its next poll.  A blocking SQL statement is not woken by the flag; the stop
itself ends it, since the server it waits on goes down.

The one step that must never happen after a stop began is starting a new
postmaster: :meth:`Interrupt.unless_fired` holds :meth:`Interrupt.fire` off
while the action spawns, so a spawn either happened before the stop (and the
stop sees the child) or not at all.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

INTERRUPTED = "interrupted by a stop"


class Interrupt:
    """Set once, by another thread; seen by every wait of one action."""

    __slots__ = ("_event", "_lock")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()

    def fire(self) -> None:
        """Any thread: end the action's waits; waits for a spawn in progress (milliseconds)."""
        with self._lock:
            self._event.set()

    @property
    def fired(self) -> bool:
        return self._event.is_set()

    def sleep(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True when fired (the caller stops waiting)."""
        return self._event.wait(seconds)

    @contextlib.contextmanager
    def unless_fired(self) -> Iterator[bool]:
        """Hold :meth:`fire` off for the body; yields False when it already fired."""
        with self._lock:
            yield not self._event.is_set()
