"""The cluster-wide records as JSON, in Patroni's shapes.

* config: Patroni's dynamic configuration object (``ttl``, ``loop_wait``,
  ``retry_timeout``, ..., ``postgresql: {use_slots, parameters}``), durations in
  seconds without the ``_s`` suffix pgactor uses in Python.  Keys pgactor does
  not model (``standby_cluster``, ``pg_hba``, ...) are kept on rewrite, so
  ``patronictl edit-config`` users lose nothing.
* sync: ``{"leader": .., "sync_standby": "a,b" | null, "quorum": n}``.
* failover: ``{"leader": .., "member": .., "scheduled_at": ISO-8601}``, absent
  fields omitted.
* history: a list of ``[timeline, lsn, reason, timestamp, new_leader]``; the
  last two are optional on reading, as in older Patroni versions.  The backends
  stamp the newest entry when it is first published.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from actors.leader_lock import jsonfields as jf
from actors.leader_lock.contract import DcsBadData
from actors.leader_lock.records import wall_time_iso
from messages.base import Lsn, MemberName, Timeline
from messages.cluster import FailoverRequest, HistoryEntry, SyncState
from messages.config import DynamicConfig, SyncMode

_DURATIONS = {
    "ttl": "ttl_s",
    "loop_wait": "loop_wait_s",
    "retry_timeout": "retry_timeout_s",
    "primary_start_timeout": "primary_start_timeout_s",
    "primary_stop_timeout": "primary_stop_timeout_s",
}
_FLAGS = ("synchronous_mode_strict", "failsafe_mode", "pause", "check_timeline")

# -- config ----------------------------------------------------------------------


def config_value(config: DynamicConfig, base: Mapping[str, Any] | None = None) -> bytes:
    """Patroni-shaped JSON for ``config``, keeping ``base``'s unknown keys."""
    fields: jf.JsonObject = dict(base or {})
    fields.pop("master_start_timeout", None)  # superseded by primary_start_timeout
    for key, attr in _DURATIONS.items():
        fields[key] = jf.number(getattr(config, attr))
    for key in _FLAGS:
        fields[key] = getattr(config, key)
    fields["maximum_lag_on_failover"] = config.maximum_lag_on_failover
    fields["synchronous_node_count"] = config.synchronous_node_count
    fields["synchronous_mode"] = {
        SyncMode.OFF: False,
        SyncMode.ON: True,
        SyncMode.QUORUM: "quorum",
    }[config.synchronous_mode]
    postgresql = dict(fields.get("postgresql") or {})
    postgresql["use_slots"] = config.use_slots
    postgresql["parameters"] = dict(config.postgresql_parameters)
    fields["postgresql"] = postgresql
    return jf.dumps(fields)


def parse_config_fields(raw: bytes) -> jf.JsonObject:
    return jf.load_object(raw, "config")


def config_value_over(config: DynamicConfig, stored: bytes | None) -> bytes:
    """:func:`config_value` keeping the unknown keys of the ``stored`` record (None: absent).

    A stored record that does not parse keeps nothing: the new one replaces it whole.
    """
    try:
        base = None if stored is None else parse_config_fields(stored)
    except DcsBadData:
        base = None
    return config_value(config, base)


def parse_config(raw: bytes) -> DynamicConfig:
    what = "config"
    fields = parse_config_fields(raw)
    if "primary_start_timeout" not in fields and "master_start_timeout" in fields:
        fields["primary_start_timeout"] = fields["master_start_timeout"]
    default = DynamicConfig()
    durations: dict[str, Any] = {
        attr: jf.get_float(fields, key, getattr(default, attr), what)
        for key, attr in _DURATIONS.items()
    }
    flags: dict[str, Any] = {
        key: jf.get_bool(fields, key, getattr(default, key), what) for key in _FLAGS
    }
    postgresql = jf.get_object(fields, "postgresql", what)
    return DynamicConfig(
        **durations,
        **flags,
        maximum_lag_on_failover=jf.get_int(
            fields, "maximum_lag_on_failover", default.maximum_lag_on_failover, what
        ),
        synchronous_node_count=jf.get_int(
            fields, "synchronous_node_count", default.synchronous_node_count, what
        ),
        synchronous_mode=_parse_sync_mode(fields.get("synchronous_mode")),
        use_slots=jf.get_bool(postgresql, "use_slots", default.use_slots, what),
        postgresql_parameters=_parse_parameters(jf.get_object(postgresql, "parameters", what)),
    )


def _parse_sync_mode(value: object) -> SyncMode:
    if value is None or value is False:
        return SyncMode.OFF
    if value is True:
        return SyncMode.ON
    text = str(value).strip().lower()
    if text == "quorum":
        return SyncMode.QUORUM
    try:
        on = jf.get_bool({"synchronous_mode": text}, "synchronous_mode", False, "config")
    except DcsBadData:
        raise DcsBadData(f"config: synchronous_mode={value!r} is not a mode") from None
    return SyncMode.ON if on else SyncMode.OFF


def _parse_parameters(parameters: Mapping[str, Any]) -> dict[str, str]:
    """Parameter values as PostgreSQL text (``true`` becomes ``on``, as in a conf file)."""

    def text(value: object) -> str:
        if isinstance(value, bool):
            return "on" if value else "off"
        return str(value)

    return {str(name): text(value) for name, value in parameters.items() if value is not None}


# -- sync ------------------------------------------------------------------


def sync_value(state: SyncState) -> bytes:
    standbys = ",".join(sorted(state.sync_standbys)) or None
    return jf.dumps({"leader": state.leader, "sync_standby": standbys, "quorum": state.quorum})


def parse_sync(raw: bytes) -> SyncState:
    what = "sync"
    fields = jf.load_object(raw, what)
    standbys = fields.get("sync_standby")
    if isinstance(standbys, str):
        names = standbys.split(",")
    elif isinstance(standbys, list):
        names = [str(name) for name in standbys]
    elif standbys is None:
        names = []
    else:
        raise DcsBadData(f"sync: sync_standby={standbys!r} is not a list of names")
    leader = jf.get_str(fields, "leader", what)
    return SyncState(
        leader=None if leader is None else MemberName(leader),
        sync_standbys=frozenset(MemberName(n.strip()) for n in names if n.strip()),
        quorum=jf.get_int(fields, "quorum", 0, what),
    )


# -- failover --------------------------------------------------------------


def failover_value(req: FailoverRequest) -> bytes:
    fields = {
        "leader": req.leader,
        "member": req.candidate,
        "scheduled_at": None if req.scheduled_at is None else wall_time_iso(req.scheduled_at),
    }
    return jf.dumps({k: v for k, v in fields.items() if v is not None})


def parse_failover(raw: bytes) -> FailoverRequest:
    what = "failover"
    fields = jf.load_object(raw, what)
    leader = jf.get_str(fields, "leader", what)
    member = jf.get_str(fields, "member", what)
    return FailoverRequest(
        leader=None if leader is None else MemberName(leader),
        candidate=None if member is None else MemberName(member),
        scheduled_at=_parse_scheduled_at(fields.get("scheduled_at")),
    )


def _parse_scheduled_at(value: object) -> float | None:
    """Epoch seconds from ISO-8601 (a time without a zone is taken as UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        when = datetime.datetime.fromisoformat(str(value))
    except ValueError as e:
        raise DcsBadData(f"failover: scheduled_at={value!r} is not ISO-8601") from e
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp()


# -- history ---------------------------------------------------------------


def history_value(history: Sequence[HistoryEntry], *, now_epoch_s: float | None = None) -> bytes:
    """The history record; with ``now_epoch_s``, its newest entry, if it has no timestamp
    yet, is stamped with it (see :func:`stamp_newest`)."""
    rows: list[list[Any]] = []
    if now_epoch_s is not None:
        history = stamp_newest(history, now_epoch_s)
    for entry in history:
        row: list[Any] = [entry.timeline, entry.lsn, entry.reason, entry.timestamp]
        if entry.new_leader is not None:
            row.append(entry.new_leader)
        rows.append(row)
    return jf.dumps(rows)


def stamp_newest(history: Sequence[HistoryEntry], now_epoch_s: float) -> list[HistoryEntry]:
    """Patroni's tools show when each timeline began; the newest entry is the promotion
    the writer (the new leader) just made, so an entry that has no time yet gets
    the time it is first published (ISO-8601).  Older entries keep theirs, or
    stay without one: the time they began is not known here."""
    entries = list(history)
    if entries and not entries[-1].timestamp:
        entries[-1] = dataclasses.replace(entries[-1], timestamp=wall_time_iso(now_epoch_s))
    return entries


def parse_history(raw: bytes) -> tuple[HistoryEntry, ...]:
    rows = jf.loads(raw, "history")
    if not isinstance(rows, list):
        raise DcsBadData("history: expected a JSON list")
    return tuple(_parse_history_row(row) for row in rows)


def _parse_history_row(row: object) -> HistoryEntry:
    if not isinstance(row, list) or not 2 <= len(row) <= 5:
        raise DcsBadData(f"history: entry {row!r} is not [timeline, lsn, reason, ...]")
    fields = dict(zip(("timeline", "lsn", "reason", "timestamp", "new_leader"), row, strict=False))
    new_leader = jf.get_str(fields, "new_leader", "history")
    return HistoryEntry(
        timeline=Timeline(jf.get_int(fields, "timeline", 0, "history")),
        lsn=Lsn(jf.get_int(fields, "lsn", 0, "history")),
        reason=str(fields.get("reason") or ""),
        timestamp=str(fields.get("timestamp") or ""),
        new_leader=None if new_leader is None else MemberName(new_leader),
    )
