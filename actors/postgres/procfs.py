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
    that happens to sit in the data directory is never touched.
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
        if cwd == real and pid_alive(pid) and _is_postgres_program(pid):
            found.append(pid)
    return found


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
