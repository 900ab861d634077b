"""The NodeStatus of a running primary, as the metrics tests feed it to the actors."""

from __future__ import annotations

from typing import Any

from messages.admin import NodeStatus
from messages.base import Lsn, MemberName, Timeline
from messages.cluster import ClusterView, LeaderRecord, PgState, Role
from messages.ha import Reason


def primary(**changes: Any) -> NodeStatus:
    """pg1 of scope demo, leading on timeline 4 at WAL 123456, with `changes` over that."""
    fields: dict[str, Any] = {
        "name": MemberName("pg1"),
        "scope": "demo",
        "role": Role.PRIMARY,
        "state": PgState.RUNNING,
        "reason": Reason.LEADER_RENEW,
        "timeline": Timeline(4),
        "wal_position": Lsn(123456),
        "is_leader": True,
        "cluster": ClusterView(leader=LeaderRecord(name=MemberName("pg1"))),
    }
    return NodeStatus(**{**fields, **changes})
