"""Timers: ticks delivered to an actor's mailbox, so no actor sleeps.

One scheduler thread per node keeps a heap of due times on the monotonic
clock.  When a timer is due it *tells* the actor a message by name; the actor
handles the tick like any other message, in its own thread.  Periodic timers
reschedule from their due time, not from when they ran, so they do not drift.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from actors.runtime.registry import Registry
from actors.runtime.thread_name import name_os_thread
from messages.base import ActorName, Message


class TimerHandle:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


_Entry = tuple[float, int, TimerHandle, Callable[[], None], float | None]


class Scheduler:
    """Runs callbacks at monotonic deadlines in one daemon thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def call_later(
        self, delay_s: float, fn: Callable[[], None], every_s: float | None = None
    ) -> TimerHandle:
        handle = TimerHandle()
        self._push(self._clock() + max(0.0, delay_s), handle, fn, every_s)
        return handle

    def _push(
        self, due: float, handle: TimerHandle, fn: Callable[[], None], every: float | None
    ) -> None:
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), handle, fn, every))
            if self._heap[0][2] is handle:
                # Only a new earliest deadline shortens the scheduler's wait: waking it
                # for a later one (every timer an actor re-arms) only cost a wake-up.
                self._cond.notify()

    def _run(self) -> None:
        name_os_thread()
        while True:
            entry = self._next_due()
            if entry is None:
                return
            due, _, handle, fn, every = entry
            if handle.cancelled:
                continue
            fn()
            if every is not None:
                self._push(max(due + every, self._clock()), handle, fn, every)

    def _next_due(self) -> _Entry | None:
        with self._cond:
            while not self._stopped:
                if self._heap and self._heap[0][0] <= self._clock():
                    return heapq.heappop(self._heap)
                timeout = self._heap[0][0] - self._clock() if self._heap else None
                self._cond.wait(timeout)
            return None


class Timers:
    """An actor's named timers: setting a name again replaces the earlier timer."""

    def __init__(self, scheduler: Scheduler, registry: Registry, owner: ActorName) -> None:
        self._scheduler = scheduler
        self._registry = registry
        self._owner = owner
        self._handles: dict[str, TimerHandle] = {}

    def once(self, name: str, delay_s: float, msg: Message) -> None:
        self._set(name, delay_s, msg, None)

    def every(
        self, name: str, interval_s: float, msg: Message, first_s: float | None = None
    ) -> None:
        self._set(name, interval_s if first_s is None else first_s, msg, interval_s)

    def cancel(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for name in list(self._handles):
            self.cancel(name)

    def _set(self, name: str, delay_s: float, msg: Message, every: float | None) -> None:
        self.cancel(name)
        owner, registry = self._owner, self._registry

        def fire() -> None:
            registry.tell(owner, msg)

        self._handles[name] = self._scheduler.call_later(delay_s, fire, every)
