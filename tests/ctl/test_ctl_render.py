"""What pgactor ctl prints, pure: patronictl's tables and the same rows as data."""

from __future__ import annotations

import dataclasses
import json

from console_support import status  # type: ignore[import-not-found]

from messages.base import Lsn, MemberName, Timeline
from messages.cluster import ClusterView, HistoryEntry, SyncState
from node.ctl.render import (
    HISTORY_COLUMNS,
    LIST_COLUMNS,
    cluster_title,
    history_rows,
    member_rows,
    structured,
    table,
    topology,
    with_cluster,
)


def test_list_is_a_patronictl_table() -> None:
    st = status()
    text = table(member_rows(st), LIST_COLUMNS, cluster_title(st))
    assert text.splitlines() == [
        "+ Cluster: demo ----------+---------+---------+----+-----------+",
        "| Member | Host           | Role    | State   | TL | Lag in MB |",
        "+--------+----------------+---------+---------+----+-----------+",
        "| node1  | 127.0.0.1:5433 | Leader  | running |  1 |           |",
        "| node2  | 127.0.0.1:5434 | Replica | running |  1 |        10 |",
        "| node3  | 127.0.0.1:5435 | Replica | running |  1 |        10 |",
        "+--------+----------------+---------+---------+----+-----------+",
    ]


def test_a_published_sync_standby_is_named_so() -> None:
    st = status()
    sync = SyncState(sync_standbys=frozenset({MemberName("node3")}))
    st = dataclasses.replace(st, cluster=dataclasses.replace(st.cluster, sync=sync))
    assert [r["Role"] for r in member_rows(st)] == ["Leader", "Replica", "Sync Standby"]


def test_topology_indents_members_under_whom_they_follow() -> None:
    st = status()
    members = list(st.cluster.members)
    members[2] = dataclasses.replace(members[2], following=MemberName("node2"))
    st = dataclasses.replace(st, cluster=dataclasses.replace(st.cluster, members=tuple(members)))
    assert [r["Member"] for r in topology(st)] == ["node1", "+ node2", "  + node3"]


def test_json_rows_carry_the_cluster_name() -> None:
    data = json.loads(structured(with_cluster(member_rows(status()), status()), "json"))
    assert data[0] == {
        "Cluster": "demo",
        "Member": "node1",
        "Host": "127.0.0.1:5433",
        "Role": "Leader",
        "State": "running",
        "TL": 1,
        "Lag in MB": "",
    }


def test_history_rows() -> None:
    entry = HistoryEntry(
        timeline=Timeline(1),
        lsn=Lsn(100),
        reason="no recovery target",
        new_leader=MemberName("node2"),
    )
    st = dataclasses.replace(status(), cluster=ClusterView(history=(entry,)))
    text = table(history_rows(st), HISTORY_COLUMNS)
    assert "|  1 | 100 | no recovery target |           | node2      |" in text
