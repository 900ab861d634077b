"""The refusal log of a CURVE server: wrong keys and plain connections, once per address a minute.

These drive KeyCheck and RefusalWatch with a fake clock and synthetic socket
monitor events; the gossip and console suites do the same over real sockets.
"""

from __future__ import annotations

import logging
import struct

import pytest
import zmq

from actors.runtime.zmq_guard import UNKNOWN_PEER, KeyCheck, RefusalWatch

GOOD, BAD = b"g" * 40, b"b" * 40


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def event(kind: int, value: int) -> list[bytes]:
    return [struct.pack("=Hi", kind, value), b"tcp://127.0.0.1:7000"]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_client_cycling_wrong_keys_is_logged_once_a_minute_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    check = KeyCheck(frozenset({GOOD}), "gossip", clock=clock)
    with caplog.at_level(logging.WARNING):
        check.peer = "10.0.0.9"
        for i in range(3759):
            clock.now = i * 32 / 3759  # the attack that was seen: 3,759 keys in 32 s
            assert check.callback("pgactor", b"%040d" % i) is False
        check.peer = "10.0.0.8"
        assert check.callback("pgactor", BAD) is False
        check.peer = "10.0.0.9"
        clock.now = 61.0
        check.callback("pgactor", BAD)
        check.peer = "10.0.0.8"
        assert check.callback("pgactor", GOOD) is True
    lines = warnings(caplog)
    assert len(lines) == 3, lines
    assert "refused a peer at 10.0.0.9 with an unknown CURVE key" in lines[0]
    assert "at 10.0.0.8" in lines[1]
    assert lines[2].endswith("(3758 more since the last line about it, not logged)")
    assert check.denied == 3761


def test_plain_connections_are_logged_once_per_address_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    addresses = {10: "10.0.0.1", 11: "10.0.0.1", 12: "10.0.0.2", 13: None}
    watch = RefusalWatch("console", clock=clock, address_of=addresses.get)
    mismatch = zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
    with caplog.at_level(logging.WARNING):
        for fd in (10, 11, 12, 13, 10):
            watch.on_event(event(zmq.EVENT_ACCEPTED, fd))
            watch.on_event(event(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, mismatch))
            watch.on_event(event(zmq.EVENT_DISCONNECTED, fd))
        # a peer that authenticated and later left is no refusal
        watch.on_event(event(zmq.EVENT_ACCEPTED, 11))
        watch.on_event(event(zmq.EVENT_DISCONNECTED, 11))
        clock.now = 60.0
        watch.on_event(event(zmq.EVENT_ACCEPTED, 10))
        watch.on_event(event(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, 0x11000001))
        watch.on_event(event(zmq.EVENT_DISCONNECTED, 10))
    lines = warnings(caplog)
    assert lines == [
        "console: refused a plain (not CURVE) connection from 10.0.0.1",
        "console: refused a plain (not CURVE) connection from 10.0.0.2",
        f"console: refused a plain (not CURVE) connection from {UNKNOWN_PEER}",
        "console: refused a connection that broke the ZeroMQ handshake (error 0x11000001) "
        "from 10.0.0.1 (2 more since the last line about it, not logged)",
    ]
    assert watch.refused == 6
    assert watch.peers == {}


def test_malformed_monitor_frames_are_ignored() -> None:
    watch = RefusalWatch("gossip", address_of=lambda fd: "x")
    watch.on_event([b"short", b""])
    watch.on_event([b""])
    assert watch.refused == 0
