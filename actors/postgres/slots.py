"""Physical replication slots on a primary, one per replica that uses slots.

A slot keeps the WAL a replica still needs, even while it is disconnected.
Names are sanitized the way :func:`~actors.postgres.conffiles.slot_name`
derives them from member names, so a replica's ``primary_slot_name`` and
the primary's slot agree.  An active slot is never dropped: the replica on
it is still streaming; it is reported instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from actors.postgres.conffiles import slot_name
from actors.postgres.connection import LocalConnection, QueryError
from actors.postgres.result import Result

log = logging.getLogger(__name__)

_SLOTS_SQL = "SELECT slot_name, active FROM pg_replication_slots WHERE slot_type = 'physical'"


def ensure_physical_slots(conn: LocalConnection, names: Iterable[str]) -> Result:
    wanted = sorted({slot_name(n) for n in names})
    try:
        existing = {str(r[0]) for r in conn.query(_SLOTS_SQL)}
        created = [n for n in wanted if n not in existing]
        for name in created:
            conn.query("SELECT pg_create_physical_replication_slot(%s)", (name,))
            log.info("created replication slot %s", name)
    except QueryError as exc:
        return Result.failure(f"cannot create replication slots: {exc}")
    return Result.success(f"created {created}" if created else "all slots present")


def drop_physical_slots_except(conn: LocalConnection, keep: Iterable[str]) -> Result:
    kept = {slot_name(n) for n in keep}
    try:
        rows = conn.query(_SLOTS_SQL)
        dropped, busy = [], []
        for name, active in rows:
            if name in kept:
                continue
            if active:
                busy.append(str(name))
                continue
            conn.query("SELECT pg_drop_replication_slot(%s)", (name,))
            dropped.append(str(name))
            log.info("dropped replication slot %s", name)
    except QueryError as exc:
        return Result.failure(f"cannot drop replication slots: {exc}")
    if busy:
        return Result.failure(f"dropped {dropped}; still in use: {busy}")
    return Result.success(f"dropped {dropped}" if dropped else "nothing to drop")
