"""NodeStatus values for each role a member can be in, around one three-member cluster.

pg1 holds the lock and runs as primary, pg2 is the published synchronous
standby, pg3 an asynchronous one.  The leader's optime is 200 MiB, so a
replica 64 MiB behind fails a ``lag=16MB`` check and passes ``lag=100MB``.
"""

from __future__ import annotations

import dataclasses

from messages.admin import NodeStatus
from messages.base import Lsn, MemberName, Timeline
from messages.cluster import (
    ClusterView,
    FailoverRequest,
    HistoryEntry,
    LeaderRecord,
    MemberStatus,
    PgState,
    Role,
    SyncState,
)
from messages.config import DynamicConfig, SyncMode, Tags
from messages.ha import Reason
from messages.postgres import StandbyReplication

MiB = 1024 * 1024
LEADER_LSN = Lsn(200 * MiB)
SCOPE = "demo"
PG1, PG2, PG3 = MemberName("pg1"), MemberName("pg2"), MemberName("pg3")


def member(name: MemberName, role: Role, port: int, lsn: int = LEADER_LSN) -> MemberStatus:
    return MemberStatus(
        name=name,
        role=role,
        state=PgState.RUNNING,
        conn_host="10.0.0.1",
        conn_port=port,
        api_url=f"http://10.0.0.1:{port + 3000}/patroni",
        timeline=Timeline(2),
        wal_position=Lsn(lsn),
    )


CLUSTER = ClusterView(
    initialize="7000000000000000001",
    config=DynamicConfig(synchronous_mode=SyncMode.ON),
    leader=LeaderRecord(name=PG1, optime=LEADER_LSN),
    last_leader_optime=LEADER_LSN,
    last_leader_name=PG1,
    members=(
        member(PG3, Role.REPLICA, 5434, LEADER_LSN - 64 * MiB),
        member(PG1, Role.PRIMARY, 5432),
        member(PG2, Role.REPLICA, 5433),
    ),
    sync=SyncState(leader=PG1, sync_standbys=frozenset({PG2})),
    history=(
        HistoryEntry(timeline=Timeline(1), lsn=Lsn(50331808), reason="no recovery target"),
        HistoryEntry(
            timeline=Timeline(2),
            lsn=Lsn(83886240),
            reason="switchover",
            timestamp="2024-05-01T10:00:00+00:00",
            new_leader=PG1,
        ),
    ),
)

PRIMARY = NodeStatus(
    name=PG1,
    scope=SCOPE,
    role=Role.PRIMARY,
    state=PgState.RUNNING,
    reason=Reason.LEADER_RENEW,
    timeline=Timeline(2),
    wal_position=LEADER_LSN,
    is_leader=True,
    replication=(
        StandbyReplication(
            application_name="pg2", state="streaming", sync_state="sync", flush_lsn=LEADER_LSN
        ),
        StandbyReplication(application_name="pg3", state="streaming", sync_state="async"),
    ),
    cluster=CLUSTER,
)


def _replica(name: MemberName, lsn: int) -> NodeStatus:
    return NodeStatus(
        name=name,
        scope=SCOPE,
        role=Role.REPLICA,
        state=PgState.RUNNING,
        reason=Reason.REPLICA_OK,
        timeline=Timeline(2),
        wal_position=Lsn(lsn),
        replay_lsn=Lsn(lsn),
        receive_lsn=Lsn(lsn),
        following=PG1,
        replication_state="streaming",
        sync_standby=name in CLUSTER.sync.sync_standbys,
        cluster=CLUSTER,
    )


REPLICA = _replica(PG3, LEADER_LSN)
SYNC_REPLICA = _replica(PG2, LEADER_LSN)
LAGGING_REPLICA = _replica(PG3, LEADER_LSN - 64 * MiB)
STOPPED = dataclasses.replace(
    REPLICA,
    state=PgState.STOPPED,
    reason=Reason.START_REPLICA,
    replay_lsn=None,
    receive_lsn=None,
    replication_state=None,
)
UNLOCKED_PRIMARY = dataclasses.replace(PRIMARY, is_leader=False, reason=Reason.DEMOTE_NOT_LEADER)
"""Still runs as primary but lost the lock: no check may send writes here."""
NOLOADBALANCE_REPLICA = dataclasses.replace(REPLICA, tags=Tags(noloadbalance=True))
IDLE_REPLICA = dataclasses.replace(REPLICA, replication_state=None)
"""Runs as a replica but replays nothing: its WAL receiver stopped (an unreadable data
directory, a broken upstream), so its data only grows older."""
ARCHIVE_REPLICA = dataclasses.replace(REPLICA, replication_state="in archive recovery")
"""Not streaming, but restoring WAL from the archive: catching up (Patroni's term)."""
PAUSED_PRIMARY = dataclasses.replace(PRIMARY, paused=True)
SCHEDULED = dataclasses.replace(
    PRIMARY,
    cluster=dataclasses.replace(
        CLUSTER, failover=FailoverRequest(leader=PG1, candidate=PG2, scheduled_at=1893456000.0)
    ),
)
