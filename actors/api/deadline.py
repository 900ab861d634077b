"""Reading a client's request against the clock and a byte budget, whatever its pace.

A socket timeout bounds each ``recv`` on its own: a client that sends one
byte every few seconds never trips it and holds its connection (and thread)
for as long as it likes.  :class:`DeadlineReader` bounds the *whole* read
instead: before every ``recv`` it sets the socket's timeout to what is left
until the deadline, and it stops at a byte budget, so a request head cannot
grow without bound either.  The HTTP layer gives it one deadline and budget
for the head and, once the head is parsed, another for the body.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time

HEAD_MAX_BYTES = 32 * 1024
"""Request line and headers together (plus what buffering reads ahead of the body)."""
BODY_MIN_BYTES_PER_S = 16 * 1024
"""A body may take longer than the header timeout only at this rate or faster."""


class HeadTooLarge(http.client.LineTooLong):
    """The request head outgrew HEAD_MAX_BYTES (the stdlib answers 431)."""


def body_time_s(length: int, floor_s: float) -> float:
    """How long a body of `length` bytes may take to arrive."""
    return max(floor_s, length / BODY_MIN_BYTES_PER_S)


class DeadlineReader(io.RawIOBase):
    """A raw reader over a connected socket, bounded by a deadline and a byte budget.

    Past the deadline a read raises TimeoutError (an OSError, as a socket
    timeout is); past the budget it raises HeadTooLarge while reading the
    head, and reads end (EOF) while reading a body.
    """

    def __init__(self, sock: socket.socket | ssl.SSLSocket, deadline: float, budget: int) -> None:
        super().__init__()
        self._sock = sock
        self.deadline = deadline
        self.budget = budget
        self.in_head = True

    def expect_body(self, deadline: float, budget: int) -> None:
        self.deadline, self.budget, self.in_head = deadline, budget, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.budget <= 0:
            if self.in_head:
                raise HeadTooLarge(f"request head over {HEAD_MAX_BYTES} bytes")
            return 0
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client did not send its request in time")
        self._sock.settimeout(left)
        with memoryview(buffer) as view:
            received = self._sock.recv_into(view[: self.budget])
        self.budget -= received
        return received
