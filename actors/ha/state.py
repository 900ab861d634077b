"""The HA actor's memory, as a pure reducer: events in, state out.

HaActor and the simulator share this module, so the simulator exercises the
same bookkeeping the real node does: which action is in flight, when the
lease was last renewed (the *start* of the successful request, so the
leader's own judgement is never later than any observer's), whether we won
the initialise race.

A lock operation can fail in two ways, and they mean different things.  A
compare-and-set that lost (``ok=False``) means the lock is gone or someone
else's: forget the lease at once, so decide() demotes.  A store that did not
answer within retry_timeout means nothing is known, and the lease we last
proved stays our judgement (decide() demotes when it nears its end, or stays
up in failsafe mode).  A failure counts as unanswered when its detail is
UNREACHABLE, or when the leader-lock actor had already told us the store is
unreachable: it publishes DcsView(reachable=False) before the LockResult.
"""

from __future__ import annotations

import dataclasses
import operator

from actors.ha.facts import Facts
from actors.runtime.evolve import evolve
from messages.base import MemberName
from messages.cluster import ClusterView, LeaderRecord, PgState, Role
from messages.config import DynamicConfig, Tags
from messages.dcs import (
    AcquireLock,
    CancelInitialize,
    ClaimInitialize,
    DcsView,
    LockOp,
    LockResult,
    ReleaseLock,
    RenewLock,
)
from messages.gossip import FailsafeHeartbeat, HeardLeader
from messages.ha import Action, ActionDone, ActionKind, Decision, LocalView
from messages.postgres import (
    Bootstrap,
    CreateReplica,
    Follow,
    PostgresStatus,
    PrimaryProbed,
    ProbePrimary,
    Promote,
    Reinitialize,
    RestartPostgres,
    Rewind,
    StartPostgres,
    StopPostgres,
)

ACTION_KINDS: dict[type, ActionKind] = {
    StartPostgres: ActionKind.START,
    StopPostgres: ActionKind.STOP,
    RestartPostgres: ActionKind.RESTART,
    Promote: ActionKind.PROMOTE,
    Follow: ActionKind.FOLLOW,
    Bootstrap: ActionKind.BOOTSTRAP,
    CreateReplica: ActionKind.CREATE_REPLICA,
    Rewind: ActionKind.REWIND,
    Reinitialize: ActionKind.REINITIALIZE,
}
LOCK_OPS = (AcquireLock, RenewLock, ReleaseLock, ClaimInitialize, CancelInitialize)
UNREACHABLE = "unreachable"
"""LockResult.detail when the store did not answer: the outcome of the write is unknown."""
LOCK_RETRY_S = 1.0
"""After a lock operation the store did not answer, the next waits this long: the
leader-lock actor may answer from its cache at once, and a spin would follow."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Promise:
    """Not to take the lock before `until`: we acknowledged `heard`, a failsafe heartbeat."""

    heard: HeardLeader
    until: float


@dataclasses.dataclass(frozen=True, kw_only=True)  # a dict, not slots: see evolve
class HaState:
    name: MemberName
    tags: Tags = Tags()
    bootstrap_config: DynamicConfig = DynamicConfig()
    pg: PostgresStatus = PostgresStatus(state=PgState.STOPPED)
    view: ClusterView = ClusterView()
    have_view: bool = False
    dcs_reachable: bool = False
    lease_renewed_at: float | None = None
    lock_op_in_flight: bool = False
    action: ActionKind | None = None
    action_started_at: float | None = None
    last_action: ActionKind | None = None
    last_action_ok: bool = True
    last_action_done_at: float | None = None
    failed_starts: int = 0
    init_claimed: bool = False
    primary_start_began_at: float | None = None
    following: MemberName | None = None
    failover_seen_at: float | None = None
    """Monotonic time we first saw the pending failover/switchover request."""
    lease_ttl_s: float | None = None
    """The ttl our last successful acquire/renew wrote (see LocalView)."""
    lease_cap: float | None = None
    """See LocalView: the earliest end a lock write in flight (or unanswered) may set."""
    lock_retry_at: float | None = None
    """No lock operation before this (see LOCK_RETRY_S); counts as one in flight."""
    failsafe_until: float | None = None
    promises: tuple[Promise, ...] = ()
    """Failsafe leaders heard, and until when we promised them not to take the lock."""
    watchdog_required: bool = False
    watchdog_ok: bool = True
    probe: PrimaryProbed | None = None
    probed_at: float | None = None
    probe_in_flight: bool = False

    @property
    def config(self) -> DynamicConfig:
        return self.view.config or self.bootstrap_config


def on_pg_status(state: HaState, status: PostgresStatus) -> HaState:
    began = state.primary_start_began_at
    if status.state is PgState.RUNNING and status.role is Role.PRIMARY:
        began = None
    return evolve(state, pg=status, primary_start_began_at=began)


def on_dcs_view(state: HaState, event: DcsView, now: float) -> HaState:
    if not event.reachable:
        # The cache may predate our own last successful lock write; keep what we proved.
        return evolve(state, have_view=True, dcs_reachable=False)
    view = event.view
    leader = view.leader
    renewed = state.lease_renewed_at if leader is not None and leader.name == state.name else None
    claimed = state.init_claimed and not view.initialize
    return evolve(
        state,
        view=view,
        have_view=True,
        dcs_reachable=event.reachable,
        lease_renewed_at=renewed,
        lease_ttl_s=state.lease_ttl_s if renewed is not None else None,
        lease_cap=state.lease_cap if renewed is not None else None,
        init_claimed=claimed,
        primary_start_began_at=state.primary_start_began_at if renewed is not None else None,
        failover_seen_at=_failover_seen_at(state, view, now),
    )


def _failover_seen_at(state: HaState, view: ClusterView, now: float) -> float | None:
    if view.failover is None:
        return None
    if view.failover == state.view.failover and state.failover_seen_at is not None:
        return state.failover_seen_at
    return now


def on_lock_result(state: HaState, result: LockResult, now: float) -> HaState:
    state = evolve(state, lock_op_in_flight=False, lock_retry_at=None)
    if not result.ok and (result.detail == UNREACHABLE or not state.dcs_reachable):
        state = evolve(state, lock_retry_at=now + LOCK_RETRY_S)
        return _unanswered(state, result)
    if result.op in (LockOp.ACQUIRE, LockOp.RENEW):
        return _lock_held(state, result) if result.ok else _lock_gone(state)
    if result.op is LockOp.RELEASE and result.ok:
        return _lock_gone(state)
    if result.op is LockOp.CLAIM_INIT:
        view = state.view if result.ok else evolve(state.view, initialize="")
        return evolve(state, init_claimed=result.ok, view=view)
    if result.op is LockOp.CANCEL_INIT and result.ok:
        view = evolve(state.view, initialize=None)
        return evolve(state, init_claimed=False, view=view, last_action=None)
    return state


def _unanswered(state: HaState, result: LockResult) -> HaState:
    """No answer: keep a lease we proved; one never proved since we started counts as over.

    The record may still name us (the write may even have landed), so it is
    not forgotten -- only the lease is: dated so that it ended when this
    renewal began, decide() demotes and keeps renewing until one succeeds.
    Reachability itself is left to the leader-lock actor's DcsView events: one
    lost reply says nothing about the store, and only a DcsView could undo it.
    """
    if result.op is LockOp.RENEW and state.lease_renewed_at is None:
        ttl = state.lease_ttl_s or state.config.ttl_s
        ended = result.started_at - ttl
        return evolve(state, lease_renewed_at=ended, lease_ttl_s=ttl)
    return state


def _lock_held(state: HaState, result: LockResult) -> HaState:
    """Believe our own successful acquire before the watch echoes it back.

    A renewal proves only that the record named us when it landed: if the
    view meanwhile shows it gone or someone else's (we released it, say), a
    late "renewed" must not bring the lock back.
    """
    leader = state.view.leader
    ours = leader is not None and leader.name == state.name
    if result.op is LockOp.RENEW and not ours:
        return state
    ttl = result.ttl_s if result.ttl_s > 0 else state.config.ttl_s
    if leader is None or not ours:
        leader = LeaderRecord(name=state.name, ttl_s=ttl, observed_change_at=result.started_at)
    view = evolve(state.view, leader=leader)
    return evolve(
        state, view=view, lease_renewed_at=result.started_at, lease_ttl_s=ttl, lease_cap=None
    )


def _lock_gone(state: HaState) -> HaState:
    leader = state.view.leader
    view = state.view
    if leader is not None and leader.name == state.name:
        view = evolve(view, leader=None)
    return evolve(
        state,
        view=view,
        lease_renewed_at=None,
        lease_ttl_s=None,
        lease_cap=None,
        primary_start_began_at=None,
    )


def on_failsafe_heartbeat(state: HaState, beat: FailsafeHeartbeat, now: float) -> HaState:
    """Record (or end) the promise a failsafe leader's heartbeat asks of us.

    A promise is made here, before the acknowledgement is published (through
    NodeStatus), so the rules never act against a promise already given.  Only
    a newer heartbeat of the same incarnation saying it no longer leads by
    failsafe ends one early; otherwise it runs out on its own.
    """
    kept = [p for p in state.promises if p.heard.name != beat.leader]
    old = next((p for p in state.promises if p.heard.name == beat.leader), None)
    if old is not None and old.heard.incarnation == beat.incarnation and old.heard.seq >= beat.seq:
        return state
    if beat.ttl_s > 0:
        heard = HeardLeader(name=beat.leader, incarnation=beat.incarnation, seq=beat.seq)
        until = now + beat.ttl_s
        if old is not None:
            until = max(until, old.until)
        kept.append(Promise(heard=heard, until=until))
    elif old is not None and old.heard.incarnation != beat.incarnation:
        kept.append(old)  # another incarnation's promise stands until it runs out
    return evolve(state, promises=tuple(sorted(kept, key=lambda p: p.heard.name)))


def live_promises(state: HaState, now: float) -> tuple[Promise, ...]:
    return tuple(p for p in state.promises if p.until > now)


def on_probe(state: HaState, probed: PrimaryProbed, now: float) -> HaState:
    return evolve(state, probe=probed, probed_at=now, probe_in_flight=False)


def on_action_done(state: HaState, done: ActionDone, now: float) -> HaState:
    """Record a finished action; a late report of one a stop superseded is dropped."""
    if done.kind is not state.action:
        return state
    failed_starts = state.failed_starts
    if done.kind is ActionKind.START:
        failed_starts = 0 if done.ok else failed_starts + 1
    return evolve(
        state,
        action=None,
        action_started_at=None,
        last_action=done.kind,
        last_action_ok=done.ok,
        last_action_done_at=now,
        failed_starts=failed_starts,
    )


def after_decision(state: HaState, decision: Decision, now: float) -> HaState:
    for action in decision.actions:
        state = _started(state, action, now)
    return _primary_starting(state, now)


def _primary_starting(state: HaState, now: float) -> HaState:
    """Time primary_start_timeout for a starting PostgreSQL we never asked to start.

    After our own restart the lock holder may find PostgreSQL in a long crash
    recovery: the timeout then runs from the first decision that saw it.
    """
    leader = state.view.leader
    if state.primary_start_began_at is not None or state.pg.state is not PgState.STARTING:
        return state
    if leader is None or leader.name != state.name or state.lease_renewed_at is None:
        return state
    return evolve(state, primary_start_began_at=now)


def _started(state: HaState, action: Action, now: float) -> HaState:
    if isinstance(action, CancelInitialize):
        # Cancel once: the delete is unconditional, so a repeat could remove the
        # claim of whoever raced next and let two members bootstrap.
        return evolve(state, lock_op_in_flight=True, init_claimed=False, last_action=None)
    if isinstance(action, AcquireLock | RenewLock):
        # Until it is answered, the write may land and set a shorter lease than ours.
        cap = now + action.ttl_s
        cap = cap if state.lease_cap is None else min(cap, state.lease_cap)
        return evolve(state, lock_op_in_flight=True, lease_cap=cap)
    if isinstance(action, LOCK_OPS):
        return evolve(state, lock_op_in_flight=True)
    if isinstance(action, ProbePrimary):
        return evolve(state, probe_in_flight=True)
    kind = ACTION_KINDS.get(type(action))
    if kind is None:
        return state
    state = evolve(state, action=kind, action_started_at=now)
    if isinstance(action, StartPostgres | Follow) and action.upstream is not None:
        state = evolve(state, following=action.upstream.name)
    elif isinstance(action, StartPostgres | Promote):
        state = evolve(state, following=None)
    if isinstance(action, StartPostgres) and action.role is Role.PRIMARY:
        began = state.primary_start_began_at if state.primary_start_began_at is not None else now
        state = evolve(state, primary_start_began_at=began)
    return state


_DERIVED = ("failsafe_leader_until", "failsafe_acks", "wall_time")
_KEPT = tuple(f.name for f in dataclasses.fields(LocalView) if f.name not in _DERIVED)
"""The LocalView fields HaState keeps under the same names (a test checks they exist)."""
_kept = operator.attrgetter(*_KEPT)


def local_view(state: HaState, wall_time: float, now: float | None = None) -> LocalView:
    """What decide() reads of us; promises count only while they run (at `now`), and a
    lock operation waiting out LOCK_RETRY_S counts as one in flight."""
    kept = dict(zip(_KEPT, _kept(state), strict=True))
    retry_at = state.lock_retry_at
    if now is not None and retry_at is not None and now < retry_at:
        kept["lock_op_in_flight"] = True
    promises = state.promises if now is None else live_promises(state, now)
    until = max((p.until for p in promises), default=None)
    acks = tuple(p.heard for p in promises)
    return LocalView(**kept, failsafe_leader_until=until, failsafe_acks=acks, wall_time=wall_time)


_last_facts: tuple[HaState, float, Facts] | None = None


def facts_at(state: HaState, now: float) -> Facts:
    """The Facts of `state` at `now` without a wall time, as the fence's arming and the
    published status both read them after a decision.

    Both ask for the same state at the same `now` in every step, and a Facts costs
    as much as the decision itself (the simulator runs millions): the last one is
    kept, matched by the state's identity (it is frozen, and held here, so its id
    is not reused).  One tuple, replaced whole, so threads sharing it see an entry
    that is either theirs or another's, never half of one.
    """
    global _last_facts
    last = _last_facts
    if last is not None and last[0] is state and last[1] == now:
        return last[2]
    local = local_view(state, 0.0, now)
    facts = Facts(cluster=state.view, local=local, config=state.config, now=now)
    _last_facts = (state, now, facts)
    return facts
