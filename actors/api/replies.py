"""Answers told back to the API actor for an HTTP thread that waits for them.

Some actions finish in an actor that may not be asked (a config write ends
in the leader-lock actor, two hops away, and actors only *tell* each other).
The HTTP thread therefore registers a request id here, sends its request
with ``reply_to`` naming the API actor, and waits; the API actor's handler
delivers the answer by id.  An answer for an id nobody waits for any more (a
request that timed out) is dropped.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from messages.base import Message


class _Slot:
    __slots__ = ("answer", "arrived")

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.answer: Message | None = None


class Waiting:
    """One registered request: its id, and a way to wait for its answer."""

    def __init__(self, request_id: str, slot: _Slot) -> None:
        self.request_id = request_id
        self._slot = slot

    def wait(self, timeout_s: float) -> Message | None:
        """The answer, or None when none arrived within `timeout_s`."""
        return self._slot.answer if self._slot.arrived.wait(timeout_s) else None


class Replies:
    """Request id -> the HTTP thread waiting for its answer; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}

    @contextmanager
    def expect(self) -> Iterator[Waiting]:
        """Register a fresh request id for the duration of the block."""
        request_id, slot = uuid.uuid4().hex, _Slot()
        with self._lock:
            self._slots[request_id] = slot
        try:
            yield Waiting(request_id, slot)
        finally:
            with self._lock:
                self._slots.pop(request_id, None)

    def deliver(self, request_id: str, answer: Message) -> bool:
        """Hand an answer to its waiter; False when nobody waits for that id."""
        with self._lock:
            slot = self._slots.get(request_id)
        if slot is None:
            return False
        slot.answer = answer
        slot.arrived.set()
        return True
