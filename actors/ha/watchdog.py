"""When the fence must kill PostgreSQL if the agent stops running: a pure rule.

The lock holder's lease ends for the others at Facts.lease_deadline: ttl
(the one its last renewal wrote) after that renewal began, or, in failsafe,
when the members' promises run out.  The fence fires a margin before that,
so a frozen or dead agent's PostgreSQL is gone before anyone else may
promote.  The margin is at most half of retry_timeout: a healthy agent that
cannot renew demotes itself at retry_timeout before the lease ends, and must
get there first.  Deadline and margin come from the one place decide() takes
them from, so a config change can never leave the fence later than the lease.
In pause nothing is fenced (Patroni disables its watchdog in pause: no
member takes over a paused cluster).
"""

from __future__ import annotations

from actors.ha.state import HaState, facts_at
from messages.cluster import PgState, Role
from messages.config import DynamicConfig
from messages.ha import Decision
from messages.postgres import ArmWatchdog, DisarmWatchdog

WatchdogCommand = ArmWatchdog | DisarmWatchdog


def margin_s(config: DynamicConfig, safety_margin_s: float) -> float:
    """How long before the lease's end the fence fires."""
    return min(safety_margin_s, config.retry_timeout_s / 2)


def watchdog_command(
    state: HaState, decision: Decision, now: float, safety_margin_s: float
) -> WatchdogCommand | None:
    """Arm while we hold a lease (the DCS's or failsafe's); disarm once no primary
    can run here, or in pause; None (keep the last arming) while one still may."""
    del decision  # the state after the decision says everything
    config = state.config
    if config.pause:
        return DisarmWatchdog()
    deadline = facts_at(state, now).lease_deadline
    if deadline is not None:
        return ArmWatchdog(fire_at=deadline - margin_s(config, safety_margin_s))
    if _may_take_writes(state):
        return None  # lost the lock: the demotion under way must finish, or the fence fires
    return DisarmWatchdog()


def _may_take_writes(state: HaState) -> bool:
    pg = state.pg
    if state.action is not None or pg.state in (PgState.STARTING, PgState.STOPPING):
        return True
    return pg.state is PgState.RUNNING and pg.role is not Role.REPLICA
