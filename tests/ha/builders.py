"""Small constructors for decide()'s views, so each table row reads as its rule.

Defaults describe a healthy, bootstrapped three-member cluster seen from
member "a" at monotonic time NOW: config with Patroni's default timings,
PostgreSQL running as a replica on timeline 1 at WAL position 1000.
"""

from __future__ import annotations

import dataclasses
from typing import Any

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
from messages.ha import LocalView
from messages.postgres import PostgresStatus, Upstream

NOW = 1000.0
SYSID = "7000000000000000001"
CONFIG = DynamicConfig()  # ttl 30, loop_wait 10, retry_timeout 10, primary_start_timeout 300
TTL = CONFIG.ttl_s
RETRY = CONFIG.retry_timeout_s
LOOP = CONFIG.loop_wait_s
NO_TAGS = Tags()


def name(n: str) -> MemberName:
    return MemberName(n)


def config(**changes: Any) -> DynamicConfig:
    return dataclasses.replace(CONFIG, **changes)


def sync_config(**changes: Any) -> DynamicConfig:
    return config(synchronous_mode=SyncMode.ON, **changes)


def pg(
    state: PgState = PgState.RUNNING,
    role: Role = Role.REPLICA,
    *,
    timeline: int = 1,
    wal: int = 1000,
    **changes: Any,
) -> PostgresStatus:
    base = PostgresStatus(
        state=state,
        role=role,
        timeline=Timeline(timeline),
        wal_position=Lsn(wal),
        system_identifier=SYSID,
        data_dir_empty=False,
    )
    return dataclasses.replace(base, **changes)


def primary(**changes: Any) -> PostgresStatus:
    return pg(PgState.RUNNING, Role.PRIMARY, **changes)


def replica(**changes: Any) -> PostgresStatus:
    return pg(PgState.RUNNING, Role.REPLICA, **changes)


def stopped(**changes: Any) -> PostgresStatus:
    """Stopped cleanly (pg_controldata: shut down), unless told otherwise."""
    return pg(PgState.STOPPED, Role.UNKNOWN, **({"shut_down_cleanly": True} | changes))


def empty() -> PostgresStatus:
    return PostgresStatus(state=PgState.UNINITIALIZED, data_dir_empty=True)


def local(me: str = "a", status: PostgresStatus | None = None, **changes: Any) -> LocalView:
    """Our own view; `status` defaults to a running replica."""
    view = LocalView(name=name(me), pg=status if status is not None else replica())
    return dataclasses.replace(view, **changes)


def holder(status: PostgresStatus | None = None, **changes: Any) -> LocalView:
    """Member "a" holding the lock, renewed just now, PostgreSQL running as primary."""
    fields: dict[str, Any] = {"lease_renewed_at": NOW}
    fields.update(changes)
    return local("a", status if status is not None else primary(), **fields)


def member(
    n: str,
    role: Role = Role.REPLICA,
    *,
    wal: int = 1000,
    timeline: int = 1,
    state: PgState = PgState.RUNNING,
    tags: Tags = NO_TAGS,
) -> MemberStatus:
    return MemberStatus(
        name=name(n),
        role=role,
        state=state,
        conn_host=f"{n}.example",
        timeline=Timeline(timeline),
        wal_position=Lsn(wal),
        tags=tags,
    )


def upstream(n: str) -> Upstream:
    return Upstream(name=name(n), host=f"{n}.example", port=5432)


def lock(n: str, *, seen: float = NOW, optime: int = 1000, ttl: float = TTL) -> LeaderRecord:
    """The leader record as we saw it change at monotonic time `seen`."""
    return LeaderRecord(name=name(n), optime=Lsn(optime), ttl_s=ttl, observed_change_at=seen)


def expired(n: str, **changes: Any) -> LeaderRecord:
    """A leader record we saw change exactly one ttl ago: expired by our clock."""
    return lock(n, seen=NOW - TTL, **changes)


def cluster(
    leader: LeaderRecord | None = None,
    members: tuple[MemberStatus, ...] | None = None,
    **changes: Any,
) -> ClusterView:
    """A bootstrapped cluster with members a (us), b and c as running replicas."""
    if members is None:
        members = (member("a"), member("b"), member("c"))
    view = ClusterView(
        initialize=SYSID,
        config=CONFIG,
        leader=leader,
        members=members,
        last_leader_optime=Lsn(1000),
        last_leader_name=leader.name if leader is not None else None,
    )
    return dataclasses.replace(view, **changes)


def led_by(n: str, *others: MemberStatus, **changes: Any) -> ClusterView:
    """A cluster whose live leader is `n` (a running primary), plus `others`."""
    members = (member(n, Role.PRIMARY), *others)
    return cluster(lock(n), members, **changes)


def switchover(
    leader: str | None = "a", candidate: str | None = "b", at: float | None = None
) -> FailoverRequest:
    return FailoverRequest(
        leader=name(leader) if leader else None,
        candidate=name(candidate) if candidate else None,
        scheduled_at=at,
    )


def sync(leader: str, *standbys: str) -> SyncState:
    return SyncState(leader=name(leader), sync_standbys=frozenset(name(s) for s in standbys))


def history(*entries: tuple[int, int]) -> tuple[HistoryEntry, ...]:
    """(timeline, lsn where it ended) pairs, as the leader publishes them."""
    return tuple(HistoryEntry(timeline=Timeline(t), lsn=Lsn(lsn)) for t, lsn in entries)
