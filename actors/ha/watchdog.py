"""When the fence must kill PostgreSQL if the agent stops running: a pure rule.

The lock holder's lease ends for the others ttl after its last renewal
began (safety rule 2); the fence fires a margin before that, so a frozen or
dead agent's PostgreSQL is gone before anyone else may promote.  The margin
is at most half of retry_timeout: a healthy agent that cannot renew demotes
itself at retry_timeout before the lease ends, and must get there first.
"""

from __future__ import annotations

from actors.ha.state import HaState
from messages.cluster import PgState, Role
from messages.config import DynamicConfig
from messages.ha import Decision, Reason
from messages.postgres import ArmWatchdog, DisarmWatchdog

WatchdogCommand = ArmWatchdog | DisarmWatchdog


def fire_after(config: DynamicConfig, safety_margin_s: float) -> float:
    """Seconds from the start of a renewal to the fence's firing."""
    return config.ttl_s - min(safety_margin_s, config.retry_timeout_s / 2)


def watchdog_command(
    state: HaState, decision: Decision, now: float, safety_margin_s: float
) -> WatchdogCommand | None:
    """Arm while we hold the lock (or stay primary by failsafe); disarm once no
    primary can run here; None (keep the last arming) while one may still."""
    offset = fire_after(state.config, safety_margin_s)
    if decision.reason is Reason.FAILSAFE:
        return ArmWatchdog(fire_at=now + offset)
    if state.lease_renewed_at is not None:
        return ArmWatchdog(fire_at=state.lease_renewed_at + offset)
    if _may_take_writes(state):
        return None  # lost the lock: the demotion under way must finish, or the fence fires
    return DisarmWatchdog()


def _may_take_writes(state: HaState) -> bool:
    pg = state.pg
    if state.action is not None or pg.state in (PgState.STARTING, PgState.STOPPING):
        return True
    return pg.state is PgState.RUNNING and pg.role is not Role.REPLICA
