"""Name the OS thread after the Python one, so `top -H` and /proc show which actor it is.

Python does not pass its thread names to the kernel; without this every
thread of the agent reads "pgactor" in /proc/<pid>/task/*/comm, and the CPU
an actor costs cannot be told from another's.  Linux keeps 15 bytes.  The
name is written to /proc/thread-self/comm (what prctl(PR_SET_NAME) sets),
which spares the agent ctypes and its libffi.
"""

from __future__ import annotations

import contextlib
import threading

_COMM_BYTES = 15


def name_os_thread(name: str | None = None) -> None:
    """Give the calling thread's OS name; a failure (not Linux) changes nothing."""
    text = (name or threading.current_thread().name).encode("utf-8", "replace")[:_COMM_BYTES]
    with contextlib.suppress(OSError), open("/proc/thread-self/comm", "wb", buffering=0) as comm:
        comm.write(text)
