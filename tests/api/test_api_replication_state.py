"""/cluster shows a replica's WAL receiver as its state, and its positions (Patroni 4)."""

from __future__ import annotations

import dataclasses

from api_harness import Api
from cluster_states import PG3, REPLICA

from messages.base import Lsn
from messages.cluster import ClusterView


def test_cluster_shows_a_streaming_replica_as_streaming_with_its_positions(api: Api) -> None:
    cluster: ClusterView = REPLICA.cluster
    members = tuple(
        dataclasses.replace(
            m, replication_state="streaming", receive_lsn=Lsn(300), replay_lsn=Lsn(200)
        )
        if m.name == PG3
        else m
        for m in cluster.members
    )
    api.push(dataclasses.replace(REPLICA, cluster=dataclasses.replace(cluster, members=members)))
    shown = {m["name"]: m for m in api.get("/cluster").json()["members"]}
    assert shown["pg3"]["state"] == "streaming"
    assert (shown["pg3"]["receive_lsn"], shown["pg3"]["replay_lsn"]) == (300, 200)
    assert shown["pg1"]["state"] == "running" and "receive_lsn" not in shown["pg1"]
