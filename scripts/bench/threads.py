"""CPU per thread of a running agent over a window: which actor costs what.

Usage: .venv/bin/python scripts/bench/threads.py PID [--seconds 60]
Each actor names its OS thread after itself (actors/runtime/thread_name.py),
so /proc/PID/task/*/comm tells them apart.  Prints one JSON line per thread
with its CPU seconds per minute, busiest first, then the total.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def snapshot(pid: int) -> dict[str, tuple[str, int]]:
    """tid -> (thread name, utime + stime in clock ticks)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        out[task.name] = (name, int(fields[11]) + int(fields[12]))
    return out


def wakeups(pid: int) -> dict[str, tuple[str, int]]:
    """tid -> (thread name, voluntary context switches): each one a sleep, so a wake-up."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            status = (task / "status").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                out[task.name] = (name, int(line.split()[1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pid", type=int)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    before = snapshot(args.pid)
    time.sleep(args.seconds)
    after = snapshot(args.pid)
    per_min = 60.0 / args.seconds / os.sysconf("SC_CLK_TCK")
    rows = sorted(
        ((ticks - before.get(tid, (name, 0))[1]) * per_min, name)
        for tid, (name, ticks) in after.items()
    )
    for cpu, name in reversed(rows):
        print(json.dumps({"thread": name, "cpu_s_per_min": round(cpu, 3)}))
    print(json.dumps({"total_cpu_s_per_min": round(sum(cpu for cpu, _ in rows), 3)}))


if __name__ == "__main__":
    main()
