"""Helpers for suites that run real sockets on loopback: a free port, and waiting for a result.

Shared by the gossip and console suites (and, through ``console_support``, the
ctl tests).  No test folder has an ``__init__.py``, so pytest puts only a
test's own folder on ``sys.path``; ``gossip/conftest.py`` and
``console/console_support.py`` add ``tests/`` so that this module is found.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS chose it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(pred: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """`pred()`'s first truthy value; fails the test naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = pred()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.01)
