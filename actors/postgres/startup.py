"""Starting a postmaster: spawned detached, then watched until it is ready or gone.

``postgres -D`` is started directly (no pg_ctl), in a session of its own, so
it outlives pgactor (as Patroni's does) and a Ctrl-C to pgactor's process
group does not reach it.  Readiness is what ``pg_ctl -w`` reads: the status
line of ``postmaster.pid`` says ``ready`` (or ``standby``) once connections
are accepted.  The server's stderr goes to ``log/pgactor-server.log`` in the
data directory, the previous run's kept as ``.1``; its tail explains a
failed start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from collections.abc import Callable

from actors.postgres import procfs
from actors.postgres.interrupt import INTERRUPTED, Interrupt
from actors.postgres.oscommand import OsUser, binary, child_env, spawn_kwargs
from actors.postgres.result import Result
from messages.config import PostgresSettings

log = logging.getLogger(__name__)

POLL_S = 0.05
LOG_DIR = "log"
SERVER_LOG = "pgactor-server.log"
READY = ("ready", "standby")


def log_path(data_dir: str) -> str:
    return os.path.join(data_dir, LOG_DIR, SERVER_LOG)


def spawn(settings: PostgresSettings, user: OsUser) -> subprocess.Popen[bytes]:
    """Start ``postgres -D data_dir`` detached; its output to the server log."""
    path = log_path(settings.data_dir)
    with contextlib.suppress(FileExistsError):
        os.mkdir(os.path.dirname(path), 0o700)
    if os.path.exists(path):
        os.replace(path, path + ".1")
    with open(path, "ab") as log_file:
        if user.switch:
            os.chown(os.path.dirname(path), user.uid, user.gid)
            os.chown(path, user.uid, user.gid)
        proc = subprocess.Popen(
            [binary(settings, "postgres"), "-D", settings.data_dir],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=child_env(user),
            start_new_session=True,
            **spawn_kwargs(user),
        )
    log.info("started postmaster %d on %s", proc.pid, settings.data_dir)
    return proc


def wait_ready(
    proc: subprocess.Popen[bytes],
    data_dir: str,
    deadline: float,
    confirm: Callable[[], Result],
    interrupt: Interrupt,
) -> Result:
    """Until the postmaster is ready (then ``confirm()``), exits, the deadline, or a stop
    interrupts the start (the stop then owns the server: it is left to it)."""
    while True:
        code = proc.poll()
        if code is not None:
            return Result.failure(f"postmaster exited with code {code}:\n{log_tail(data_dir)}")
        pid_file = procfs.read_pid_file(data_dir)
        if pid_file is not None and pid_file.pid == proc.pid and pid_file.status in READY:
            return confirm()
        if time.monotonic() >= deadline:
            return Result.failure(f"still starting at the deadline:\n{log_tail(data_dir)}")
        if interrupt.sleep(POLL_S):
            return Result.failure(INTERRUPTED)


def log_tail(data_dir: str, lines: int = 12) -> str:
    """The end of the server log (how a start failed)."""
    try:
        with open(log_path(data_dir), "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 8192))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:])
