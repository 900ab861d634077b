"""Small constructors for the sync rules' pictures, so each table row reads as its rule.

Defaults: member "p" is the running primary holding the lock, flushed to LSN
1000; the other members are "a", "b", "c"; synchronous_mode is on with one
synchronous standby.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from messages.base import Lsn, MemberName
from messages.cluster import ClusterView, LeaderRecord, MemberStatus, PgState, Role, SyncState
from messages.config import DynamicConfig, SyncMode, Tags
from messages.postgres import PostgresStatus, StandbyReplication

P = MemberName("p")
A, B, C = MemberName("a"), MemberName("b"), MemberName("c")
ON = DynamicConfig(synchronous_mode=SyncMode.ON)
QUORUM = DynamicConfig(synchronous_mode=SyncMode.QUORUM)
OFF_CONFIG = DynamicConfig()


def config(base: DynamicConfig = ON, **changes: Any) -> DynamicConfig:
    return dataclasses.replace(base, **changes)


def row(
    name: str, sync_state: str = "async", *, state: str = "streaming", flush: int = 1000
) -> StandbyReplication:
    return StandbyReplication(
        application_name=name,
        state=state,
        sync_state=sync_state,
        flush_lsn=Lsn(flush),
        replay_lsn=Lsn(flush),
    )


def pg(
    names: str = "",
    *rows: StandbyReplication,
    role: Role = Role.PRIMARY,
    state: PgState = PgState.RUNNING,
    wal: int = 1000,
) -> PostgresStatus:
    return PostgresStatus(
        state=state,
        role=role,
        wal_position=Lsn(wal),
        replication=rows,
        synchronous_standby_names=names,
    )


def member(name: str, *, nosync: bool = False) -> MemberStatus:
    return MemberStatus(
        name=MemberName(name),
        role=Role.REPLICA,
        state=PgState.RUNNING,
        tags=Tags(nosync=nosync),
    )


def key(*standbys: str, leader: str | None = "p", quorum: int = 0) -> SyncState:
    return SyncState(
        leader=MemberName(leader) if leader is not None else None,
        sync_standbys=frozenset(MemberName(s) for s in standbys),
        quorum=quorum,
    )


def view(
    sync: SyncState | None = None,
    *,
    cfg: DynamicConfig | None = ON,
    leader: str | None = "p",
    members: tuple[MemberStatus, ...] | None = None,
) -> ClusterView:
    return ClusterView(
        initialize="7000000000000000001",
        config=cfg,
        leader=LeaderRecord(name=MemberName(leader)) if leader is not None else None,
        members=members
        if members is not None
        else (member("p"), member("a"), member("b"), member("c")),
        sync=sync if sync is not None else key(),
    )
