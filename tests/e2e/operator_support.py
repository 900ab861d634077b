"""The operator's hands for tests/e2e/test_operator_actions.py: a healthy cluster with
the chaos client writing, REST actions, and reads of the failover key straight from
etcd (not through pgactor, whose answer is what is under test)."""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from localcluster import LocalCluster, Node, wait_for  # type: ignore[import-not-found]
from safety_support import etcd_range, primary, scope_key

SHORT: dict[str, object] = {"ttl": 6, "loop_wait": 1, "retry_timeout": 2}
"""As tests/e2e/test_safety.py: ttl 6 fits loop_wait + 2 * retry_timeout."""
TTL = 6.0


def others(cluster: LocalCluster, *but: Node) -> list[Node]:
    return [n for n in cluster.nodes if n not in but]


def failover_key(cluster: LocalCluster) -> dict[str, Any] | None:
    """The failover key's JSON as etcd holds it (None: no key)."""
    kvs = etcd_range(cluster, scope_key(cluster, "failover"))
    if not kvs:
        return None
    value = base64.b64decode(kvs[0].get("value", "")).decode() or "{}"
    parsed = json.loads(value)
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def in_future(seconds: float) -> str:
    """An ISO 8601 time with a zone, `seconds` from now."""
    at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return at.isoformat(timespec="seconds")


def leads_alone(cluster: LocalCluster, name: str) -> bool:
    """`name` is the only primary the members' status shows."""
    roles = cluster.roles()
    return roles.get(name) == "primary" and list(roles.values()).count("primary") == 1


def wait_primary(cluster: LocalCluster, timeout_s: float, what: str) -> str:
    return str(wait_for(lambda: primary(cluster), timeout_s, what, 0.2))


def said(done: Any) -> str:
    return f"{done.stdout}{done.stderr}".strip()


def sync_standby(cluster: LocalCluster, leader: Node) -> Node:
    """The member the DCS sync key publishes as synchronous."""

    def named() -> str | None:
        members = (cluster.cluster_view(leader) or {}).get("members", [])
        return next((m["name"] for m in members if m.get("role") == "sync_standby"), None)

    return cluster.node(wait_for(named, 30, "a published synchronous standby"))
