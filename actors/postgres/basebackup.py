"""The built-in replica method: pg_basebackup from the upstream, streaming WAL.

As Patroni does it: two tries, the half-written data directory cleared
between them; the user's ``basebackup_options`` pass through except the ones
pgactor must control (where the data goes, how WAL comes, whom to connect
to as whom, the format, and the recovery settings it writes itself), which are
dropped with a warning naming each.  The replication password reaches
pg_basebackup through a temporary PGPASSFILE.

A base backup can take hours: progress (``-P``) is parsed from its stderr and
handed to ``progress(done_bytes, total_bytes)`` on the caller's thread, and a
set ``cancel`` event ends it within a poll interval.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from typing import IO

from actors.postgres.oscommand import (
    OsUser,
    binary,
    child_env,
    clear_dir,
    cli_option,
    ensure_run_dir,
    kill_group,
    option_key,
    os_user,
    passfile_line,
    prepare_dir,
    private_file,
    spawn_kwargs,
)
from actors.postgres.result import Result
from messages.config import PostgresSettings
from messages.postgres import Upstream

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]

TRIES = 2
POLL_S = 0.1
TERMINATE_GRACE_S = 5.0
CONTROLLED_OPTIONS = frozenset(
    {
        *("pgdata", "D", "wal-method", "X", "xlog-method", "xlog", "x"),
        *("host", "h", "port", "p", "username", "U", "dbname", "d", "format", "F"),
        *("write-recovery-conf", "R", "password", "W", "no-password", "w", "progress", "P"),
        *("target", "t"),
    }
)
_PROGRESS = re.compile(rb"(\d+)/(\d+) kB")


def user_options(options: Mapping[str, str]) -> list[str]:
    """The user's options as arguments; ``""`` is a flag without value.  Controlled
    options are dropped, each with a warning."""
    args: list[str] = []
    for name, value in options.items():
        key = option_key(name)
        if key in CONTROLLED_OPTIONS:
            log.warning("basebackup option %s is controlled by pgactor and is ignored", name)
            continue
        args += cli_option(key, value or None)
    return args


def basebackup_args(settings: PostgresSettings, upstream: Upstream) -> list[str]:
    extra = user_options(settings.basebackup_options)
    args = [binary(settings, "pg_basebackup"), "-D", settings.data_dir, "-X", "stream", "-P"]
    args += ["-h", upstream.host, "-p", str(upstream.port)]
    args += ["-U", settings.authentication.replication.username, "-w"]
    if not any(option_key(a) in ("checkpoint", "c") for a in extra):
        args.append("--checkpoint=fast")
    return args + extra


def parse_progress(line: bytes) -> tuple[int, int] | None:
    """``b"  2048/10240 kB (20%), 0/1 tablespace"`` -> ``(2097152, 10485760)`` bytes."""
    match = _PROGRESS.search(line)
    if match is None:
        return None
    return int(match.group(1)) * 1024, int(match.group(2)) * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class _Watch:
    progress: ProgressFn | None
    cancel: threading.Event


class _StderrReader:
    """Reads a child's stderr in a thread: the last progress and the last lines."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.progress: tuple[int, int] | None = None
        self.lines: collections.deque[str] = collections.deque(maxlen=20)
        self._stream = stream
        self._thread = threading.Thread(target=self._read, name="basebackup-stderr", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        """Runs in the reader thread until EOF."""
        pending = b""
        while chunk := self._stream.read1(4096):  # type: ignore[attr-defined]
            pending += chunk
            *lines, pending = re.split(rb"[\r\n]", pending)
            for line in filter(None, lines):
                self._take(line)
        if pending:
            self._take(pending)

    def _take(self, line: bytes) -> None:
        parsed = parse_progress(line)
        if parsed is not None:
            self.progress = parsed
        else:
            self.lines.append(line.decode("utf-8", "replace"))

    def join(self) -> None:
        self._thread.join(timeout=5)


def basebackup(
    settings: PostgresSettings,
    upstream: Upstream,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    application_name: str = "pgactor_basebackup",
) -> Result:
    """Clone ``upstream`` into the empty data directory; two tries."""
    user = os_user(settings)
    watch = _Watch(progress, cancel or threading.Event())
    result = Result.failure("no attempt")
    for attempt in range(1, TRIES + 1):
        prepare_dir(settings.data_dir, user)
        result = _attempt(settings, upstream, user, application_name, watch)
        if result.ok:
            return result
        clear_dir(settings.data_dir)
        log.warning("base backup from %s, try %d failed: %s", upstream.name, attempt, result.detail)
        if watch.cancel.is_set():
            break
    return result


def _attempt(
    settings: PostgresSettings,
    upstream: Upstream,
    user: OsUser,
    application_name: str,
    watch: _Watch,
) -> Result:
    repl = settings.authentication.replication
    env = child_env(user, {"PGAPPNAME": application_name, "PGCONNECT_TIMEOUT": "10"})
    line = passfile_line(repl.username, repl.password or "")
    with private_file(ensure_run_dir(settings, user), user, line, "pgpass-") as passfile:
        env["PGPASSFILE"] = passfile
        log.info("base backup from %s (%s:%d)", upstream.name, upstream.host, upstream.port)
        proc = subprocess.Popen(
            basebackup_args(settings, upstream),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
            **spawn_kwargs(user),
        )
        return _supervise(proc, watch)


def _supervise(proc: subprocess.Popen[bytes], watch: _Watch) -> Result:
    assert proc.stderr is not None
    reader = _StderrReader(proc.stderr)
    reported: tuple[int, int] | None = None
    while proc.poll() is None:
        if watch.cancel.wait(POLL_S):
            _terminate(proc)
            reader.join()
            return Result.failure("base backup cancelled")
        reported = _report(watch.progress, reader.progress, reported)
    reader.join()
    _report(watch.progress, reader.progress, reported)
    if proc.returncode != 0:
        tail = "\n".join(list(reader.lines)[-10:])
        return Result.failure(f"pg_basebackup exited with {proc.returncode}:\n{tail}")
    return Result.success("base backup done")


def _report(
    progress: ProgressFn | None, current: tuple[int, int] | None, reported: tuple[int, int] | None
) -> tuple[int, int] | None:
    if progress is None or current is None or current == reported:
        return reported
    progress(*current)
    return current


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """End pg_basebackup and its WAL-streaming child (same process group)."""
    kill_group(proc, signal.SIGTERM)
    try:
        proc.wait(TERMINATE_GRACE_S)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.wait()
