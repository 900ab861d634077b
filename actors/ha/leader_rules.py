"""Rules for the member that holds the leader lock.

The lock holder keeps PostgreSQL running as primary: it promotes after taking
the lock, restarts a crashed primary for at most primary_start_timeout, hands
over on a switchover, and demotes at once when its lease may expire for
others before it can renew (safety rule 1).
"""

from __future__ import annotations

from actors.ha.candidates import is_candidate, may_promote, unfit_reason
from actors.ha.facts import Facts
from messages.base import Lsn
from messages.cluster import FailoverRequest, MemberStatus, PgState, Role
from messages.config import StopMode, SyncMode
from messages.dcs import ClearFailover, ReleaseLock, RenewLock
from messages.ha import Action, ActionKind, Decision, Reason
from messages.postgres import Promote, StartPostgres, StopPostgres


def lease_guard(f: Facts) -> Decision | None:
    """Checked before every other rule: a lease near its end overrides whatever we were doing."""
    if f.holds_lock and f.lease_expiring:
        return lease_expiring(f)
    return None


def leader(f: Facts) -> Decision | None:
    if not f.holds_lock:
        return None
    if (special := _paused_fenceless_or_failsafe(f)) is not None:
        return special
    if f.local.lease_renewed_at is None and not f.is_primary:
        # After a restart we only know when *we* first saw the record: renew
        # before starting or promoting a primary on a lease we never proved.
        return _hold(f, Reason.LEADER_RENEW)
    state = f.local.pg.state
    if state is PgState.RUNNING:
        return _running(f)
    if state is PgState.STARTING:
        return _starting(f)
    return _down(f)


def _paused_fenceless_or_failsafe(f: Facts) -> Decision | None:
    """Pause holds everything but an operator's switchover to a named candidate (as in
    Patroni); a required fence that does not hold gives the lock up (Patroni's watchdog
    mode required); failsafe keeps the primary as it is."""
    if f.config.pause:
        return _paused(f)
    if f.local.watchdog_required and not f.local.watchdog_ok:
        return give_up(f, Reason.WATCHDOG_UNAVAILABLE)
    if f.failsafe_deadline is not None and f.leaning_on_failsafe:
        return _hold(f, Reason.FAILSAFE)
    return None


def _paused(f: Facts) -> Decision | None:
    """Paused: a switchover from us to a named candidate goes as any switchover does; as
    its candidate, we take over (None: the usual rules promote); anything else waits."""
    request = f.paused_switchover
    if request is not None and request.candidate == f.local.name:
        return None
    if request is not None and request.leader in (None, f.local.name):
        if f.is_primary:
            return _switchover(f, request)
        if f.pg_down and f.local.pg.shut_down_cleanly and _handing_over(f):
            return _paused_hand_over(f)
    if f.cluster.failover is None and _stopped_for_a_switchover(f):
        return _abandon_paused_hand_over(f, "the switchover did not happen")
    return _paused_hold(f)


def _stopped_for_a_switchover(f: Facts) -> bool:
    """Our PostgreSQL is down from our own clean stop, which in pause is only ever a
    switchover's: it ended without one, and nothing else starts it while paused.  (After
    an agent restart the last action is forgotten: it then stays down until the resume.)"""
    pg = f.local.pg
    ours = f.local.last_action is ActionKind.STOP and f.local.last_action_ok
    return f.pg_down and ours and pg.shut_down_cleanly and pg.shutdown_role is Role.PRIMARY


def _paused_hold(f: Facts) -> Decision:
    """Hold on in pause; any other request stored is dropped: kept, it would fire on
    resume, long after the operator gave up on it."""
    if f.cluster.failover is None:
        return _hold(f, Reason.PAUSED)
    return Decision(goal=Role.PRIMARY, reason=Reason.PAUSED_REQUEST_DROPPED,
                    actions=(ClearFailover(),), wake_at=f.lease_wake_at)  # fmt: skip


def _paused_hand_over(f: Facts) -> Decision:
    """Stopped for a switchover in pause: as _hand_over, but if it ends without one --
    refused, or the lease near its end before the candidate caught up -- nothing else
    would start PostgreSQL again while paused: we do, as the primary we still are."""
    decision = _hand_over(f)
    if decision.reason is not Reason.SWITCHOVER_REFUSED:
        return decision
    return _abandon_paused_hand_over(f, decision.detail or "the candidate is not fit")


def _abandon_paused_hand_over(f: Facts, why: str) -> Decision:
    """Back as primary on a lease lease_guard just judged live (safety rule 1): in
    pause only a clean release of ours lets the candidate take the lock."""
    clear = (ClearFailover(),) if f.cluster.failover is not None else ()
    return Decision(goal=Role.PRIMARY, reason=Reason.SWITCHOVER_REFUSED,
                    actions=(*clear, StartPostgres(role=Role.PRIMARY)), detail=why)  # fmt: skip


def _running(f: Facts) -> Decision:
    if f.local.pg.role is Role.REPLICA:
        if not _sync_key_claimed(f):
            return _hold(f, Reason.PROMOTE)
        return Decision(goal=Role.PRIMARY, reason=Reason.PROMOTE, actions=(Promote(),))
    return _running_primary(f)


def _sync_key_claimed(f: Facts) -> bool:
    """Synchronous mode: a replica's data becomes a primary only once the sync key names us alone.

    A new primary has no synchronous standby yet and acknowledges writes on
    its own; a standby the key still lists (from an earlier primary, or from
    our own earlier term) could then be promoted without them.  Patroni
    writes {leader: me, sync_standby: none} before promoting; here the
    SyncReplicationActor does, as soon as this member holds the lock.
    """
    if f.config.synchronous_mode is SyncMode.OFF:
        return True
    sync = f.cluster.sync
    return sync.leader == f.local.name and not sync.sync_standbys


def lease_expiring(f: Facts) -> Decision:
    """Our lease may end for others soon: stop taking writes now, and try to renew.

    The renewal is a compare-and-set on a record that still names us, so it can
    only succeed if nobody took the lock; then we may start again as primary.
    In pause mode PostgreSQL is left alone (nobody fails over while paused).
    """
    if f.config.pause:
        if f.pg_down and _handing_over(f):
            # Never a start on a lease we may lose: drop the request and renew; if the
            # renewal holds, _paused starts us again as the primary we still are.
            return Decision(goal=Role.PRIMARY, reason=Reason.SWITCHOVER_REFUSED,
                            actions=(ClearFailover(),),
                            detail="the candidate did not catch up within the lease")  # fmt: skip
        return _paused_hold(f)
    if f.pg_down and _handing_over(f):
        return _release(f)
    actions: list[Action] = []
    if _may_take_writes(f):
        actions.append(StopPostgres(mode=StopMode.IMMEDIATE))
    if not f.local.lock_op_in_flight:
        actions.append(renew(f))
    return Decision(goal=Role.REPLICA, reason=Reason.LEASE_EXPIRING, actions=tuple(actions))


def renew(f: Facts) -> RenewLock:
    """A renewal carrying the timing it was decided with (one source of truth)."""
    cfg = f.config
    return RenewLock(
        optime=f.local.pg.wal_position, ttl_s=cfg.ttl_s, retry_timeout_s=cfg.retry_timeout_s
    )


def _may_take_writes(f: Facts) -> bool:
    """The lock holder's PostgreSQL is, or may soon be, a primary (an idle replica is harmless).

    Broader than Facts.becoming_primary: a holder only ever starts PostgreSQL
    as primary, so any start in progress counts, whatever role it reports.
    """
    pg, action = f.local.pg, f.local.action
    if action is ActionKind.STOP:
        return False
    if action in _MAY_END_PRIMARY:
        return True  # whatever the last report says (crashed, say): the action decides
    if pg.state not in (PgState.RUNNING, PgState.STARTING):
        return False
    return pg.role is not Role.REPLICA or action is not None


_MAY_END_PRIMARY = frozenset({ActionKind.START, ActionKind.RESTART, ActionKind.PROMOTE})
"""Actions in progress that may leave a running primary behind."""


def _hold(f: Facts, reason: Reason) -> Decision:
    return Decision(goal=Role.PRIMARY, reason=reason, wake_at=f.lease_wake_at)


def _running_primary(f: Facts) -> Decision:
    request = f.cluster.failover
    if request is None:
        return _hold(f, Reason.LEADER_RENEW)
    if request.candidate == f.local.name or (
        request.leader is not None and request.leader != f.local.name
    ):
        return Decision(goal=Role.PRIMARY, reason=Reason.FAILOVER_DONE, actions=(ClearFailover(),))
    return _switchover(f, request)


def _switchover(f: Facts, request: FailoverRequest) -> Decision:
    if request.scheduled_at is not None and f.local.wall_time < request.scheduled_at:
        wake = f.now + (request.scheduled_at - f.local.wall_time)
        return Decision(goal=Role.PRIMARY, reason=Reason.SWITCHOVER_SCHEDULED, wake_at=wake)
    if (why := _refused(f, request)) is not None:
        if _may_become_fit(f, request) and f.now < _grace_end(f):
            # Member records lag the servers by up to a loop: a candidate that was
            # streaming a moment ago may look behind or not yet running.  Wait for
            # a fresh record (it refreshes on seeing the request) before refusing.
            return Decision(
                goal=Role.PRIMARY,
                reason=Reason.SWITCHOVER_WAIT,
                wake_at=_grace_end(f),
                detail=why,
            )
        return _refuse(why)
    stop = StopPostgres(mode=StopMode.FAST, checkpoint_first=True)
    return Decision(goal=Role.REPLICA, reason=Reason.SWITCHOVER_STOP, actions=(stop,))


def _refused(f: Facts, request: FailoverRequest, *, judge_lag: bool = True) -> str | None:
    if request.candidate is not None:
        return unfit_reason(request.candidate, f.cluster, f.config, judge_lag=judge_lag)
    fit = [
        m for m in f.cluster.members if is_candidate(m, f.cluster, f.config, judge_lag=judge_lag)
    ]
    return None if fit else "no member is fit to take over"


def _may_become_fit(f: Facts, request: FailoverRequest) -> bool:
    """A member that may be promoted at all: its state and lag are a moment's news."""
    names = (
        [request.candidate]
        if request.candidate is not None
        else [m.name for m in f.cluster.members if m.name != f.local.name]
    )
    members = [f.cluster.member(n) for n in names]
    return any(m is not None and may_promote(m.tags) for m in members)


def _grace_end(f: Facts) -> float:
    seen = f.local.failover_seen_at if f.local.failover_seen_at is not None else f.now
    return seen + f.config.loop_wait_s + f.config.retry_timeout_s


def _refuse(why: str) -> Decision:
    return Decision(
        goal=Role.PRIMARY,
        reason=Reason.SWITCHOVER_REFUSED,
        actions=(ClearFailover(),),
        detail=why,
    )


def _starting(f: Facts) -> Decision:
    if _start_timed_out(f):
        return give_up(f)
    return _hold(f, Reason.WAIT_PRIMARY_START)


def _down(f: Facts) -> Decision:
    if _handing_over(f):
        return _hand_over(f)
    if _start_timed_out(f):
        return give_up(f)
    if f.local.pg.shutdown_role is not Role.PRIMARY and not _sync_key_claimed(f):
        # Start a replica's data as a replica first: the SyncReplicationActor
        # claims the key for a running replica, and then we promote it.
        start = StartPostgres(role=Role.REPLICA)
        return Decision(goal=Role.PRIMARY, reason=Reason.RESTART_AS_PRIMARY, actions=(start,))
    start = StartPostgres(role=Role.PRIMARY)
    return Decision(goal=Role.PRIMARY, reason=Reason.RESTART_AS_PRIMARY, actions=(start,))


def _handing_over(f: Facts) -> bool:
    """A request from us -- or from no one in particular, meaning whoever leads -- to hand over."""
    request = f.cluster.failover
    if request is None or request.candidate == f.local.name:
        return False
    return request.leader in (None, f.local.name)


def _hand_over(f: Facts) -> Decision:
    """Stopped for a switchover: release once the candidate has our last checkpoint.

    While we wait we stop renewing, so the wait is bounded by our lease: when
    it nears its end, lease_expiring() releases anyway.  A candidate that
    became unfit meanwhile ends the switchover, and we start again as primary.
    """
    request = f.cluster.failover
    assert request is not None
    if not f.local.pg.shut_down_cleanly:
        # Stopped by something else (an immediate stop near the lease's end, a crash):
        # no hand-over to wait for; the WAL may run past the checkpoint.
        return _release(f)
    # Lag is _target_caught_up's to judge: the candidate's record trails our checkpoint.
    if (why := _refused(f, request, judge_lag=False)) is not None:
        return _refuse(why)
    if not _target_caught_up(f, request):
        return Decision(goal=Role.REPLICA, reason=Reason.SWITCHOVER_STOP, wake_at=f.lease_wake_at)
    return _release(f)


def _target_caught_up(f: Facts, request: FailoverRequest) -> bool:
    goal = _checkpoint(f)
    targets: list[MemberStatus | None] = [f.cluster.member(request.candidate)]
    if request.candidate is None:
        targets = [m for m in f.cluster.members if is_candidate(m, f.cluster, f.config)]
    return any(m is not None and m.wal_position >= goal for m in targets)


def _checkpoint(f: Facts) -> Lsn:
    pg = f.local.pg
    return pg.checkpoint_lsn if pg.checkpoint_lsn is not None else pg.wal_position


def _release(f: Facts) -> Decision:
    if f.local.lock_op_in_flight:  # a renewal's late success must not outlive the release
        return Decision(goal=Role.REPLICA, reason=Reason.SWITCHOVER_RELEASE)
    if f.local.pg.shut_down_cleanly:
        # Nothing was written after the checkpoint: nobody may be behind it.
        release = ReleaseLock(optime=_checkpoint(f), clean=True)
    else:
        # The WAL may run past the checkpoint: the last position we published stands.
        release = ReleaseLock()
    return Decision(goal=Role.REPLICA, reason=Reason.SWITCHOVER_RELEASE, actions=(release,))


def _start_timed_out(f: Facts) -> bool:
    began = f.local.primary_start_began_at
    if began is None:
        return False
    return f.now - began >= f.config.primary_start_timeout_s


def give_up(f: Facts, reason: Reason = Reason.PRIMARY_START_TIMEOUT) -> Decision:
    """Stop being (or trying to be) primary and let another member take over.

    The release waits for any lock operation in flight: a renewal answered
    after the release landed would otherwise look like a fresh lease.
    """
    actions: list[StopPostgres | ReleaseLock] = []
    if not f.pg_down and f.local.action is not ActionKind.STOP:
        actions.append(StopPostgres(mode=StopMode.IMMEDIATE))
    if not f.local.lock_op_in_flight:
        actions.append(ReleaseLock())
    return Decision(goal=Role.REPLICA, reason=reason, actions=tuple(actions))
