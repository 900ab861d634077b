"""A member whose settings wait for a restart says so where Patroni does: /patroni, /cluster."""

from __future__ import annotations

import dataclasses

from api_harness import Api
from cluster_states import PG3, PRIMARY, REPLICA

from messages.cluster import ClusterView


def test_patroni_shows_pending_restart_only_when_true(api: Api) -> None:
    api.push(dataclasses.replace(PRIMARY, pending_restart=True))
    assert api.get("/patroni").json()["pending_restart"] is True
    api.push(PRIMARY)
    assert "pending_restart" not in api.get("/patroni").json()


def test_cluster_marks_each_member_pending_a_restart(api: Api) -> None:
    cluster: ClusterView = REPLICA.cluster
    members = tuple(dataclasses.replace(m, pending_restart=m.name == PG3) for m in cluster.members)
    api.push(dataclasses.replace(REPLICA, cluster=dataclasses.replace(cluster, members=members)))
    shown = {m["name"]: m.get("pending_restart") for m in api.get("/cluster").json()["members"]}
    assert shown == {"pg1": None, "pg2": None, "pg3": True}
