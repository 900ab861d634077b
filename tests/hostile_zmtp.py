"""A client that speaks just enough ZMTP to be hostile, and the memory it is measured by.

ZeroMQ's wire protocol opens with a 64-byte greeting naming the security
mechanism; then come frames, each with a flags byte and a size.  A client
that has no keys can still send a greeting that claims CURVE and then a
*command* frame (the handshake's own, sent before any key is checked)
announcing 4 GiB.  Without a maximum message size, libzmq allocates the
announced size and fills it with whatever arrives.  Shared by the gossip and
console suites (they put tests/ on the path).
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterator

COMMAND_LONG = 0x06
"""Frame flags: a command (as the handshake's HELLO is) with an 8-byte size."""
CHUNK = b"\0" * (1 << 20)


def greeting(mechanism: bytes) -> bytes:
    """A ZMTP 3.0 greeting: signature, version 3.0, mechanism, as-client, filler."""
    return b"\xff" + b"\0" * 8 + b"\x7f" + bytes([3, 0]) + mechanism.ljust(20, b"\0") + b"\0" * 32


def connect(port: int, source: str = "127.0.0.1", timeout_s: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


@contextlib.contextmanager
def huge_frame_sent(
    port: int, *, announce: int = 4 << 30, send_up_to: int = 64 << 20
) -> Iterator[int]:
    """Greet as a CURVE client, announce a frame of `announce` bytes and stream zeros.

    Yields how many bytes of the frame were sent before the server hung up
    (`send_up_to` if it never did), with the connection still open: memory a
    server spent on the frame is still held while the block runs.
    """
    sent = 0
    with connect(port) as sock:
        sock.sendall(greeting(b"CURVE"))
        sock.recv(64)  # the server's greeting (or the part it sends first)
        with contextlib.suppress(OSError):  # the server hangs up: that is the point
            sock.sendall(bytes([COMMAND_LONG]) + struct.pack(">Q", announce))
            while sent < send_up_to:
                sock.sendall(CHUNK)
                sent += len(CHUNK)
        yield sent


def hangs_up_after_announcing(port: int, size: int, timeout_s: float = 5.0) -> bool:
    """Whether the server closes the connection once a handshake frame of `size` is announced."""
    with connect(port, timeout_s=timeout_s) as sock:
        sock.sendall(greeting(b"CURVE"))
        sock.recv(64)
        sock.sendall(bytes([COMMAND_LONG]) + struct.pack(">Q", size))
        try:
            while sock.recv(4096):  # the rest of the server's greeting, if any
                pass
        except TimeoutError:
            return False
        except OSError:  # reset: closed too
            pass
    return True


def rss_bytes() -> int:
    """This process's resident set size (VmRSS), where the actors under test run."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")
