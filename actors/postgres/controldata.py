"""``pg_controldata``: what a stopped cluster's control file says.

While PostgreSQL is down this is the only authority on how it went down
("shut down" is clean; "in production" means it crashed and needs crash
recovery before pg_rewind can trust it), on its timeline and on its last
checkpoint.  Output is parsed with C messages (see oscommand.child_env).
"""

from __future__ import annotations

import logging

from actors.postgres.oscommand import binary, os_user, run_command
from actors.postgres.status import parse_lsn
from messages.base import Lsn, Timeline
from messages.config import PostgresSettings

log = logging.getLogger(__name__)

STATE = "Database cluster state"
CLEAN_STATES = frozenset({"shut down", "shut down in recovery"})
CONTROLDATA_TIMEOUT_S = 30.0


def controldata(settings: PostgresSettings) -> dict[str, str]:
    """The control file as ``{label: value}``; empty when it cannot be read."""
    args = [binary(settings, "pg_controldata"), "-D", settings.data_dir]
    result = run_command(args, os_user(settings), timeout_s=CONTROLDATA_TIMEOUT_S)
    if not result.ok:
        log.warning("pg_controldata failed: %s", result.tail(3))
        return {}
    return parse_controldata(result.stdout)


def parse_controldata(text: str) -> dict[str, str]:
    data = {}
    for line in text.splitlines():
        label, sep, value = line.partition(":")
        if sep:
            data[label.strip()] = value.strip()
    return data


def shut_down_cleanly(data: dict[str, str]) -> bool:
    return data.get(STATE) in CLEAN_STATES


def checkpoint_timeline(data: dict[str, str]) -> Timeline:
    try:
        return Timeline(int(data.get("Latest checkpoint's TimeLineID", "0")))
    except ValueError:
        return Timeline(0)


def checkpoint_lsn(data: dict[str, str]) -> Lsn:
    return parse_lsn(data.get("Latest checkpoint location")) or Lsn(0)
