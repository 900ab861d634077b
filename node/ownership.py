"""One agent per data directory: an exclusive lock the kernel drops when its owner dies.

Two agents started for the same PostgreSQL instance would both renew the
same leader lock, and whichever stops first stops the other's PostgreSQL
and releases the lock under it.  So ``pgactor node`` takes this lock before
it starts any actor, and a second agent refuses to start, having changed
nothing.

The lock is ``flock(LOCK_EX | LOCK_NB)`` on a file *beside* the data
directory (``<parent>/<name>.pgactor.lock``, the data directory's real path):

- beside, not inside: initdb and pg_basebackup want an empty directory, a
  failed bootstrap removes it, and the data directory may not exist yet;
- beside, not in the run directory under /tmp: /tmp is often private to one
  service or container (systemd's PrivateTmp, a pod's emptyDir), so two
  agents could each see their own run directory and each get "the" lock,
  and tmp cleaners remove old files; the data directory's parent is on the
  data's own filesystem, seen alike by everyone who can harm the data.

The kernel releases a flock when the last descriptor of its open file goes,
so an agent killed with SIGKILL leaves no stale lock.  The descriptor is
close-on-exec: a postmaster or fence started by the agent never holds it.
The file is never removed (removing it would let a third agent lock a new
file while a second still holds the old one); it holds the owner's PID, for
the refusal message only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import stat

from actors.postgres import procfs

LOCK_SUFFIX = ".pgactor.lock"


class OwnershipError(Exception):
    """The lock file cannot be made or opened: a message naming the path and why."""


class AlreadyOwned(OwnershipError):
    """Another agent holds the lock."""

    def __init__(self, data_dir: str, path: str, owner_pid: int | None) -> None:
        self.data_dir, self.path, self.owner_pid = data_dir, path, owner_pid
        super().__init__(
            f"the data directory {data_dir} is already managed by another pgactor agent "
            f"({_describe(owner_pid)}; lock {path}): stop that agent first; "
            "this one started nothing and changed nothing"
        )


def _describe(pid: int | None) -> str:
    if pid is None:
        return "its PID is not recorded yet"
    if procfs.pid_alive(pid):
        return f"PID {pid}, running"
    return f"PID {pid}, not visible from here: another PID namespace or container?"


def lock_path(data_dir: str) -> str:
    """Where the lock for `data_dir` lives: one path for every spelling of the directory."""
    real = os.path.realpath(data_dir)
    parent, name = os.path.split(real)
    if not name:
        raise OwnershipError(f"the data directory {data_dir!r} has no parent to hold its lock")
    return os.path.join(parent, name + LOCK_SUFFIX)


@dataclasses.dataclass
class Ownership:
    """A held lock; it lasts until :meth:`release` or the end of the process."""

    data_dir: str
    path: str
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the last descriptor drops the flock
            self.fd = -1


def take(data_dir: str) -> Ownership:
    """Lock `data_dir` for this process; raises AlreadyOwned or OwnershipError."""
    path = lock_path(data_dir)
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = _read_pid(fd)
        os.close(fd)
        raise AlreadyOwned(data_dir, path, owner) from None
    except OSError as exc:
        os.close(fd)
        raise OwnershipError(f"cannot lock {path} for {data_dir}: {exc.strerror}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return Ownership(data_dir, path, fd)


def _open(path: str) -> int:
    """The lock file, made if missing: a regular file, never a symlink or a FIFO that
    someone able to write the parent put there for us (we may run as root)."""
    with contextlib.suppress(OSError):  # a missing parent: as prepare_dir makes it later
        os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise OwnershipError(f"cannot open the ownership lock {path}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OwnershipError(f"the ownership lock {path} is not a regular file")
    return fd


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
