"""What ``pgactor ctl`` prints: patronictl's tables, or the same rows as JSON or YAML.

Rows are plain dicts keyed by column title, made once from a NodeStatus, so
the three formats can never disagree.  Nothing here talks to a node.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from messages.admin import NodeStatus
from messages.base import MemberName
from messages.cluster import ClusterView, MemberStatus

Row = dict[str, Any]
MB = 1024 * 1024
LIST_COLUMNS = ("Member", "Host", "Role", "State", "TL", "Lag in MB")
HISTORY_COLUMNS = ("TL", "LSN", "Reason", "Timestamp", "New Leader")


def _role(cluster: ClusterView, member: MemberStatus) -> str:
    if cluster.leader is not None and cluster.leader.name == member.name:
        return "Leader"
    if member.name in cluster.sync.sync_standbys:
        return "Sync Standby"
    return "Replica"


def _lag_mb(cluster: ClusterView, member: MemberStatus) -> int | str:
    leader = cluster.member(cluster.leader.name) if cluster.leader else None
    if leader is None or leader.name == member.name:
        return ""
    if member.replication_lag is not None:
        return member.replication_lag // MB
    top = max(leader.wal_position, cluster.last_leader_optime)
    return max(0, top - member.wal_position) // MB if member.wal_position else "unknown"


def member_rows(status: NodeStatus, order: Sequence[MemberStatus] | None = None) -> list[Row]:
    cluster = status.cluster
    rows = []
    for member in order if order is not None else sorted(cluster.members, key=lambda m: m.name):
        role = _role(cluster, member)
        state = member.replication_state if role != "Leader" else None
        row: Row = {
            "Member": member.name,
            "Host": f"{member.conn_host}:{member.conn_port}" if member.conn_host else "",
            "Role": role,
            "State": state or member.state.value,
            "TL": int(member.timeline),
            "Lag in MB": _lag_mb(cluster, member),
        }
        if member.pending_restart:
            row["Pending restart"] = "*"
        rows.append(row)
    return rows


def topology(status: NodeStatus) -> list[Row]:
    """Members as a tree: the leader, then whoever follows each member, indented."""
    cluster = status.cluster
    by_upstream: dict[MemberName | None, list[MemberStatus]] = {}
    leader = cluster.leader.name if cluster.leader else None
    for member in sorted(cluster.members, key=lambda m: m.name):
        upstream = None if member.name == leader else (member.following or leader)
        by_upstream.setdefault(upstream, []).append(member)
    ordered: list[tuple[int, MemberStatus]] = []

    def walk(upstream: MemberName | None, depth: int) -> None:
        for member in by_upstream.pop(upstream, []):
            ordered.append((depth, member))
            walk(member.name, depth + 1)

    walk(None, 0)
    for orphans in list(by_upstream.values()):  # following someone who is gone
        ordered += [(1, m) for m in orphans]
    rows = member_rows(status, [m for _, m in ordered])
    for (depth, _), row in zip(ordered, rows, strict=True):
        row["Member"] = ("  " * (depth - 1) + "+ " if depth else "") + row["Member"]
    return rows


def history_rows(status: NodeStatus) -> list[Row]:
    return [
        {
            "TL": int(h.timeline),
            "LSN": int(h.lsn),
            "Reason": h.reason,
            "Timestamp": h.timestamp,
            "New Leader": h.new_leader or "",
        }
        for h in status.cluster.history
    ]


def cluster_title(status: NodeStatus) -> str:
    ident = status.cluster.initialize
    return f"Cluster: {status.scope}" + (f" ({ident})" if ident else "")


def table(rows: Sequence[Mapping[str, Any]], columns: Iterable[str], title: str = "") -> str:
    """A patronictl-style box table; columns absent from every row are left out."""
    cols = [c for c in columns if any(c in r for r in rows)] or list(columns)
    cols += [c for r in rows for c in r if c not in cols]
    cells = [[_cell(r.get(c, "")) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    top = rule if not title else _titled(rule, title)
    lines = [top, _line(cols, widths, cols), rule]
    lines += [_line(row, widths, cols) for row in cells]
    lines.append(rule)
    return "\n".join(lines)


def _titled(rule: str, title: str) -> str:
    text = f"+ {title} "
    return text + rule[len(text) :] if len(text) < len(rule) else text + "+"


def _line(values: Sequence[str], widths: Sequence[int], cols: Sequence[str]) -> str:
    parts = []
    for value, width, col in zip(values, widths, cols, strict=True):
        right = col in ("TL", "Lag in MB", "LSN")
        parts.append(value.rjust(width) if right else value.ljust(width))
    return "| " + " | ".join(parts) + " |"


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def structured(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, default=str)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip("\n")


def with_cluster(rows: list[Row], status: NodeStatus) -> list[Row]:
    """patronictl's JSON/YAML rows carry the cluster name."""
    return [{"Cluster": status.scope, **row} for row in rows]


def timestamp(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")
