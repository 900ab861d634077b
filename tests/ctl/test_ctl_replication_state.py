"""pgactor ctl list shows a replica's WAL receiver as its state, as patronictl 4 does."""

from __future__ import annotations

import dataclasses

from console_support import status  # type: ignore[import-not-found]

from messages.base import MemberName
from node.ctl.render import member_rows


def test_a_streaming_replica_shows_streaming_and_the_leader_its_state() -> None:
    st = status()
    members = tuple(
        dataclasses.replace(m, replication_state="streaming") for m in st.cluster.members
    )
    st = dataclasses.replace(st, cluster=dataclasses.replace(st.cluster, members=members))
    leader = st.cluster.leader.name if st.cluster.leader else MemberName("")
    states = {r["Member"]: r["State"] for r in member_rows(st)}
    assert states[leader] == "running"
    assert {s for name, s in states.items() if name != leader} == {"streaming"}
