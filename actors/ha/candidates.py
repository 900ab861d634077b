"""Who may take the lock when there is no live leader: pure ranking rules.

A member may be promoted only if it is running, not tagged nofailover (or
failover_priority 0), close enough to the last leader's WAL position, and --
in synchronous mode -- published as synchronous.  Among those, the highest
WAL position wins, then the higher failover_priority; equals race for the
lock, which is atomic, so exactly one wins.
"""

from __future__ import annotations

from messages.base import Lsn, MemberName
from messages.cluster import ClusterView, MemberStatus, PgState, Role
from messages.config import DynamicConfig, SyncMode, Tags


def may_promote(tags: Tags) -> bool:
    return not tags.nofailover and tags.failover_priority > 0


def within_lag(wal_position: Lsn, cluster: ClusterView, config: DynamicConfig) -> bool:
    """Close enough to the last leader's position (the DCS status record).

    After a clean release (a switchover, a clean stop) nothing failed, so no
    loss is allowed at all: only a member with the final checkpoint qualifies.
    """
    allowance = 0 if cluster.last_leader_clean else config.maximum_lag_on_failover
    return cluster.last_leader_optime - wal_position <= allowance


def sync_allows(name: MemberName, cluster: ClusterView, config: DynamicConfig) -> bool:
    """In synchronous mode only the sync key's leader (the last primary, which has
    every write it acknowledged) or a standby published there may be promoted."""
    if config.synchronous_mode is SyncMode.OFF or name == cluster.sync.leader:
        return True
    if name not in cluster.sync.sync_standbys:
        return False
    return config.synchronous_mode is not SyncMode.QUORUM or quorum_seen(name, cluster)


def quorum_seen(name: MemberName, cluster: ClusterView) -> bool:
    """Quorum mode (ANY k of n): `quorum` other published standbys, none ahead of us.

    Each acknowledged commit reached k of the n published standbys, so any
    n - k + 1 of them hold the latest one; the key's `quorum` is n - k.  A
    candidate that sees that many others at or behind its own position holds
    every acknowledged commit.  Positions come from member records: a stale
    one of ours only makes the test stricter.
    """
    me = cluster.member(name)
    if me is None:
        return False
    others = [
        m
        for m in cluster.members
        if m.name != name and m.name in cluster.sync.sync_standbys and m.state is PgState.RUNNING
    ]
    behind = [m for m in others if m.wal_position <= me.wal_position]
    return len(behind) == len(others) and len(behind) >= cluster.sync.quorum


def is_candidate(
    member: MemberStatus, cluster: ClusterView, config: DynamicConfig, *, judge_lag: bool = True
) -> bool:
    return (
        member.state is PgState.RUNNING
        and member.role is Role.REPLICA
        and member.name != cluster.last_leader_name
        and may_promote(member.tags)
        and (not judge_lag or within_lag(member.wal_position, cluster, config))
        and sync_allows(member.name, cluster, config)
    )


def ahead_of(other: MemberStatus, me: MemberStatus) -> bool:
    if other.wal_position != me.wal_position:
        return other.wal_position > me.wal_position
    return other.tags.failover_priority > me.tags.failover_priority


def better_candidate(
    me: MemberStatus, cluster: ClusterView, config: DynamicConfig
) -> MemberName | None:
    """The name of a fitter candidate than `me`, or None if we are (one of) the best."""
    for member in cluster.members:
        if member.name == me.name or not is_candidate(member, cluster, config):
            continue
        if ahead_of(member, me):
            return member.name
    return None


def unfit_reason(
    name: MemberName | None,
    cluster: ClusterView,
    config: DynamicConfig,
    *,
    judge_lag: bool = True,
    manual: bool = False,
) -> str | None:
    """Why a named candidate may not take over, or None if it may.

    `manual`: an operator's failover with no leader named (Patroni's
    ``failover --candidate X``): the operator chose X knowing it may lack
    writes, so neither lag nor the sync key stands in the way.
    """
    member = cluster.member(name)
    if member is None:
        return f"{name} is not a member"
    if member.state is not PgState.RUNNING or member.role is not Role.REPLICA:
        return f"{name} is not a running replica"
    if not may_promote(member.tags):
        return f"{name} is tagged nofailover"
    return None if manual else _data_unfit(member, cluster, config, judge_lag=judge_lag)


def _data_unfit(
    member: MemberStatus, cluster: ClusterView, config: DynamicConfig, *, judge_lag: bool
) -> str | None:
    """Why `member`'s data may lack acknowledged writes, or None."""
    if judge_lag and not within_lag(member.wal_position, cluster, config):
        return f"{member.name} lags more than maximum_lag_on_failover"
    if not sync_allows(member.name, cluster, config):
        return f"{member.name} is not a synchronous standby"
    return None
