"""The data directory as a whole: is a server using it, can it be read, removing it safely.

*Unreadable* is not *empty*, and neither is a diverged timeline: a directory
PostgreSQL cannot read (permissions, an I/O error) says nothing about the data
in it, and cloning or rewinding over it would destroy what may be the only
copy.  :func:`unreadable` says why, or "".

pgactor usually runs as root and PostgreSQL as its own OS user: root reads
through ``chmod 000``, PostgreSQL does not.  What counts is what PostgreSQL
sees, so the permission bits are judged for PostgreSQL's user (as the kernel
would, owner / group / other), and the files are also read by pgactor itself,
which is how an I/O error shows.  A path with an ACL is left to the kernel:
its bits do not tell the whole story, and a false alarm would stop a healthy
server.
"""

from __future__ import annotations

import functools
import logging
import os
import stat

from actors.postgres import procfs
from actors.postgres.oscommand import OsUser, remove_dir
from actors.postgres.result import Result
from messages.config import PostgresSettings

log = logging.getLogger(__name__)

PG_VERSION = "PG_VERSION"
PG_CONTROL = os.path.join("global", "pg_control")
_READ, _ENTER = stat.S_IROTH, stat.S_IXOTH
_ACL_XATTR = "system.posix_acl_access"
_FILES = (PG_VERSION, PG_CONTROL, procfs.PID_FILE)
"""What the status path reads (PostgreSQL's own pg_controldata reads pg_control)."""


def server_running(data_dir: str) -> bool:
    pid_file = procfs.read_pid_file(data_dir)
    return pid_file is not None and procfs.is_postmaster_of(pid_file.pid, data_dir)


def remove_data_directory(settings: PostgresSettings) -> Result:
    """Remove the data directory (emptied if a mount point); never under a live server."""
    if server_running(settings.data_dir):
        return Result.failure("PostgreSQL is running on the data directory")
    remove_dir(settings.data_dir)
    log.warning("removed data directory %s", settings.data_dir)
    return Result.success("data directory removed", data_dir_removed=True)


def is_gone(data_dir: str) -> bool:
    """No cluster on this path any more (the directory or its PG_VERSION removed)."""
    return not os.path.lexists(os.path.join(data_dir, PG_VERSION))


def unreadable(data_dir: str, user: OsUser) -> str:
    """Why PostgreSQL cannot read its data directory, or "" when it can (or it is absent)."""
    try:
        os.stat(data_dir)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return _why(data_dir, exc)
    return _io_problem(data_dir) or _permission_problem(data_dir, user)


def _why(path: str, exc: OSError) -> str:
    return f"cannot read {path}: {exc.strerror or exc}"


def _io_problem(data_dir: str) -> str:
    """Read as pgactor: the directory listing and the files the status path needs."""
    try:
        os.listdir(data_dir)
    except OSError as exc:
        return _why(data_dir, exc)
    for name in _FILES:
        path = os.path.join(data_dir, name)
        try:
            with open(path, "rb") as fh:
                fh.read(8192)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            return _why(path, exc)
    return ""


def _permission_problem(data_dir: str, user: OsUser) -> str:
    """The permission bits as the kernel applies them to PostgreSQL's OS user."""
    if not user.switch:
        return ""  # we are that user: our own reads above got any EACCES
    real = os.path.realpath(data_dir)
    wanted = [(ancestor, _ENTER) for ancestor in _ancestors(real)]
    wanted.append((real, _READ | _ENTER))
    wanted.append((os.path.join(real, "global"), _ENTER))
    wanted += [(os.path.join(real, name), _READ) for name in _FILES]
    for path, bits in wanted:
        if not _allowed(path, bits, user):
            return f"cannot read {path}: permission denied for the OS user {user.name}"
    return ""


def _ancestors(path: str) -> list[str]:
    found = []
    while (parent := os.path.dirname(path)) != path:
        found.append(parent)
        path = parent
    return found


def _allowed(path: str, bits: int, user: OsUser) -> bool:
    """``bits`` (as S_I*OTH) granted to ``user`` on ``path``; True when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return True  # absent (judged elsewhere) or unreadable to us (the I/O check saw it)
    if st.st_uid == user.uid:
        granted = (st.st_mode >> 6) & 0o7
    elif st.st_gid in _groups(user.name, user.gid):
        granted = (st.st_mode >> 3) & 0o7
    else:
        granted = st.st_mode & 0o7
    return granted & bits == bits or _has_acl(path)


@functools.lru_cache(maxsize=8)
def _groups(name: str, gid: int) -> frozenset[int]:
    return frozenset(os.getgrouplist(name, gid))


def _has_acl(path: str) -> bool:
    try:
        return _ACL_XATTR in os.listxattr(path)
    except OSError:
        return False
