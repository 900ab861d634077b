"""Making the server read its configuration, and making sure it did.

``pg_reload_conf()`` only signals the postmaster, which re-reads the files
and passes the signal on; a statement right after it may still see the old
values.  :func:`reload_and_wait` waits until pgactor's own session has read
them, then logs any line the server refused.  :func:`nudge_standbys` writes a
little WAL so standbys report at once after ``synchronous_standby_names``
changed.
"""

from __future__ import annotations

import logging
import time

from actors.postgres.connection import LocalConnection, QueryError

log = logging.getLogger(__name__)

POLL_S = 0.01
RELOAD_WAIT_S = 5.0

# A transaction that writes a little WAL and commits without waiting for any standby.
NUDGE_SQL = (
    "SELECT set_config('synchronous_commit', 'local', true),"
    " pg_logical_emit_message(true, 'pgactor', 'synchronous_standby_names changed')"
)


def reload_and_wait(conn: LocalConnection) -> None:
    """pg_reload_conf(), then wait until our own session has read the files."""
    before = conn.query("SELECT pg_conf_load_time()")[0][0]
    conn.query("SELECT pg_reload_conf()")
    deadline = time.monotonic() + RELOAD_WAIT_S
    while conn.query("SELECT pg_conf_load_time()")[0][0] == before:
        if time.monotonic() >= deadline:
            log.warning("the server did not confirm the reload within %.0fs", RELOAD_WAIT_S)
            return
        time.sleep(POLL_S)
    errors = conn.query(
        "SELECT f.name, f.sourcefile, f.sourceline, f.error"
        "  FROM pg_file_settings f LEFT JOIN pg_settings s USING (name)"
        " WHERE f.error IS NOT NULL AND NOT coalesce(s.pending_restart, false)"
    )
    for name, source, line, error in errors:
        log.warning("config %s (%s:%s): %s", name, source, line, error)


def nudge_standbys(conn: LocalConnection) -> None:
    """Release commits that wait on a standby the new names no longer count.

    PostgreSQL releases waiting commits only when a counted standby reports a
    flush, and an idle standby reports every wal_receiver_status_interval
    (10 s): commits would wait that long on a standby that is gone.  A standby
    reports as soon as it flushes new WAL, so write some.
    """
    try:
        conn.query(NUDGE_SQL)
    except QueryError as exc:  # a replica, or a server going down: nothing waits
        log.debug("no WAL written to wake the standbys: %s", exc)
