"""What a CURVE server endpoint does about clients it refuses: admit keys, log refusals sparingly.

Two kinds of client are refused, at two places in ZeroMQ's handshake:

- A CURVE client whose key is not allowed: libzmq asks the ZAP handler, which
  calls :class:`KeyCheck`.  The ZAP request carries the client's address, which
  the handler (:mod:`actors.runtime.zap`) hands to the check before it decides.
- A client that does not speak CURVE at all (plain ZeroMQ, another mechanism,
  a garbled greeting): libzmq drops it before any key is looked at and only
  its socket monitor hears of it.  :class:`RefusalWatch` reads those events.

Both log a refusal at most once per peer address per minute, with the number
held back since the last line (:mod:`actors.runtime.log_throttle`): a client
cycling wrong keys or reconnecting in a loop once wrote thousands of lines a
minute.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import time
from collections.abc import Callable

import zmq

from actors.runtime.log_throttle import LogThrottle, held_back_note

log = logging.getLogger(__name__)

ZAP_DOMAIN = "pgactor"
UNKNOWN_PEER = "an address already gone"
Clock = Callable[[], float]


class KeyCheck:
    """The ZAP callback: allows exactly the given client public keys (Z85).

    Runs in the ZAP handler's thread, one request at a time; ``peer`` is the
    address of the client being decided on, set just before the call.
    """

    def __init__(self, allowed: frozenset[bytes], owner: str, clock: Clock = time.monotonic):
        self.allowed = allowed
        self.owner = owner
        self.denied = 0
        self.peer = ""
        self._clock = clock
        self._throttle = LogThrottle()

    def callback(self, domain: str, key: bytes) -> bool:
        if key in self.allowed:
            return True
        self.denied += 1
        peer = self.peer or "an unknown address"
        held_back = self._throttle.admit(peer, self._clock())
        if held_back is not None:
            log.warning(
                "%s: refused a peer at %s with an unknown CURVE key %s%s",
                self.owner,
                peer,
                key[:8],
                held_back_note(held_back),
            )
        return False


# -- clients refused before any key was checked ---------------------------------------------

WATCHED_EVENTS = zmq.EVENT_ACCEPTED | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_DISCONNECTED
_EVENT = struct.Struct("=Hi")


def peer_address(fd: int) -> str | None:
    """The remote address of the connected socket `fd`, read through a duplicate of it."""
    try:
        dup = os.dup(fd)
    except OSError:
        return None
    try:
        sock = socket.socket(fileno=dup)
    except OSError:  # not a socket (any more): the number was reused
        os.close(dup)
        return None
    with sock, contextlib.suppress(OSError):
        return str(sock.getpeername()[0])
    return None


class RefusalWatch:
    """Reads a bound CURVE server socket's monitor; logs clients refused for their protocol.

    libzmq reports a refused handshake (``HANDSHAKE_FAILED_PROTOCOL``, no peer
    named) immediately followed, from the same I/O thread, by the
    disconnection of that connection's file descriptor; the accept event gave
    that descriptor, and the peer address is read from it then.  A client gone
    before the accept event is read is logged as :data:`UNKNOWN_PEER`.
    Runs in the endpoint's socket thread.
    """

    def __init__(
        self, owner: str, *, clock: Clock = time.monotonic, address_of: Callable[[int], str | None]
    ) -> None:
        self.owner = owner
        self.refused = 0
        self.peers: dict[int, str | None] = {}
        """Connected file descriptors and their peer addresses (None: could not be read)."""
        self._clock = clock
        self._address_of = address_of
        self._failing: int | None = None
        self._throttle = LogThrottle()

    def on_event(self, frames: list[bytes]) -> None:
        if len(frames) != 2 or len(frames[0]) != _EVENT.size:
            return
        event, value = _EVENT.unpack(frames[0])
        if event == zmq.EVENT_ACCEPTED:
            self.peers[value] = self._address_of(value)
        elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
            self._failing = value
        elif event == zmq.EVENT_DISCONNECTED:
            peer = self.peers.pop(value, None)
            if self._failing is not None:
                self._refused(peer or UNKNOWN_PEER, self._failing)
                self._failing = None

    def _refused(self, peer: str, error: int) -> None:
        self.refused += 1
        held_back = self._throttle.admit(peer, self._clock())
        if held_back is None:
            return
        if error == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
            what = "a plain (not CURVE) connection"
        else:
            what = f"a connection that broke the ZeroMQ handshake (error {error:#x})"
        log.warning("%s: refused %s from %s%s", self.owner, what, peer, held_back_note(held_back))


def watch_refusals(sock: zmq.Socket[bytes], owner: str) -> tuple[zmq.Socket[bytes], RefusalWatch]:
    """Start monitoring a bound CURVE server socket: the monitor socket and what reads it.

    Call from the thread that owns `sock`, before handing both to a socket loop.
    """
    monitor: zmq.Socket[bytes] = sock.get_monitor_socket(WATCHED_EVENTS)
    return monitor, RefusalWatch(owner, address_of=peer_address)
