"""Rules for members without the lock: bootstrap, clone, follow, fail over.

A member without the lock never runs as primary: if it finds itself so, it
stops at once.  Otherwise it clones from the leader when empty, starts as a
replica (rewinding first when its timeline diverged), follows whoever leads,
and races for the lock only when no live leader exists and no fitter
candidate does.
"""

from __future__ import annotations

from actors.ha.candidates import (
    better_candidate,
    is_candidate,
    may_promote,
    sync_allows,
    unfit_reason,
    within_lag,
)
from actors.ha.facts import Facts, upstream_of
from messages.base import MemberName
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
from messages.postgres import (
    Bootstrap,
    CreateReplica,
    Follow,
    ProbePrimary,
    RestartPostgres,
    Rewind,
    StartPostgres,
    StopPostgres,
    Upstream,
)


def bootstrap(f: Facts) -> Decision | None:
    if f.local.init_claimed and (f.cluster.leader is None or f.holds_lock):
        return _bootstrap_progress(f)
    if f.cluster.initialize is not None or f.cluster.leader is not None:
        return None
    if not f.local.dcs_reachable:
        return None  # an empty view from an unreachable store proves nothing
    if not (f.local.pg.data_dir_empty or f.is_primary):
        return _wait_for_reinitialize(f)
    if f.local.lock_op_in_flight or f.config.pause:
        return _wait(Reason.CLAIM_INITIALIZE)
    return Decision(goal=Role.PRIMARY, reason=Reason.CLAIM_INITIALIZE, actions=(ClaimInitialize(),))


def _wait_for_reinitialize(f: Facts) -> Decision:
    """Data, but no cluster in the DCS (it was wiped, or this is a new namespace).

    Only a running primary re-creates the cluster around its data: another
    member winning the race would promote data that may lack acknowledged
    commits.  The others start as replicas, eligible once a leader exists.
    """
    if f.pg_down and not f.config.pause:
        start = StartPostgres(role=Role.REPLICA)
        return Decision(goal=Role.REPLICA, reason=Reason.START_STANDALONE, actions=(start,))
    return _wait(Reason.WAIT_FOR_BOOTSTRAP)


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
        return Decision(goal=Role.PRIMARY, reason=Reason.BOOTSTRAP_TAKE_LOCK, actions=(acquire(f),))
    done = SetInitialized(system_identifier=local.pg.system_identifier or "")
    actions = (done, SetBootstrapConfig(config=f.config))
    return Decision(goal=Role.PRIMARY, reason=Reason.BOOTSTRAP_DONE, actions=actions)


def paused(f: Facts) -> Decision | None:
    """Pause: nothing automatic, except that a running primary takes a free lock back
    (as Patroni's does), so a paused cluster whose lease ran out in a DCS outage has
    its leader again; no other member takes a lock in pause, so none competes.  An
    operator's switchover is no automatic action: its members go on as usual."""
    if not f.config.pause or _in_paused_switchover(f):
        return None
    free = f.cluster.leader is None and f.local.dcs_reachable
    if free and f.is_primary and not f.local.lock_op_in_flight:
        return Decision(goal=Role.PRIMARY, reason=Reason.PAUSED_TAKE_LOCK, actions=(acquire(f),))
    return _wait(Reason.PAUSED)


def _in_paused_switchover(f: Facts) -> bool:
    """Our part in an operator's switchover in pause: its candidate takes the lock the
    leader released cleanly (the usual election, which only the candidate may win); the
    leader that handed over starts again as a replica of whoever leads now (Patroni's
    demote).  The request stands until the candidate promoted: a former leader that
    only looks after that (frozen meanwhile, say) stays down until the resume."""
    request = f.paused_switchover
    if request is None:
        return False
    view = f.cluster
    if request.candidate == f.local.name:
        # only the lock its leader released cleanly: one that merely expired (the leader
        # frozen, cut) is no hand-over, and nobody fails over in pause
        handed = view.last_leader_clean and request.leader in (None, view.last_leader_name)
        return view.leader is None and handed
    pg, leader = f.local.pg, view.leader
    handed_over = request.leader in (None, f.local.name) and pg.shutdown_role is Role.PRIMARY
    return (
        handed_over
        and f.pg_down
        and pg.shut_down_cleanly
        and leader is not None
        and leader.name != f.local.name
    )


def primary_without_lock(f: Facts) -> Decision | None:
    """A primary that does not hold the lock stops at once (immediate-nolock).

    It does not try to take the lock while running as primary: a replica may
    win the same race and promote before we learn of it.  After the stop it
    races as a replica like anyone else (a former leader is still eligible).
    The one exception is a leader back from failsafe: every member promised
    it (failsafe_until) not to take the lock, so it takes the free lock again.
    """
    if not f.is_primary:
        return None
    if _failsafe_reacquire(f):
        if f.local.lock_op_in_flight:
            return _wait(Reason.FAILSAFE_REACQUIRE, Role.PRIMARY)
        return Decision(goal=Role.PRIMARY, reason=Reason.FAILSAFE_REACQUIRE, actions=(acquire(f),))
    return stop_lockless()


def _failsafe_reacquire(f: Facts) -> bool:
    until = f.local.failsafe_until
    if not f.config.failsafe_mode or until is None or f.cluster.leader is not None:
        return False
    return f.local.dcs_reachable and f.now < until - f.config.retry_timeout_s


def acquire(f: Facts) -> AcquireLock:
    """Take the lock with the timing we decided with (see AcquireLock)."""
    cfg = f.config
    return AcquireLock(
        optime=f.local.pg.wal_position, ttl_s=cfg.ttl_s, retry_timeout_s=cfg.retry_timeout_s
    )


def stop_lockless() -> Decision:
    stop = StopPostgres(mode=StopMode.IMMEDIATE)
    return Decision(goal=Role.REPLICA, reason=Reason.DEMOTE_NOT_LEADER, actions=(stop,))


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
    """Our WAL went past the point where the leader's timeline forked from ours.

    Judged from the leader's timeline history (the DCS history key): on an
    older timeline we are diverged if the leader's history does not pass
    through it, or if we have WAL beyond its switch point.  A running replica
    that streams replays the leader's WAL; a stopped former primary on an older
    timeline is handed to the rewind, which checks for itself.
    """
    pg = f.local.pg
    mine = pg.timeline
    if leader.timeline == 0 or mine == leader.timeline or pg.streaming_from is not None:
        return False  # streaming, we replay the leader's own WAL
    if f.local.last_action is ActionKind.REWIND and f.local.last_action_ok:
        return False
    if mine > leader.timeline or _rewind_must_judge(f):
        return True
    switch = _switch_lsn(f, mine)
    if switch is None:
        return bool(f.cluster.history)
    # stopped, wal_position is how far the data provably replayed (see offline_status)
    return pg.wal_position > switch


def _rewind_must_judge(f: Facts) -> bool:
    """Down on an older timeline where only pg_rewind, reading the WAL, can tell: a
    former primary (its WAL may go past its last checkpoint), or data that failed
    to start towards the leader's timeline.  pg_rewind leaves undiverged data alone."""
    if f.pg_running:
        return False
    failed_start = f.local.last_action is ActionKind.START and not f.local.last_action_ok
    return failed_start or f.local.pg.shutdown_role is Role.PRIMARY


def _switch_lsn(f: Facts, timeline: int) -> int | None:
    """Where the leader's history says `timeline` ended, if it passes through it."""
    return next((e.lsn for e in f.cluster.history if e.timeline == timeline), None)


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
    if _diverged(f, leader):
        stop = StopPostgres(mode=StopMode.FAST)
        return Decision(goal=Role.REPLICA, reason=Reason.REWIND, actions=(stop,))
    if f.local.following != leader.name and leader.conn_host:
        follow = Follow(upstream=upstream_of(leader))
        return Decision(goal=Role.REPLICA, reason=Reason.FOLLOW, actions=(follow,))
    if f.local.pg.hot_standby_blocked:
        # Stuck for good otherwise: PostgreSQL pauses replay until it is restarted.
        restart = RestartPostgres()
        return Decision(goal=Role.REPLICA, reason=Reason.RESTART_FOR_PRIMARY_SETTINGS,
                        actions=(restart,))  # fmt: skip
    return Decision(goal=Role.REPLICA, reason=Reason.REPLICA_OK, wake_at=f.lease_wake_at)


def _election(f: Facts) -> Decision:
    """No live leader: take the lock if we may, are the fittest, and nothing holds us back."""
    held = _not_eligible(f) or _held_back(f) or _probe_former_primary(f)
    if held is not None:
        return held
    return Decision(goal=Role.PRIMARY, reason=Reason.TRY_LOCK, actions=(acquire(f),))


def _not_eligible(f: Facts) -> Decision | None:
    named = _named_candidate(f)
    if named is not None and named != f.local.name:
        return _wait(Reason.NOT_ELIGIBLE)
    if f.local.watchdog_required and not f.local.watchdog_ok:
        return _wait(Reason.WATCHDOG_UNAVAILABLE)
    if not _eligible(f, named == f.local.name):
        return _wait(Reason.NOT_ELIGIBLE)
    if named is None and better_candidate(f.me, f.cluster, f.config) is not None:
        return _wait(Reason.NOT_HEALTHIEST)
    return None


def _held_back(f: Facts) -> Decision | None:
    """Eligible, but not now: a promise to a failsafe leader, or no way to write the lock."""
    promised = f.local.failsafe_leader_until
    if f.config.failsafe_mode and promised is not None and f.now < promised:
        return Decision(goal=Role.REPLICA, reason=Reason.FAILSAFE_LEADER_ALIVE, wake_at=promised)
    if f.local.lock_op_in_flight or not f.local.dcs_reachable:
        return _wait(Reason.TRY_LOCK)
    return None


def _probe_former_primary(f: Facts) -> Decision | None:
    """Patroni's last check: does the former primary still take writes?

    Only where we can tell: it failed (no clean release) and we know its
    address (see _former_primary).  A fresh probe (within loop_wait) that found
    it writable holds us back until it stops (its fence, or its own demotion,
    or -- a paused cluster resumed while its primary could not reach the DCS --
    its agent's return); one that could not reach it, or found it in recovery,
    lets us go on.
    """
    local = f.local
    target = _former_primary(f)
    if target is None:
        return None
    if local.probe_in_flight:
        return _wait(Reason.PROBE_FORMER_PRIMARY)
    probe, at = local.probe, local.probed_at
    fresh = probe is not None and at is not None and f.now - at < f.config.loop_wait_s
    if fresh and probe is not None and probe.name == target.name:
        if not probe.writable:
            return None
        assert at is not None
        wake = at + f.config.loop_wait_s
        return Decision(goal=Role.REPLICA, reason=Reason.FORMER_PRIMARY_ALIVE, wake_at=wake)
    action = ProbePrimary(upstream=target)
    return Decision(goal=Role.REPLICA, reason=Reason.PROBE_FORMER_PRIMARY, actions=(action,))


def _former_primary(f: Facts) -> Upstream | None:
    """Where the last leader's PostgreSQL listens, if it failed (no clean release):
    its member record's address, else the one the status record kept (a member
    record expires with its agent's lease; the status record does not)."""
    view = f.cluster
    name = view.last_leader_name
    if name is None or name == f.local.name or view.last_leader_clean:
        return None
    record = view.member(name)
    if record is not None and record.conn_host:
        return upstream_of(record)
    if view.last_leader_host:
        return Upstream(name=name, host=view.last_leader_host, port=view.last_leader_port)
    return None


def _named_candidate(f: Facts) -> MemberName | None:
    """The failover request's candidate, if it is us or fit; an unfit one is ignored.

    Waiting for a named candidate that can never take the lock would leave
    the cluster without a primary, so the others then race as usual.
    """
    request = f.cluster.failover
    if request is None or (request.leader is not None and not _handed_over(f, request.leader)):
        return None
    named = request.candidate
    if named is None or named == f.local.name:
        return named
    manual = request.leader is None
    return named if unfit_reason(named, f.cluster, f.config, manual=manual) is None else None


def _handed_over(f: Facts, leader: MemberName) -> bool:
    """A switchover's leader released the lock cleanly: its candidate may take it.

    A switchover that did not end so (the leader died or froze on the way) is
    void: the members elect the healthiest as after any failure.
    """
    view = f.cluster
    return view.last_leader_clean and view.last_leader_name == leader


def _eligible(f: Facts, named: bool) -> bool:
    """May we take a free lock?  The last leader may: it has every write it acknowledged.

    A candidate an operator named in a failover (no leader named) may too:
    the operator chose it, lag and sync key notwithstanding (as in Patroni).
    """
    me = f.me
    view = f.cluster
    if me.name == view.last_leader_name:
        return may_promote(me.tags)
    if named:
        request = view.failover
        if request is not None and request.leader is None:  # an operator's failover
            return may_promote(me.tags)
        return (
            may_promote(me.tags)
            and within_lag(me.wal_position, view, f.config)
            and sync_allows(me.name, view, f.config)
        )
    return is_candidate(me, view, f.config)


def _wait(reason: Reason, goal: Role = Role.REPLICA) -> Decision:
    return Decision(goal=goal, reason=reason)
