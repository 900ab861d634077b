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

import collections
import os
import random
import socket

DEMO_PORTS = frozenset({5433, 5434, 5435, 8008, 8009, 8010})
"""The demo's PostgreSQL and REST ports: a test must live beside a running demo."""
LOWEST = 10000
_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"


_RECENT = collections.deque[int](maxlen=512)
"""Ports this process handed out lately: a server may not have bound one yet."""


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago, outside the ephemeral range.

    Parallel test workers (pytest-xdist) each draw from their own lane of ports,
    so two workers never hand out the same one before its server binds it (CI saw
    a REST API fail to bind a port another worker's test had just taken); the
    processes a test starts inherit the lane through the environment.
    """
    highest = _ephemeral_start() - 1
    lane, lanes = _lane()
    for _ in range(1000):
        port = random.randint(LOWEST, highest)
        port += (lane - port) % lanes
        if port in DEMO_PORTS or port > highest or port in _RECENT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _RECENT.append(port)
            return port
    raise RuntimeError(f"no free port between {LOWEST} and {highest}")


def _lane() -> tuple[int, int]:
    """(This process's lane, how many lanes): one per pytest-xdist worker, else one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if worker.startswith("gw") and worker[2:].isdigit() and count.isdigit() and int(count) > 1:
        return int(worker[2:]) % int(count), int(count)
    return 0, 1


def _ephemeral_start() -> int:
    try:
        with open(_RANGE_FILE, encoding="ascii") as fh:
            start = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        start = 32768
    return max(start, LOWEST + 1000)
