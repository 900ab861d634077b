"""Running PostgreSQL's programs as the OS user that owns the cluster.

PostgreSQL refuses to run as root.  When pgactor runs as root (a container's
pod process, say) every PostgreSQL binary, script and file it writes in the
data directory belongs to ``settings.os_user`` (default ``postgres``); when it
runs as an ordinary user, everything runs as that user and nothing switches.

Secrets never go on a command line: they go in 0600 files owned by the
PostgreSQL user (password files, ``--pwfile``), written by
:func:`private_file` and removed afterwards.  Nor in a child's environment,
where any process of the same user reads them (``/proc/<pid>/environ``) and
the postmaster passes them on to every backend and archive command: every
child starts from :func:`scrubbed_environ`, which drops pgactor's and
Patroni's configuration variables (passwords among them) and libpq's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from messages.config import PostgresSettings

log = logging.getLogger(__name__)

RUN_DIR_PARENT = "/tmp"
"""Where per-instance run dirs (sockets, temp password files) live: short on purpose.

A Unix socket path is limited to 107 bytes; a data directory may be deep.
"""


class OsUserMissing(RuntimeError):
    """pgactor runs as root and the PostgreSQL OS user does not exist."""


@dataclasses.dataclass(frozen=True, slots=True)
class OsUser:
    name: str
    uid: int
    gid: int
    home: str
    switch: bool
    """True when children must change to this user (pgactor runs as root)."""


@dataclasses.dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = 15) -> str:
        text = (self.stderr.strip() + "\n" + self.stdout.strip()).strip()
        return "\n".join(text.splitlines()[-lines:])


def os_user(settings: PostgresSettings) -> OsUser:
    """The OS user PostgreSQL runs as; raises :class:`OsUserMissing` if it is absent."""
    if os.geteuid() == 0:
        name = settings.os_user or "postgres"
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise OsUserMissing(
                f"PostgreSQL refuses to run as root and the OS user {name!r} does not "
                "exist: create it or set postgresql.os_user"
            ) from None
        return OsUser(name, entry.pw_uid, entry.pw_gid, entry.pw_dir or "/", switch=True)
    uid = os.geteuid()
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:  # a container user without a passwd entry
        return OsUser(str(uid), uid, os.getegid(), os.environ.get("HOME", "/"), switch=False)
    return OsUser(entry.pw_name, uid, entry.pw_gid, entry.pw_dir or "/", switch=False)


def binary(settings: PostgresSettings, name: str) -> str:
    return os.path.join(settings.bin_dir, name)


CONFIG_PREFIXES = ("PGACTOR_", "PATRONI_")
"""The agent's configuration: read once at start (passwords, keys, credentials),
needed by no child."""
LIBPQ_SECRETS = frozenset({"PGPASSWORD", "PGPASSFILE"})
"""Passwords reach PostgreSQL's tools only through files pgactor writes."""


def scrubbed_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The agent's environment (default: ``os.environ``) without what no child may see."""
    source = os.environ if environ is None else environ
    return {
        name: value
        for name, value in source.items()
        if name not in LIBPQ_SECRETS and not name.upper().startswith(CONFIG_PREFIXES)
    }


def child_env(
    user: OsUser, extra: Mapping[str, str] | None = None, *, c_messages: bool = True
) -> dict[str, str]:
    """The environment of a child: ours scrubbed (:func:`scrubbed_environ`), with the
    user's HOME and (usually) C messages.

    C messages keep tool output parseable (pg_controldata, pg_basebackup -P).
    """
    env = scrubbed_environ()
    if user.switch:
        env.update(HOME=user.home, USER=user.name, LOGNAME=user.name)
    if c_messages:
        if "LC_ALL" in env:
            env["LANG"] = env.pop("LC_ALL")
        env["LC_MESSAGES"] = "C"
    env.update(extra or {})
    return env


def spawn_kwargs(user: OsUser) -> dict[str, Any]:
    """Popen keyword arguments that run the child as ``user``, from a dir it can read."""
    cwd = user.home if os.path.isdir(user.home) else "/"
    if not user.switch:
        return {"cwd": cwd}
    return {"user": user.uid, "group": user.gid, "extra_groups": [], "cwd": cwd}


def run_command(
    args: Sequence[str],
    user: OsUser,
    *,
    timeout_s: float | None,
    env: Mapping[str, str] | None = None,
    stdin_data: str | None = None,
) -> CommandResult:
    """Run a program as ``user``, capture its output, kill its process group past timeout."""
    log.debug("running %s", args[0])
    try:
        proc = subprocess.Popen(
            list(args),
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env) if env is not None else child_env(user),
            start_new_session=True,
            **spawn_kwargs(user),
        )
    except OSError as exc:
        return CommandResult(127, "", f"cannot run {args[0]}: {exc}")
    try:
        out, err = proc.communicate(stdin_data, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        return CommandResult(proc.returncode, out, err, timed_out=True)
    return CommandResult(proc.returncode, out, err)


def kill_group(proc: subprocess.Popen[Any], sig: int = signal.SIGKILL) -> None:
    """Signal a child started with ``start_new_session`` and everything it spawned."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def run_dir(settings: PostgresSettings) -> str:
    """The instance's short private dir: derived from the data dir, so stable across restarts."""
    return run_dir_for(settings.data_dir)


def run_dir_for(data_dir: str) -> str:
    digest = hashlib.sha256(os.path.realpath(data_dir).encode()).hexdigest()[:12]
    return os.path.join(RUN_DIR_PARENT, f"pgactor-{digest}")


def ensure_run_dir(settings: PostgresSettings, user: OsUser) -> str:
    path = run_dir(settings)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (user.uid, os.geteuid()):
        raise PermissionError(f"{path} is not a directory owned by {user.name}")
    _chown(path, user)
    os.chmod(path, 0o700)
    return path


def prepare_dir(path: str, user: OsUser, mode: int = 0o700) -> None:
    """Make ``path`` exist, owned by ``user`` with ``mode``, and reachable by that user.

    A missing parent is created and given to the user; an existing ancestor is
    left alone but must let the user through, or this raises PermissionError.
    """
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755, exist_ok=True)
        _chown(parent, user)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, mode)
    _chown(path, user)
    os.chmod(path, mode)
    _check_traversable(parent, user)


def _check_traversable(path: str, user: OsUser) -> None:
    if not user.switch:
        return
    groups = set(os.getgrouplist(user.name, user.gid))
    current = os.path.abspath(path)
    while True:
        st = os.stat(current)
        if st.st_uid == user.uid:
            bit = stat.S_IXUSR
        elif st.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            raise PermissionError(f"the OS user {user.name} cannot enter {current}")
        if current == "/":
            return
        current = os.path.dirname(current)


def _chown(path: str, user: OsUser) -> None:
    if user.switch:
        os.chown(path, user.uid, user.gid)


def is_dir_empty(path: str) -> bool:
    """True when the dir is absent or holds nothing (a mount's lost+found aside)."""
    try:
        entries = os.listdir(path)
    except FileNotFoundError:
        return True
    return not [e for e in entries if e != "lost+found"]


def clear_dir(path: str) -> None:
    """Remove everything inside ``path``, keeping the dir (it may be a mount point)."""
    try:
        entries = os.listdir(path)
    except FileNotFoundError:
        return
    for entry in entries:
        full = os.path.join(path, entry)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(full)


def remove_dir(path: str) -> None:
    """Remove ``path`` and its contents; a mount point is emptied instead."""
    clear_dir(path)
    if os.path.isdir(path) and not os.path.ismount(path):
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(path)


def write_file(path: str, user: OsUser, content: str, mode: int = 0o600) -> None:
    """Replace ``path`` atomically with ``content``, owned by ``user``."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pgactor-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        _chown(tmp, user)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def private_file(directory: str, user: OsUser, content: str, prefix: str) -> Iterator[str]:
    """A 0600 file owned by ``user`` holding ``content``, removed on exit."""
    fd, path = tempfile.mkstemp(dir=directory, prefix=prefix)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        _chown(path, user)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def passfile_line(user_name: str, password: str) -> str:
    """A .pgpass line matching any host, port and database for ``user_name``."""

    def esc(value: str) -> str:
        return value.replace("\\", "\\\\").replace(":", "\\:")

    return f"*:*:*:{esc(user_name)}:{esc(password)}\n"


def cli_option(name: str, value: str | None) -> list[str]:
    """``("encoding", "UTF8")`` -> ``--encoding=UTF8``; ``("k", None)`` -> ``-k``."""
    key = name.lstrip("-")
    if len(key) == 1:
        return [f"-{key}"] if not value else [f"-{key}", value]
    return [f"--{key}"] if not value else [f"--{key}={value}"]


def option_key(name: str) -> str:
    """An option's name without dashes or value: how controlled options are matched."""
    return name.lstrip("-").partition("=")[0]
