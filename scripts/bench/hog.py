"""CPU hogs for the benchmarks: one busy process pinned to each core (issue 16).

An HA agent runs on busy database hosts, so its reaction time must not depend
on a free core.  :class:`Hogs` starts one process per core, each spinning in a
loop and pinned to its core, at the default priority (nice 0) as a busy
PostgreSQL backend or a batch job would be; they are stopped by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from types import TracebackType

_SPIN = "while True: pass"


class Hogs:
    """``with Hogs(): ...``: every core busy for the block."""

    def __init__(self, cores: list[int] | None = None) -> None:
        self.cores = sorted(os.sched_getaffinity(0)) if cores is None else cores
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Hogs:
        for core in self.cores:
            proc = subprocess.Popen([sys.executable, "-c", _SPIN])
            self.procs.append(proc)
            os.sched_setaffinity(proc.pid, {core})
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGKILL)
        for proc in self.procs:
            proc.wait()
        self.procs.clear()


def cpu_load_note() -> str:
    """The load average, to print beside a figure taken under hogs."""
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"
