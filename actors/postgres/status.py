"""What a running server says about itself, in one round trip, as a PostgresStatus.

Functions that fail on the wrong role (``pg_current_wal_flush_lsn()`` on a
replica) sit behind ``CASE WHEN pg_is_in_recovery()``; they are volatile, so
PostgreSQL evaluates only the branch taken.  A primary's timeline comes from
the name of its current WAL file, which changes at promotion; the checkpoint's
timeline lags until the first checkpoint after it.  A replica's comes from its
WAL receiver when it streams, else from its last restartpoint.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from messages.base import Lsn, Timeline
from messages.cluster import PgState, Role
from messages.postgres import PostgresStatus, StandbyReplication

STATUS_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_flush_lsn()::text END,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END,
       pg_last_wal_receive_lsn()::text,
       pg_last_wal_replay_lsn()::text,
       (SELECT timeline_id FROM pg_control_checkpoint()),
       (SELECT system_identifier FROM pg_control_system())::text,
       (SELECT coalesce(bool_or(pending_restart), false) FROM pg_settings),
       current_setting('synchronous_standby_names'),
       CASE WHEN pg_is_in_recovery()
            THEN pg_get_wal_replay_pause_state() <> 'not paused' ELSE false END,
       w.received_tli,
       w.sender_host,
       w.sender_port,
       (SELECT array_agg(ARRAY[application_name, state, sync_state,
                               flush_lsn::text, replay_lsn::text]
                         ORDER BY application_name, pid)
          FROM pg_stat_replication)
  FROM (SELECT 1) AS one
  LEFT JOIN (SELECT received_tli, sender_host, sender_port
               FROM pg_stat_wal_receiver WHERE status = 'streaming') AS w ON true
"""
"""The whole status in one round trip (an idle node reads it every few seconds); the
last column holds pg_stat_replication's rows, NULL when there are none."""

RUNNING_MINIMUMS_SQL = "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)"
"""What the server runs with, of the settings a hot standby needs as high as its primary."""


def parse_lsn(text: str | None) -> Lsn | None:
    """``'16/B374D848'`` as a 64-bit number; None for NULL or garbage."""
    if not text or "/" not in text:
        return None
    high, _, low = text.partition("/")
    try:
        return Lsn((int(high, 16) << 32) + int(low, 16))
    except ValueError:
        return None


def format_lsn(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def timeline_of_walfile(name: str | None) -> Timeline | None:
    """The timeline in a WAL file name (its first 8 hex digits)."""
    if not name or len(name) < 8:
        return None
    with contextlib.suppress(ValueError):
        return Timeline(int(name[:8], 16))
    return None


def replication_rows(rows: Sequence[tuple[Any, ...]]) -> tuple[StandbyReplication, ...]:
    return tuple(
        StandbyReplication(
            application_name=str(name or ""),
            state=str(state or ""),
            sync_state=str(sync or ""),
            flush_lsn=parse_lsn(flush),
            replay_lsn=parse_lsn(replay),
        )
        for name, state, sync, flush, replay in rows
    )


def build_status(row: tuple[Any, ...], *, data_dir_empty: bool) -> PostgresStatus:
    """A RUNNING status from one STATUS_SQL row."""
    in_recovery, flush, walfile, receive, replay, ckpt_tli, sysid = row[:7]
    pending, sync_names, paused, received_tli, sender_host, sender_port, standbys = row[7:]
    receive_lsn, replay_lsn = parse_lsn(receive), parse_lsn(replay)
    if in_recovery:
        role = Role.REPLICA
        timeline = Timeline(int(received_tli or ckpt_tli or 0))
        wal = max(receive_lsn or 0, replay_lsn or 0)
    else:
        role = Role.PRIMARY
        timeline = timeline_of_walfile(walfile) or Timeline(int(ckpt_tli or 0))
        wal = parse_lsn(flush) or 0
    return PostgresStatus(
        state=PgState.RUNNING,
        role=role,
        timeline=timeline,
        wal_position=Lsn(wal),
        receive_lsn=receive_lsn,
        replay_lsn=replay_lsn,
        streaming_from=f"{sender_host}:{sender_port}" if sender_host else None,
        replication=replication_rows(standbys or ()),
        system_identifier=str(sysid) if sysid is not None else None,
        data_dir_empty=data_dir_empty,
        pending_restart=bool(pending),
        synchronous_standby_names=str(sync_names or ""),
        replay_paused=bool(paused),
    )


_SHUTDOWN_ROLES = {
    "shut down": Role.PRIMARY,
    "in production": Role.PRIMARY,
    "shut down in recovery": Role.REPLICA,
    "in archive recovery": Role.REPLICA,
}


def offline_status(
    state: PgState, control: dict[str, str], *, data_dir_empty: bool, detail: str = ""
) -> PostgresStatus:
    """A stopped or crashed server's status, from its pg_controldata output.

    A replica's data may hold WAL past its last restartpoint: its minimum
    recovery point (and that point's timeline) says how far it replayed, which
    is what a rewind decision must compare with the leader's fork point.
    """
    timeline = _number(control.get("Latest checkpoint's TimeLineID"))
    checkpoint = parse_lsn(control.get("Latest checkpoint location"))
    reached = checkpoint or Lsn(0)
    min_recovery = parse_lsn(control.get("Minimum recovery ending location"))
    min_tli = _number(control.get("Min recovery ending loc's timeline"))
    if min_recovery and min_tli:
        timeline, reached = max(timeline, min_tli), max(reached, min_recovery)
    return PostgresStatus(
        state=state,
        timeline=Timeline(timeline),
        wal_position=reached,
        system_identifier=control.get("Database system identifier"),
        data_dir_empty=data_dir_empty,
        shutdown_role=_SHUTDOWN_ROLES.get(control.get("Database cluster state", ""), Role.UNKNOWN),
        checkpoint_lsn=checkpoint,
        shut_down_cleanly=control.get("Database cluster state", "").startswith("shut down"),
        detail=detail,
    )


def _number(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def unreachable_status(error: str, *, data_dir_empty: bool) -> PostgresStatus:
    """A live postmaster that refused pgactor's session: why, as a state."""
    if "starting up" in error:
        state = PgState.STARTING
    elif "shutting down" in error:
        state = PgState.STOPPING
    else:
        state = PgState.RUNNING
    return PostgresStatus(state=state, data_dir_empty=data_dir_empty, detail=error)
