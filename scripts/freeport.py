"""A TCP port on 127.0.0.1 for a server a test or benchmark starts.

Asking the OS for port 0 gives a port from the ephemeral range, the range
outgoing connections take their source ports from: between choosing it and
the server binding it, any client connection (to etcd, PostgreSQL, an API)
may take it as its source port, and the server fails with "Address already
in use" (CI saw a PostgreSQL refuse to start for 90 s that way).  So the
port comes from below that range, checked free by binding it, and is never
one of the demo's ports.
"""

from __future__ import annotations

import random
import socket

DEMO_PORTS = frozenset({5433, 5434, 5435, 8008, 8009, 8010})
"""The demo's PostgreSQL and REST ports: a test must live beside a running demo."""
LOWEST = 10000
_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago, outside the ephemeral range."""
    highest = _ephemeral_start() - 1
    for _ in range(1000):
        port = random.randint(LOWEST, highest)
        if port in DEMO_PORTS:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {LOWEST} and {highest}")


def _ephemeral_start() -> int:
    try:
        with open(_RANGE_FILE, encoding="ascii") as fh:
            start = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        start = 32768
    return max(start, LOWEST + 1000)
