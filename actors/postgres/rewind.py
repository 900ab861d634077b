"""pg_rewind: bring a former primary back in line with the new one.

Whether a rewind is needed is a question of timelines.  The upstream's
timeline history lists, for each ancestor timeline, the LSN where the next
one forked off (the switch point).  Our data diverged when we are on an
ancestor timeline and wrote past its switch point: a replica is judged by the
WAL it replayed; a cleanly shut-down former primary by its shutdown
checkpoint record, which must end exactly at the switch point (the new
primary replayed it last).  When the end of that record cannot be computed
(it crosses a WAL page), we answer "rewind": pg_rewind on a data directory
that did not diverge does nothing harmful, it only says so.

Before pg_rewind the data directory must have been shut down cleanly: after a
crash, PostgreSQL is run once in single-user mode (archiving disabled) to
finish crash recovery and write a shutdown checkpoint.  pg_rewind writes no
standby.signal: the caller starts the server as a replica afterwards.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

import psycopg2
import psycopg2.extras

from actors.postgres import conffiles
from actors.postgres.control import Postmaster
from actors.postgres.controldata import (
    STATE,
    checkpoint_lsn,
    checkpoint_timeline,
    controldata,
    shut_down_cleanly,
)
from actors.postgres.datadir import remove_data_directory
from actors.postgres.history import parse_history
from actors.postgres.oscommand import (
    binary,
    child_env,
    ensure_run_dir,
    os_user,
    passfile_line,
    private_file,
    run_command,
)
from actors.postgres.result import Result
from actors.postgres.status import parse_lsn
from messages.base import Lsn, Timeline
from messages.cluster import HistoryEntry
from messages.config import PostgresSettings, StopMode, UserCredentials
from messages.postgres import Upstream

log = logging.getLogger(__name__)

WAL_PAGE = 8192
_RECOVERY_STATES = frozenset({"shut down in recovery", "in archive recovery"})
_WALDUMP_RECORD = re.compile(r"len \(rec/tot\):\s*\d+/\s*(\d+),.*?lsn: ([0-9A-F]+/[0-9A-F]+)")


def local_position(data: Mapping[str, str]) -> tuple[Timeline, Lsn, bool]:
    """(timeline, lsn, was_replica) of a stopped data directory, from pg_controldata."""
    if data.get(STATE) in _RECOVERY_STATES:
        lsn = parse_lsn(data.get("Minimum recovery ending location")) or Lsn(0)
        tli = int(data.get("Min recovery ending loc's timeline", "0") or 0)
        if lsn and tli:
            return Timeline(tli), lsn, True
        return checkpoint_timeline(dict(data)), checkpoint_lsn(dict(data)), True
    return checkpoint_timeline(dict(data)), checkpoint_lsn(dict(data)), False


def needs_rewind(
    local: Mapping[str, str],
    upstream_timeline: Timeline,
    history: Sequence[HistoryEntry],
    *,
    checkpoint_end: Lsn | None = None,
) -> bool:
    """Did the stopped local data diverge from the upstream's timeline history?

    ``checkpoint_end`` is where the local shutdown checkpoint record ends
    (see :func:`checkpoint_end_lsn`); unknown means "assume it diverged".
    """
    tli, lsn, was_replica = local_position(local)
    if tli == upstream_timeline:
        return False
    if tli > upstream_timeline:
        return True
    switch = next((h.lsn for h in history if h.timeline == tli), None)
    if switch is None:
        return True  # our timeline is not an ancestor of the upstream's
    if was_replica:
        return lsn > switch
    if lsn >= switch:
        return True
    return checkpoint_end != switch


def checkpoint_end_lsn(settings: PostgresSettings, local: Mapping[str, str]) -> Lsn | None:
    """The end of the latest checkpoint record (pg_waldump), None if unknown."""
    tli, start = checkpoint_timeline(dict(local)), checkpoint_lsn(dict(local))
    args = [binary(settings, "pg_waldump"), "-p", f"{settings.data_dir}/pg_wal"]
    args += ["-t", str(tli), "-s", local.get("Latest checkpoint location", "0/0"), "-n", "1"]
    result = run_command(args, os_user(settings), timeout_s=30)
    match = _WALDUMP_RECORD.search(result.stdout)
    if match is None or parse_lsn(match.group(2)) != start:
        return None
    end = start + int(match.group(1))
    if start // WAL_PAGE != (end - 1) // WAL_PAGE:
        return None  # the record spans a page header: not worth the arithmetic
    return Lsn((end + 7) & ~7)


def upstream_timeline(
    settings: PostgresSettings, upstream: Upstream
) -> tuple[Timeline, tuple[HistoryEntry, ...]]:
    """The upstream's timeline and history, over a replication connection."""
    repl = settings.authentication.replication
    conn = psycopg2.connect(
        host=upstream.host,
        port=upstream.port,
        user=repl.username,
        password=repl.password or "",
        connect_timeout=5,
        application_name="pgactor_rewind_check",
        connection_factory=psycopg2.extras.PhysicalReplicationConnection,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("IDENTIFY_SYSTEM")
            timeline = Timeline(int(cur.fetchone()[1]))
            if timeline <= 1:
                return timeline, ()
            cur.execute(f"TIMELINE_HISTORY {int(timeline)}")
            content = cur.fetchone()[1]
    finally:
        conn.close()
    return timeline, parse_history(_text(content))


def _text(content: object) -> str:
    if isinstance(content, memoryview | bytes | bytearray):
        return bytes(content).decode("utf-8", "replace")
    text = str(content)
    if text.startswith("\\x"):
        return bytes.fromhex(text[2:]).decode("utf-8", "replace")
    return text


def check_rewind_needed(settings: PostgresSettings, upstream: Upstream) -> bool | None:
    """needs_rewind for the stopped local data against ``upstream``; None if unknown."""
    local = controldata(settings)
    if not local:
        return None
    try:
        timeline, history = upstream_timeline(settings, upstream)
    except psycopg2.Error as exc:
        log.warning("cannot read the timeline history of %s: %s", upstream.name, exc)
        return None
    end = None if local_position(local)[2] else checkpoint_end_lsn(settings, local)
    return needs_rewind(local, timeline, history, checkpoint_end=end)


def finish_crash_recovery(settings: PostgresSettings) -> Result:
    """Single-user mode once: crash recovery and a shutdown checkpoint, archiving off."""
    conffiles.clear_recovery(settings.data_dir)  # single-user mode refuses standby mode
    args = [binary(settings, "postgres"), "--single", "-D", settings.data_dir]
    args += ["-c", "archive_mode=on", "-c", "archive_command=false", "postgres"]
    user = os_user(settings)
    result = run_command(args, user, timeout_s=settings.pg_ctl_timeout_s, stdin_data="")
    if not shut_down_cleanly(controldata(settings)):
        return Result.failure(f"crash recovery in single-user mode failed:\n{result.tail()}")
    log.info("crash recovery finished in single-user mode")
    return Result.success("crash recovery done")


def rewind(
    settings: PostgresSettings,
    postmaster: Postmaster,
    upstream: Upstream,
    *,
    timeout_s: float = 3600.0,
) -> Result:
    """Stop the local server if needed, make it clean, pg_rewind it from ``upstream``."""
    if postmaster.is_alive():
        stopped = postmaster.stop(
            StopMode.FAST, checkpoint_first=False, timeout_s=settings.pg_ctl_timeout_s
        )
        if not stopped.ok:
            return Result.failure(f"cannot stop PostgreSQL for pg_rewind: {stopped.detail}")
    if not shut_down_cleanly(controldata(settings)):
        recovered = finish_crash_recovery(settings)
        if not recovered.ok:
            return _failed(settings, recovered.detail)
    not_ready = _source_not_ready(settings, upstream)
    if not_ready:
        return Result.failure(not_ready)  # not a reason to remove anything: try again later
    done = _pg_rewind(settings, upstream, timeout_s)
    return done if done.ok else _failed(settings, done.detail)


_SOURCE_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END,
       (SELECT timeline_id FROM pg_control_checkpoint())
"""


def _rewind_credentials(settings: PostgresSettings) -> UserCredentials:
    auth = settings.authentication
    return auth.rewind if auth.rewind is not None else auth.superuser


def _source_not_ready(settings: PostgresSettings, upstream: Upstream) -> str | None:
    """Why pg_rewind from ``upstream`` would be wrong now, or None.

    pg_rewind takes the source's timeline from its pg_control, which shows a
    promotion only after the next checkpoint: before it, pg_rewind would
    report "no rewind required" and the server would not be able to follow.
    """
    cred = _rewind_credentials(settings)
    try:
        conn = psycopg2.connect(
            host=upstream.host,
            port=upstream.port,
            user=cred.username,
            password=cred.password or "",
            dbname="postgres",
            connect_timeout=5,
            application_name="pgactor_rewind_check",
        )
    except psycopg2.Error as exc:
        return f"cannot connect to {upstream.name} for pg_rewind: {' '.join(str(exc).split())}"
    try:
        with conn.cursor() as cur:
            cur.execute(_SOURCE_SQL)
            in_recovery, walfile, checkpoint_tli = cur.fetchone()
    finally:
        conn.close()
    if in_recovery or int(walfile[:8], 16) == checkpoint_tli:
        return None
    return f"{upstream.name} has not checkpointed on its new timeline yet"


def _pg_rewind(settings: PostgresSettings, upstream: Upstream, timeout_s: float) -> Result:
    cred = _rewind_credentials(settings)
    source = conffiles.conninfo(
        {
            "host": upstream.host,
            "port": upstream.port,
            "user": cred.username,
            "dbname": "postgres",
            "connect_timeout": 10,
        }
    )
    args = [binary(settings, "pg_rewind"), f"--target-pgdata={settings.data_dir}"]
    args += [f"--source-server={source}", "--progress"]
    user = os_user(settings)
    line = passfile_line(cred.username, cred.password or "")
    log.info("pg_rewind from %s", upstream.name)
    with private_file(ensure_run_dir(settings, user), user, line, "pgpass-") as passfile:
        env = child_env(user, {"PGPASSFILE": passfile, "PGAPPNAME": "pgactor_rewind"})
        result = run_command(args, user, timeout_s=timeout_s, env=env)
    if not result.ok:
        return Result.failure(f"pg_rewind failed ({result.returncode}):\n{result.tail()}")
    return Result.success("pg_rewind done")


def _failed(settings: PostgresSettings, detail: str) -> Result:
    if not settings.remove_data_directory_on_rewind_failure:
        return Result.failure(detail)
    removed = remove_data_directory(settings)
    log.warning("rewind failed (%s); removing the data directory: %s", detail, removed.detail)
    return Result.failure(detail, data_dir_removed=removed.data_dir_removed)
