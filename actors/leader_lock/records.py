"""The leader and member records as JSON, in the shapes Patroni's tools read.

Leader: Patroni's etcd backend stores only the holder's name in the leader key;
pgactor stores a JSON object with the same fields Patroni's Kubernetes backend
keeps in the leader annotations (``leader``, ``acquireTime``, ``renewTime``,
``ttl``, ``transitions``, ``optime``, ``slots``) plus ``conn_url``.  A bare name
is still accepted on reading, so a key written by Patroni parses.
``renewTime`` is wall-clock text for humans: no one compares it across hosts
(safety rule 2), it only makes every renewal visibly change the record.

Member: Patroni's member data (``conn_url``, ``api_url``, ``state``, ``role``,
``version``, ``xlog_location``, ``timeline``, ``tags``, ``pending_restart``,
and for a running replica Patroni 4's ``replication_state``, ``receive_lsn``
and ``replay_lsn``, which patronictl shows) plus pgactor's own ``gossip_url``,
``following`` and ``replication_lag``.  The member's name is the last part of
its key, not a field.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from actors.leader_lock import jsonfields as jf
from actors.leader_lock.contract import DcsBadData
from messages.base import Lsn, MemberName, Timeline
from messages.cluster import LeaderRecord, MemberStatus, PgState, Role
from messages.config import Tags

_ROLES = {
    "primary": Role.PRIMARY,
    "master": Role.PRIMARY,
    "replica": Role.REPLICA,
    "sync_standby": Role.REPLICA,
    "quorum_standby": Role.REPLICA,
    "standby_leader": Role.REPLICA,
}
_STATES = {state.value: state for state in PgState} | {
    "initializing new cluster": PgState.INITIALIZING,
    "running custom bootstrap script": PgState.INITIALIZING,
}


def wall_time_iso(epoch_s: float) -> str:
    """ISO-8601 UTC text for a wall-clock time (only ever shown, never compared)."""
    return datetime.datetime.fromtimestamp(epoch_s, tz=datetime.UTC).isoformat()


def conn_url(host: str, port: int) -> str:
    """Patroni's ``postgres://host:port/postgres`` (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"postgres://{shown}:{port}/postgres"


# -- leader ------------------------------------------------------------------


def parse_leader_fields(raw: bytes) -> jf.JsonObject:
    """The leader key's fields; a bare name (Patroni) becomes ``{"leader": name}``."""
    text = _text(raw, "leader")
    if not text.lstrip().startswith("{"):
        if not text.strip():
            raise DcsBadData("leader: empty value")
        return {"leader": text.strip()}
    fields = jf.load_object(raw, "leader")
    if jf.get_str(fields, "leader", "leader") is None:
        raise DcsBadData("leader: no holder name")
    return fields


def parse_leader(raw: bytes, *, default_ttl_s: float) -> LeaderRecord:
    """The leader record; ``observed_change_at`` is left for the cache to fill in."""
    fields = parse_leader_fields(raw)
    return LeaderRecord(
        name=MemberName(str(fields["leader"])),
        optime=Lsn(jf.get_int(fields, "optime", 0, "leader")),
        transitions=jf.get_int(fields, "transitions", 0, "leader"),
        ttl_s=jf.get_float(fields, "ttl", default_ttl_s, "leader"),
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaderUpdate:
    """What the holder writes on every acquire and renewal."""

    optime: Lsn
    ttl_s: float
    now_epoch_s: float
    """Wall-clock time, written as ``renewTime`` text only."""
    slots: Mapping[str, int] | None = None
    """None keeps the stored slots."""
    conn: tuple[str, int] | None = None
    """None keeps the stored address."""


def acquired_leader_value(name: MemberName, transitions: int, update: LeaderUpdate) -> bytes:
    """The record a member writes when it takes the lock."""
    now = wall_time_iso(update.now_epoch_s)
    fields: jf.JsonObject = {"leader": name, "acquireTime": now, "transitions": transitions}
    return renewed_leader_value(fields, update)


def renewed_leader_value(previous: Mapping[str, Any], update: LeaderUpdate) -> bytes:
    """The previous record renewed: new optime, ttl and renewTime."""
    fields = dict(previous)
    fields.update(
        optime=update.optime,
        ttl=jf.number(update.ttl_s),
        renewTime=wall_time_iso(update.now_epoch_s),
    )
    fields.setdefault("acquireTime", fields["renewTime"])
    if update.slots is not None:
        fields["slots"] = dict(update.slots)
    if update.conn is not None:
        fields["conn_url"] = conn_url(*update.conn)
    return jf.dumps(fields)


# -- members -------------------------------------------------------------------


def member_value(status: MemberStatus) -> bytes:
    fields: jf.JsonObject = {
        "conn_url": conn_url(status.conn_host, status.conn_port) if status.conn_host else None,
        "api_url": status.api_url or None,
        "gossip_url": status.gossip_url or None,
        "state": status.state.value,
        "role": status.role.value,
        "timeline": status.timeline,
        "xlog_location": status.wal_position,
        "replication_lag": status.replication_lag,
        "following": status.following,
        "tags": _tags_json(status.tags),
        "pending_restart": status.pending_restart or None,
        "version": status.version or None,
        "replication_state": status.replication_state,
        "receive_lsn": status.receive_lsn,
        "replay_lsn": status.replay_lsn,
    }
    return jf.dumps({k: v for k, v in fields.items() if v is not None})


def parse_member(name: MemberName, raw: bytes) -> MemberStatus:
    what = f"member {name}"
    fields = jf.load_object(raw, what)
    host, port = parse_conn_url(jf.get_str(fields, "conn_url", what), what)
    lag = fields.get("replication_lag")
    return MemberStatus(
        name=name,
        role=_ROLES.get(str(fields.get("role", "")), Role.UNKNOWN),
        # An unknown state word (a newer Patroni's) reads as "stopped": such a
        # member is never mistaken for a healthy candidate.
        state=_STATES.get(str(fields.get("state", "")), PgState.STOPPED),
        conn_host=host,
        conn_port=port,
        api_url=jf.get_str(fields, "api_url", what) or "",
        gossip_url=jf.get_str(fields, "gossip_url", what) or "",
        timeline=Timeline(jf.get_int(fields, "timeline", 0, what)),
        wal_position=Lsn(jf.get_int(fields, "xlog_location", 0, what)),
        replication_lag=None if lag is None else jf.get_int(fields, "replication_lag", 0, what),
        following=_member_name(jf.get_str(fields, "following", what)),
        tags=_parse_tags(jf.get_object(fields, "tags", what), what),
        pending_restart=jf.get_bool(fields, "pending_restart", False, what),
        version=_text_field(fields, "version", what),
        replication_state=jf.get_str(fields, "replication_state", what),
        receive_lsn=_lsn(fields, "receive_lsn", what),
        replay_lsn=_lsn(fields, "replay_lsn", what),
    )


def _lsn(fields: Mapping[str, Any], key: str, what: str) -> Lsn | None:
    return None if fields.get(key) is None else Lsn(jf.get_int(fields, key, 0, what))


def _text_field(fields: Mapping[str, Any], key: str, what: str) -> str:
    """A text field that some writers give as a number (a version of ``4``)."""
    value = fields.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return jf.get_str(fields, key, what) or ""


def _tags_json(tags: Tags) -> jf.JsonObject:
    return {
        "nofailover": tags.nofailover,
        "noloadbalance": tags.noloadbalance,
        "clonefrom": tags.clonefrom,
        "nosync": tags.nosync,
        "failover_priority": tags.failover_priority,
    }


def _parse_tags(fields: Mapping[str, Any], what: str) -> Tags:
    return Tags(
        nofailover=jf.get_bool(fields, "nofailover", False, what),
        noloadbalance=jf.get_bool(fields, "noloadbalance", False, what),
        clonefrom=jf.get_bool(fields, "clonefrom", False, what),
        nosync=jf.get_bool(fields, "nosync", False, what),
        failover_priority=jf.get_int(fields, "failover_priority", 1, what),
    )


def parse_conn_url(url: str | None, what: str) -> tuple[str, int]:
    if url is None:
        return "", 5432
    try:
        parts = urlsplit(url)
        return parts.hostname or "", parts.port or 5432
    except ValueError as e:
        raise DcsBadData(f"{what}: conn_url {url!r}: {e}") from e


def _member_name(text: str | None) -> MemberName | None:
    return None if text is None else MemberName(text)


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError as e:
        raise DcsBadData(f"{what}: not UTF-8: {e}") from e
