"""Rules for members without the lock: bootstrap, clone, follow, fail over.

A member without the lock never runs as primary: if it finds itself so, it
stops at once.  Otherwise it clones from the leader when empty, starts as a
replica (rewinding first when its timeline diverged), follows whoever leads,
and races for the lock only when no live leader exists and no fitter
candidate does.
"""

from __future__ import annotations

from actors.ha.candidates import better_candidate, is_candidate, may_promote, within_lag
from actors.ha.facts import Facts, upstream_of
from messages.cluster import MemberStatus, PgState, Role
from messages.config import StopMode
from messages.dcs import (
    AcquireLock,
    CancelInitialize,
    ClaimInitialize,
    SetBootstrapConfig,
    SetInitialized,
)
from messages.ha import ActionKind, Decision, Reason
from messages.postgres import Bootstrap, CreateReplica, Follow, Rewind, StartPostgres, StopPostgres


def bootstrap(f: Facts) -> Decision | None:
    if f.local.init_claimed:
        return _bootstrap_progress(f)
    if f.cluster.initialize is not None or f.cluster.leader is not None:
        return None
    if f.local.lock_op_in_flight or f.config.pause:
        return _wait(Reason.CLAIM_INITIALIZE)
    return Decision(goal=Role.PRIMARY, reason=Reason.CLAIM_INITIALIZE, actions=(ClaimInitialize(),))


def _bootstrap_progress(f: Facts) -> Decision:
    local = f.local
    if local.last_action is ActionKind.BOOTSTRAP and not local.last_action_ok:
        return Decision(
            goal=Role.REPLICA, reason=Reason.BOOTSTRAP_FAILED, actions=(CancelInitialize(),)
        )
    if local.pg.data_dir_empty:
        return Decision(goal=Role.PRIMARY, reason=Reason.BOOTSTRAPPING, actions=(Bootstrap(),))
    if f.pg_down:
        start = StartPostgres(role=Role.PRIMARY)
        return Decision(goal=Role.PRIMARY, reason=Reason.BOOTSTRAPPING, actions=(start,))
    if not f.is_primary:
        return _wait(Reason.WAIT_FOR_STARTUP, Role.PRIMARY)
    return _bootstrap_lock(f)


def _bootstrap_lock(f: Facts) -> Decision:
    local = f.local
    if not f.holds_lock:
        if local.lock_op_in_flight:
            return _wait(Reason.BOOTSTRAP_TAKE_LOCK, Role.PRIMARY)
        acquire = AcquireLock(optime=local.pg.wal_position)
        return Decision(goal=Role.PRIMARY, reason=Reason.BOOTSTRAP_TAKE_LOCK, actions=(acquire,))
    done = SetInitialized(system_identifier=local.pg.system_identifier or "")
    actions = (done, SetBootstrapConfig(config=f.config))
    return Decision(goal=Role.PRIMARY, reason=Reason.BOOTSTRAP_DONE, actions=actions)


def paused(f: Facts) -> Decision | None:
    return _wait(Reason.PAUSED) if f.config.pause else None


def primary_without_lock(f: Facts) -> Decision | None:
    """A primary that does not hold the lock must not take writes for long."""
    if not f.is_primary:
        return None
    leader = f.cluster.leader
    if leader is not None or not f.local.dcs_reachable or not may_promote(f.local.tags):
        stop = StopPostgres(mode=StopMode.IMMEDIATE)
        return Decision(goal=Role.REPLICA, reason=Reason.DEMOTE_NOT_LEADER, actions=(stop,))
    if f.local.lock_op_in_flight:
        return _wait(Reason.TRY_LOCK, Role.PRIMARY)
    acquire = AcquireLock(optime=f.local.pg.wal_position)
    return Decision(goal=Role.PRIMARY, reason=Reason.TRY_LOCK, actions=(acquire,))


def down(f: Facts) -> Decision | None:
    if not f.pg_down and f.local.pg.state is not PgState.UNINITIALIZED:
        return None
    leader = f.live_leader
    if f.local.pg.data_dir_empty:
        return _clone(f, leader)
    if leader is None:
        start = StartPostgres(role=Role.REPLICA)
        return Decision(goal=Role.REPLICA, reason=Reason.START_STANDALONE, actions=(start,))
    if not leader.conn_host:
        return _wait(Reason.WAIT_FOR_LEADER)
    if _diverged(f, leader):
        rewind = Rewind(source=upstream_of(leader))
        return Decision(goal=Role.REPLICA, reason=Reason.REWIND, actions=(rewind,))
    start = StartPostgres(role=Role.REPLICA, upstream=upstream_of(leader))
    return Decision(goal=Role.REPLICA, reason=Reason.START_REPLICA, actions=(start,))


def _diverged(f: Facts, leader: MemberStatus) -> bool:
    """A former primary on another timeline than the leader must be rewound first."""
    if f.local.pg.shutdown_role is not Role.PRIMARY or leader.timeline == 0:
        return False
    if f.local.last_action is ActionKind.REWIND and f.local.last_action_ok:
        return False
    return f.local.pg.timeline != leader.timeline


def _clone(f: Facts, leader: MemberStatus | None) -> Decision:
    if leader is None or not leader.conn_host:
        reason = Reason.WAIT_FOR_BOOTSTRAP if f.cluster.leader is None else Reason.WAIT_FOR_LEADER
        return _wait(reason)
    sources = [m for m in f.cluster.members if m.tags.clonefrom and m.state is PgState.RUNNING]
    sources.sort(key=lambda m: m.name != leader.name)
    upstreams = tuple(upstream_of(m) for m in (*sources, leader) if m.conn_host)
    unique = tuple(dict.fromkeys(upstreams))
    return Decision(
        goal=Role.REPLICA, reason=Reason.CLONE, actions=(CreateReplica(sources=unique),)
    )


def replica(f: Facts) -> Decision:
    """Running (or starting) as a replica: follow the leader, or fail over."""
    if f.local.pg.state is not PgState.RUNNING:
        return _wait(Reason.WAIT_FOR_STARTUP)
    leader = f.live_leader
    if leader is None:
        return _election(f)
    if f.local.following != leader.name and leader.conn_host:
        follow = Follow(upstream=upstream_of(leader))
        return Decision(goal=Role.REPLICA, reason=Reason.FOLLOW, actions=(follow,))
    return Decision(goal=Role.REPLICA, reason=Reason.REPLICA_OK, wake_at=f.lease_wake_at)


def _election(f: Facts) -> Decision:
    request = f.cluster.failover
    named = request.candidate if request is not None else None
    if named is not None and named != f.local.name and f.cluster.member(named) is not None:
        return _wait(Reason.NOT_ELIGIBLE)
    if not _eligible(f, named == f.local.name):
        return _wait(Reason.NOT_ELIGIBLE)
    if named is None and better_candidate(f.me, f.cluster, f.config) is not None:
        return _wait(Reason.NOT_HEALTHIEST)
    if f.local.lock_op_in_flight or not f.local.dcs_reachable:
        return _wait(Reason.TRY_LOCK)
    acquire = AcquireLock(optime=f.local.pg.wal_position)
    return Decision(goal=Role.PRIMARY, reason=Reason.TRY_LOCK, actions=(acquire,))


def _eligible(f: Facts, named: bool) -> bool:
    if named:
        return may_promote(f.local.tags) and within_lag(f.me.wal_position, f.cluster, f.config)
    me = f.me
    view = f.cluster
    return is_candidate(me, view, f.config) or (
        me.name == view.last_leader_name and may_promote(me.tags)
    )


def _wait(reason: Reason, goal: Role = Role.REPLICA) -> Decision:
    return Decision(goal=goal, reason=reason)
