"""Name the OS thread after the Python one, so `top -H` and /proc show which actor it is.

Python does not pass its thread names to the kernel; without this every
thread of the agent reads "pgactor" in /proc/<pid>/task/*/comm, and the CPU
an actor costs cannot be told from another's.  Linux keeps 15 bytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading

_PR_SET_NAME = 15
_libc = ctypes.CDLL(None)  # the process's own symbols: libc's among them


def name_os_thread(name: str | None = None) -> None:
    """Give the calling thread's OS name; a failure (not Linux) changes nothing."""
    text = (name or threading.current_thread().name).encode("utf-8", "replace")[:15]
    with contextlib.suppress(AttributeError):  # a libc without prctl
        _libc.prctl(_PR_SET_NAME, ctypes.c_char_p(text), 0, 0, 0)
