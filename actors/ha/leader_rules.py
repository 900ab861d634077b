"""Rules for the member that holds the leader lock.

The lock holder keeps PostgreSQL running as primary: it promotes after taking
the lock, restarts a crashed primary for at most primary_start_timeout, hands
over on a switchover, and demotes at once when its lease may expire for
others before it can renew (safety rule 1).
"""

from __future__ import annotations

from actors.ha.candidates import is_candidate, unfit_reason
from actors.ha.facts import Facts
from messages.cluster import FailoverRequest, PgState, Role
from messages.config import StopMode
from messages.dcs import ClearFailover, ReleaseLock
from messages.ha import Decision, Reason
from messages.postgres import Promote, StartPostgres, StopPostgres


def leader(f: Facts) -> Decision | None:
    if not f.holds_lock:
        return None
    if f.lease_expiring:
        return lease_expiring(f)
    if f.config.pause:
        return _hold(f, Reason.PAUSED)
    state = f.local.pg.state
    if state is PgState.RUNNING:
        return _running(f)
    if state is PgState.STARTING:
        return _starting(f)
    return _down(f)


def _running(f: Facts) -> Decision:
    if f.local.pg.role is Role.REPLICA:
        return Decision(goal=Role.PRIMARY, reason=Reason.PROMOTE, actions=(Promote(),))
    return _running_primary(f)


def lease_expiring(f: Facts) -> Decision:
    """Our lease may end for others soon: stop accepting writes now."""
    if f.config.failsafe_mode and not f.local.dcs_reachable and f.local.failsafe_confirmed:
        return _hold(f, Reason.FAILSAFE)
    actions = (StopPostgres(mode=StopMode.IMMEDIATE),) if f.is_primary else ()
    return Decision(goal=Role.REPLICA, reason=Reason.LEASE_EXPIRING, actions=actions)


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
    if request.candidate is not None:
        refused = unfit_reason(request.candidate, f.cluster, f.config)
    else:
        fit = [m for m in f.cluster.members if is_candidate(m, f.cluster, f.config)]
        refused = None if fit else "no member is fit to take over"
    if refused is not None:
        return Decision(
            goal=Role.PRIMARY, reason=Reason.SWITCHOVER_REFUSED, actions=(ClearFailover(),)
        )
    stop = StopPostgres(mode=StopMode.FAST, checkpoint_first=True)
    return Decision(goal=Role.REPLICA, reason=Reason.SWITCHOVER_STOP, actions=(stop,))


def _starting(f: Facts) -> Decision:
    if _start_timed_out(f):
        return _give_up(f)
    return _hold(f, Reason.WAIT_PRIMARY_START)


def _down(f: Facts) -> Decision:
    request = f.cluster.failover
    if request is not None and request.leader == f.local.name:
        release = ReleaseLock(optime=f.local.pg.checkpoint_lsn)
        return Decision(goal=Role.REPLICA, reason=Reason.SWITCHOVER_RELEASE, actions=(release,))
    if _start_timed_out(f):
        return _give_up(f)
    start = StartPostgres(role=Role.PRIMARY)
    return Decision(goal=Role.PRIMARY, reason=Reason.RESTART_AS_PRIMARY, actions=(start,))


def _start_timed_out(f: Facts) -> bool:
    began = f.local.primary_start_began_at
    if began is None:
        return False
    return f.now - began >= f.config.primary_start_timeout_s


def _give_up(f: Facts) -> Decision:
    actions: tuple[StopPostgres | ReleaseLock, ...] = (ReleaseLock(),)
    if not f.pg_down:
        actions = (StopPostgres(mode=StopMode.IMMEDIATE), ReleaseLock())
    return Decision(goal=Role.REPLICA, reason=Reason.PRIMARY_START_TIMEOUT, actions=actions)
