"""Seeing the postmaster die at once without polling: a thread asleep on its pidfd.

A pidfd (Linux 5.3 and later) becomes readable when its process ends, whoever
its parent is, so the postmaster that pg_ctl started as a daemon can be
watched too.  The watching thread sleeps in ``select`` and costs nothing
until then; where pidfds are missing (an old kernel, a seccomp profile that
refuses the call) :meth:`DeathWatch.watch` says so and the actor keeps
polling instead.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from collections.abc import Callable


class DeathWatch:
    """Calls ``on_death(pid)`` once, from its own thread, when the watched process ends."""

    def __init__(self, on_death: Callable[[int], None], name: str = "deathwatch") -> None:
        self._on_death = on_death
        self._name = name
        self._pid: int | None = None
        self._cancel: int | None = None  # the write end that ends the current watch

    @property
    def pid(self) -> int | None:
        return self._pid

    def watch(self, pid: int | None) -> bool:
        """Watch `pid` instead of what was watched (None: nothing); False when this
        process cannot be watched here (no pidfd: the caller must poll)."""
        if pid == self._pid:
            return True
        self.close()
        if pid is None:
            return True
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # gone already, or no pidfd here
            return False
        cancel_r, cancel_w = os.pipe()
        self._pid, self._cancel = pid, cancel_w
        thread = threading.Thread(
            target=self._wait, args=(pid, pidfd, cancel_r), name=self._name, daemon=True
        )
        thread.start()
        return True

    def close(self) -> None:
        """Stop watching; the thread ends without calling back."""
        cancel, self._cancel, self._pid = self._cancel, None, None
        if cancel is not None:
            with contextlib.suppress(OSError):
                os.close(cancel)  # end of file on the read end wakes the thread

    def _wait(self, pid: int, pidfd: int, cancel_r: int) -> None:
        try:
            readable, _, _ = select.select([pidfd, cancel_r], [], [])
            if pidfd in readable and cancel_r not in readable:
                self._on_death(pid)
        finally:
            os.close(pidfd)
            os.close(cancel_r)
