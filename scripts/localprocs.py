"""Processes of a local cluster by PID: signal and wait, and what a PID names now.

A PID recorded at start goes stale: after a failover the agent restarts
PostgreSQL (a new postmaster), and the PID of a process that is gone may name
another process since.  Before signalling, look at what the PID is now.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def stop_pid(pid: int, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> bool:
    """Signal one process and wait for it; SIGKILL when it does not go in time
    (then False)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return False


def kill_group(pgid: int) -> None:
    """SIGKILL a process group we created (start_new_session), by its leader's PID."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap our own child so it does not linger as a zombie
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def is_postgres_of(pid: int, data_dir: Path) -> bool:
    """`pid` is a live PostgreSQL process serving `data_dir`: its program is postgres,
    and it works in that directory (every PostgreSQL process chdirs there at start)."""
    if pid <= 0 or not alive(pid):
        return False
    try:
        program = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return program in ("postgres", "postmaster") and cwd == os.path.realpath(data_dir)


def current_postmaster(data_dir: Path) -> int | None:
    """The postmaster serving `data_dir` now: the PID its postmaster.pid names, if that
    is a live postgres process of this data directory; else None."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if is_postgres_of(pid, data_dir) else None


def is_agent_of(pid: int, config_path: Path | None) -> bool:
    """`pid` is a live ``pgactor node`` (on `config_path`, when given)."""
    argv = _cmdline(pid) if alive(pid) else []
    if not any(os.path.basename(a) == "pgactor" for a in argv[:2]) or "node" not in argv:
        return False
    return config_path is None or str(config_path) in argv


def is_etcd_of(pid: int, data_dir: Path) -> bool:
    argv = _cmdline(pid) if alive(pid) else []
    return bool(argv) and os.path.basename(argv[0]) == "etcd" and str(data_dir) in argv


def fences_of(data_dir: Path) -> list[int]:
    """The fence processes guarding `data_dir` (``python -m actors.postgres.fence DIR``):
    they run in a session of their own, so an agent's process group does not hold them."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        argv = _cmdline(int(entry))
        if "actors.postgres.fence" in argv and str(data_dir) in argv:
            found.append(int(entry))
    return found
