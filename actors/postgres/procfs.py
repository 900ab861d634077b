"""The postmaster as a process: its PID file, liveness, children, and killing.

``postmaster.pid`` is the postmaster's own record: line 1 the PID, line 8 its
status (``starting``, ``stopping``, ``ready``, ``standby``), which is what
``pg_ctl -w`` polls too.  A PID alone can be stale or reused, so a PID counts
as our postmaster only while the process exists, is not a zombie and (where
/proc lets us look) has the data directory as its working directory: every
PostgreSQL process chdirs there at start.  These checks read a few small
/proc files; they are cheap enough to run every 200 ms.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal

PID_FILE = "postmaster.pid"
_STATUS_LINE = 7
_STARTTIME_FIELD = 19
"""Field 22 of /proc/PID/stat, counted from the state (field 3) after the command name."""
DELETED = " (deleted)"

_AUX_TITLES = (
    "checkpointer",
    "background writer",
    "walwriter",
    "autovacuum launcher",
    "autovacuum worker",
    "archiver",
    "stats collector",
    "logical replication launcher",
    "logical replication worker",
    "startup",
    "walreceiver",
    "walsender",
    "logger",
)
"""Process titles of children that are not user sessions (they never return a COMMIT)."""


@dataclasses.dataclass(frozen=True, slots=True)
class PidFile:
    pid: int
    status: str
    """``starting``, ``stopping``, ``ready``, ``standby``, or "" if not written yet."""


def read_pid_file(data_dir: str) -> PidFile | None:
    """The PID file's content, or None when it is absent or not yet complete."""
    try:
        with open(os.path.join(data_dir, PID_FILE), encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:  # absent, or unreadable (the status path reports why)
        return None
    try:
        pid = int(lines[0].strip())
    except (IndexError, ValueError):
        return None
    status = lines[_STATUS_LINE].strip() if len(lines) > _STATUS_LINE else ""
    return PidFile(pid, status)


def remove_pid_file(data_dir: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(data_dir, PID_FILE))


def _proc_state(pid: int) -> str | None:
    """The process state letter, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            content = fh.read()
    except FileNotFoundError:
        return None
    except OSError:
        return _kill_zero(pid)
    fields = content[content.rfind(")") + 2 :].split()
    return fields[0] if fields else None


def _kill_zero(pid: int) -> str | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # exists, owned by someone else
    return "S"


def pid_alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    return _proc_state(pid) not in (None, "Z", "X")


def is_postmaster_of(pid: int, data_dir: str) -> bool:
    """``pid`` is a live process working in ``data_dir`` (as every PostgreSQL process does)."""
    if pid <= 0 or not pid_alive(pid):
        return False
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except FileNotFoundError:
        return pid_alive(pid)
    except OSError:  # no /proc or no right to look: trust the PID
        return True
    return cwd == os.path.realpath(data_dir)


def _in_dir(cwd: str, real: str) -> bool:
    """A working directory is ``real``, or was until someone removed it: the kernel
    then shows the old path with `` (deleted)``, and the process runs on."""
    return cwd in (real, real + DELETED)


def works_in(pid: int, data_dir: str) -> bool:
    """``pid`` is a live process working in ``data_dir``, even one removed under it."""
    if pid <= 0 or not pid_alive(pid):
        return False
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except FileNotFoundError:
        return pid_alive(pid)
    except OSError:  # no /proc or no right to look: trust the PID
        return True
    return _in_dir(cwd, os.path.realpath(data_dir))


def start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot: with the PID, a process's identity
    (a recycled PID has a later start time).  None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            content = fh.read()
    except OSError:
        return None
    fields = content[content.rfind(")") + 2 :].split()
    try:
        return int(fields[_STARTTIME_FIELD])
    except (IndexError, ValueError):
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class Seen:
    """A postmaster as last seen: its PID and start time, so a recycled PID never passes."""

    pid: int
    started: int | None

    @classmethod
    def of(cls, pid: int) -> Seen:
        return cls(pid, start_time(pid))

    def still_runs_in(self, data_dir: str) -> bool:
        """The same process still runs the postgres program in ``data_dir`` (or where it was)."""
        return (
            start_time(self.pid) == self.started
            and works_in(self.pid, data_dir)
            and _is_postgres_program(self.pid)
        )


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            content = fh.read()
    except OSError:
        return None
    fields = content[content.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def _title(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


def _all_pids() -> list[int]:
    try:
        return [int(e) for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []


def children_of(pid: int) -> list[tuple[int, str]]:
    """Live children of ``pid`` with their process titles (empty without /proc)."""
    return [(p, _title(p)) for p in _all_pids() if _parent_of(p) == pid and pid_alive(p)]


def _child_pids(pid: int) -> list[int]:
    """``pid``'s children from its one ``children`` file: a single read, not a /proc scan.

    The kernel may skip a child while others exit: a hint, never a safety check.
    """
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:  # a kernel without CONFIG_PROC_CHILDREN: the scan is right, only slower
        return [p for p, _ in children_of(pid)]


def _is_postgres_program(pid: int) -> bool:
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return _title(pid).startswith("postgres")
    return os.path.basename(exe).split(" ")[0] in ("postgres", "postmaster")


def processes_in_dir(data_dir: str) -> list[int]:
    """Live PostgreSQL processes working in ``data_dir``: a server's leftovers.

    Only processes running the postgres program count, so an operator's shell
    that happens to sit in the data directory is never touched.  A server
    whose directory was removed under it still counts: it holds the port and
    shared memory that a new server on that path needs.
    """
    real = os.path.realpath(data_dir)
    found = []
    for pid in _all_pids():
        if pid == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if _in_dir(cwd, real) and pid_alive(pid) and _is_postgres_program(pid):
            found.append(pid)
    return found


def postmaster_in_dir(data_dir: str) -> int | None:
    """The postmaster working in ``data_dir`` found by a /proc scan, without its PID file:
    a process there whose parent is not another of them and that has no child's title
    (a backend orphaned by a dead postmaster is no server)."""
    pids = processes_in_dir(data_dir)
    roots = [p for p in pids if _parent_of(p) not in pids and _activity(_title(p), "") is None]
    return min(roots) if roots else None


def _activity(title: str, cluster_name: str) -> str | None:
    """What a child's title says it does, or None while it has no title yet."""
    prefix = "postgres: "
    if not title.startswith(prefix):
        return None
    rest = title[len(prefix) :]
    if cluster_name and rest.startswith(cluster_name + ": "):
        rest = rest[len(cluster_name) + 2 :]
    return rest


def is_user_backend(title: str, cluster_name: str) -> bool:
    """A child that serves a client session; unknown titles count, to be safe."""
    activity = _activity(title, cluster_name)
    # Forked but not titled yet: maybe a new session.
    return activity is None or not activity.startswith(_AUX_TITLES)


def user_backends(postmaster_pid: int, cluster_name: str) -> list[int]:
    # The full scan, not the children file: the kernel may skip a child in that file
    # while others exit, and the safepoint must never miss a session.
    return [p for p, t in children_of(postmaster_pid) if is_user_backend(t, cluster_name)]


def walsenders(postmaster_pid: int, cluster_name: str) -> frozenset[int]:
    """PIDs of the postmaster's WAL senders: cheap enough for every liveness tick.

    A standby connecting or going away changes this set at once, long before a
    periodic pg_stat_replication query would see it.
    """
    children = _child_pids(postmaster_pid)
    return frozenset(
        p for p in children if (_activity(_title(p), cluster_name) or "").startswith("walsender")
    )


def send_signal(pid: int, sig: signal.Signals) -> bool:
    """Signal ``pid``; False when it no longer exists."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def kill_server(postmaster_pid: int | None, data_dir: str) -> list[int]:
    """SIGKILL the postmaster, its children and any process left in the data dir."""
    victims: set[int] = set(processes_in_dir(data_dir))
    if postmaster_pid is not None and is_postmaster_of(postmaster_pid, data_dir):
        victims.add(postmaster_pid)
        victims.update(p for p, _ in children_of(postmaster_pid))
    for pid in sorted(victims):
        send_signal(pid, signal.SIGKILL)
    return sorted(victims)
