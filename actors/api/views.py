"""This member, the cluster and its history rendered as Patroni's REST API shows them.

Operators and tools (patronictl, dashboards, scripts) already read Patroni's
JSON, so the keys, their spellings and which keys are omitted follow
Patroni's ``/patroni``, ``/cluster`` and ``/history``.  Everything here is a
pure function of one :class:`Snapshot`; times from the DCS that are wall
clock (a scheduled switchover) are rendered in ISO 8601 with a zone.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from actors.api.positions import member_lag
from actors.api.snapshot import Snapshot
from messages.admin import NodeStatus
from messages.cluster import ClusterView, HistoryEntry, MemberStatus, PgState, Role
from messages.config import SyncMode, Tags
from messages.version import VERSION

Json = dict[str, Any]


_DEFAULT_TAGS = Tags()


def tag_values(tags: Tags) -> dict[str, str]:
    """Every tag as the text a ``tag_<name>=`` filter compares with (Patroni lowercases)."""
    return {f.name: str(getattr(tags, f.name)).lower() for f in dataclasses.fields(tags)}


def _set_tags(tags: Tags) -> Json:
    """Only the tags that differ from the defaults, as Patroni shows only configured tags."""
    return {
        f.name: getattr(tags, f.name)
        for f in dataclasses.fields(tags)
        if getattr(tags, f.name) != getattr(_DEFAULT_TAGS, f.name)
    }


def is_sync_standby(status: NodeStatus) -> bool:
    """Published as synchronous in the DCS sync key (safety rule 3: only that counts)."""
    return status.name in status.cluster.sync.sync_standbys


def _xlog(status: NodeStatus) -> Json:
    if status.role is Role.PRIMARY:
        return {"location": status.wal_position}
    xlog: Json = {}
    received = status.receive_lsn if status.receive_lsn is not None else status.replay_lsn
    if received is not None:
        xlog["received_location"] = received
    if status.replay_lsn is not None:
        xlog["replayed_location"] = status.replay_lsn
    return xlog


def _replication(status: NodeStatus) -> list[Json]:
    rows = []
    for row in status.replication:
        item: Json = {
            "application_name": row.application_name,
            "state": row.state,
            "sync_state": row.sync_state,
        }
        for key in ("flush_lsn", "replay_lsn"):
            if getattr(row, key) is not None:
                item[key] = getattr(row, key)
        rows.append(item)
    return rows


def _running_details(status: NodeStatus) -> Json:
    """What Patroni adds only while PostgreSQL runs (it can query it)."""
    body: Json = {"timeline": status.timeline, "xlog": _xlog(status)}
    if status.role is Role.PRIMARY and status.replication:
        body["replication"] = _replication(status)
    if status.role is Role.REPLICA and status.replication_state:
        body["replication_state"] = status.replication_state
    return body


def _flags(status: NodeStatus) -> Json:
    """Keys Patroni includes only when true."""
    flags = {
        "pending_restart": status.pending_restart,
        "pause": status.paused,
        "cluster_unlocked": status.cluster.leader is None,
        "sync_standby": is_sync_standby(status),
    }
    return {key: True for key, value in flags.items() if value}


def member_json(snap: Snapshot) -> Json:
    """The body of ``/patroni`` and of every health check."""
    status = snap.status
    if status is None:
        return {"state": "unknown", "role": "unknown", "patroni": _about(snap.scope, None)}
    body: Json = {"state": status.state.value, "role": status.role.value}
    if status.state is PgState.RUNNING:
        body.update(_running_details(status))
    body.update(_flags(status))
    tags = _set_tags(status.tags)
    if tags:
        body["tags"] = tags
    if snap.dcs_last_seen is not None:
        body["dcs_last_seen"] = snap.dcs_last_seen
    body["patroni"] = _about(status.scope, status.name)
    return body


def _about(scope: str, name: str | None) -> Json:
    about: Json = {"version": VERSION, "scope": scope}
    if name is not None:
        about["name"] = name
    return about


def _member_role(cluster: ClusterView, member: MemberStatus) -> str:
    if cluster.leader is not None and member.name == cluster.leader.name:
        return "leader"
    if member.name in cluster.sync.sync_standbys:
        quorum = cluster.config is not None and cluster.config.synchronous_mode is SyncMode.QUORUM
        return "quorum_standby" if quorum else "sync_standby"
    return "replica"


def _cluster_member(cluster: ClusterView, member: MemberStatus) -> Json:
    role = _member_role(cluster, member)
    # Patroni 4 shows a replica's WAL receiver ("streaming") as its state
    state = member.replication_state if role != "leader" else None
    item: Json = {"name": member.name, "role": role, "state": state or member.state.value}
    if member.api_url:
        item["api_url"] = member.api_url
    if member.conn_host:
        item["host"], item["port"] = member.conn_host, member.conn_port
    item["timeline"] = member.timeline
    if member.pending_restart:
        item["pending_restart"] = True
    tags = _set_tags(member.tags)
    if tags:
        item["tags"] = tags
    if role != "leader":
        item["lag"] = member_lag(cluster, member)
        for key in ("receive_lsn", "replay_lsn"):
            if getattr(member, key) is not None:
                item[key] = getattr(member, key)
    return item


def _switchover(cluster: ClusterView) -> Json:
    request = cluster.failover
    if request is None:
        return {}
    ends = {"from": request.leader, "to": request.candidate}
    shown: Json = {key: name for key, name in ends.items() if name is not None}
    if request.scheduled_at is None:
        return {"failover": shown}
    at = datetime.datetime.fromtimestamp(request.scheduled_at, tz=datetime.UTC)
    return {"scheduled_switchover": {"at": at.isoformat(), **shown}}


def cluster_json(status: NodeStatus) -> Json:
    """The body of ``/cluster``: every member as the DCS shows it, sorted by name."""
    cluster = status.cluster
    members = sorted(cluster.members, key=lambda m: m.name)
    body: Json = {"members": [_cluster_member(cluster, m) for m in members], "scope": status.scope}
    if status.paused:
        body["pause"] = True
    body.update(_switchover(cluster))
    return body


def _history_line(entry: HistoryEntry) -> list[Any]:
    line: list[Any] = [entry.timeline, entry.lsn, entry.reason]
    if entry.timestamp or entry.new_leader:
        line.append(entry.timestamp)
    if entry.new_leader:
        line.append(entry.new_leader)
    return line


def history_json(status: NodeStatus) -> list[list[Any]]:
    """The body of ``/history``: Patroni's lines [timeline, lsn, reason, timestamp, new_leader]."""
    return [_history_line(entry) for entry in status.cluster.history]
