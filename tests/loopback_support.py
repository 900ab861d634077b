"""Helpers for suites that run real sockets on loopback: a free port, and waiting for a result.

Shared by the gossip and console suites (and, through ``console_support``, the
ctl tests).  No test folder has an ``__init__.py``, so pytest puts only a
test's own folder on ``sys.path``; ``gossip/conftest.py`` and
``console/console_support.py`` add ``tests/`` so that this module is found.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from freeport import free_port

__all__ = ["free_port", "wait_until"]


def wait_until(pred: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """`pred()`'s first truthy value; fails the test naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = pred()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.01)
