"""decide(): every HA rule, as one pure function.

`decide(cluster, local, config, now)` reads frozen views and returns a
Decision: the role to aim for, the actions for other actors, and the reason.
No I/O, no clock, no threads: `now` is the caller's monotonic time, and
leases are judged on it (safety rule 2).  The rules are tried in order; the
first that applies decides.  Whatever a rule decides, a lock holder also
renews its lock when renewal is due (see `_keep_lock`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from actors.ha import leader_rules, replica_rules
from actors.ha.facts import Facts
from messages.base import MemberName
from messages.cluster import ClusterView, HistoryEntry, PgState, Role
from messages.config import DynamicConfig, StopMode
from messages.dcs import RenewLock, SetHistory
from messages.ha import ActionKind, Decision, LocalView, Reason
from messages.postgres import StartPostgres, StopPostgres

Rule = Callable[[Facts], Decision | None]


def decide(cluster: ClusterView, local: LocalView, config: DynamicConfig, now: float) -> Decision:
    facts = Facts(cluster=cluster, local=local, config=config, now=now)
    for rule in RULES:
        decision = rule(facts)
        if decision is not None:
            decision = _keep_lock(facts, _start_backoff(facts, decision))
            return _publish_history(facts, decision)
    raise AssertionError("the last rule always decides")  # pragma: no cover


def _keep_lock(facts: Facts, decision: Decision) -> Decision:
    """Add a lock renewal when we hold the lock, keep it, and renewal is due."""
    if not facts.holds_lock or facts.local.lock_op_in_flight:
        return decision
    if any(isinstance(a, RenewLock) for a in decision.actions) or decision.goal is not Role.PRIMARY:
        return decision
    if not facts.renewal_due:
        return dataclasses.replace(decision, wake_at=_earliest(decision.wake_at, facts.renew_at))
    return dataclasses.replace(decision, actions=(leader_rules.renew(facts), *decision.actions))


def _start_backoff(facts: Facts, decision: Decision) -> Decision:
    """After a failed start, the next waits (Facts.start_retry_at); other rules stand."""
    retry_at = facts.start_retry_at
    if retry_at is None or facts.now >= retry_at:
        return decision
    if not any(isinstance(a, StartPostgres) for a in decision.actions):
        return decision
    wake_at = _earliest(decision.wake_at, retry_at)
    return Decision(goal=decision.goal, reason=Reason.START_BACKOFF, wake_at=wake_at)


def _publish_history(facts: Facts, decision: Decision) -> Decision:
    """The lock holder running as primary keeps the DCS history its timeline's own."""
    pg = facts.local.pg
    if not (facts.holds_lock and facts.is_primary and pg.history):
        return decision
    wanted = history_to_publish(pg.history, facts.cluster.history, facts.local.name)
    if wanted == facts.cluster.history:
        return decision
    return dataclasses.replace(decision, actions=(*decision.actions, SetHistory(entries=wanted)))


def history_to_publish(
    local: tuple[HistoryEntry, ...], published: tuple[HistoryEntry, ...], me: MemberName
) -> tuple[HistoryEntry, ...]:
    """Our history file's entries, keeping what the DCS already says of each (when a
    timeline began, who led it); the last one, our own promotion, names us."""
    known = {(e.timeline, e.lsn): e for e in published}
    merged = [known.get((e.timeline, e.lsn), e) for e in local]
    if merged[-1].new_leader is None:
        merged[-1] = dataclasses.replace(merged[-1], new_leader=me)
    return tuple(merged)


def _earliest(a: float | None, b: float | None) -> float | None:
    present = [t for t in (a, b) if t is not None]
    return min(present) if present else None


def _action_in_progress(f: Facts) -> Decision | None:
    """One PostgreSQL action at a time; only a stop may cut in.

    A member that lost the lock while PostgreSQL starts as primary or
    promotes stops it at once, rather than after the action made it a
    primary without the lock.
    """
    if f.local.action is None:
        return None
    if _lockless_primary(f):
        return replica_rules.stop_lockless()
    goal = Role.PRIMARY if f.holds_lock else Role.REPLICA
    return Decision(goal=goal, reason=Reason.ACTION_IN_PROGRESS, wake_at=f.lease_wake_at)


def _data_dir_error(f: Facts) -> Decision | None:
    """An unreadable data directory: nothing about the data can be judged.

    Never a divergence to rewind nor an empty directory to clone over.  A
    server still running on it is stopped (the holder also gives the lock
    up: a primary on a directory it cannot read is not fit to lead); then we
    wait, and decide again when the postmaster actor reads it again.
    """
    pg = f.local.pg
    if not pg.data_dir_error or f.config.pause:
        return None
    if f.holds_lock:
        return leader_rules.give_up(f, Reason.DATA_DIR_ERROR)
    running = pg.state in (PgState.RUNNING, PgState.STARTING)
    if running and f.local.action is not ActionKind.STOP:
        stop = StopPostgres(mode=StopMode.IMMEDIATE)
        return Decision(goal=Role.REPLICA, reason=Reason.DATA_DIR_ERROR, actions=(stop,))
    return Decision(goal=Role.REPLICA, reason=Reason.DATA_DIR_ERROR)


def _lockless_primary(f: Facts) -> bool:
    bootstrapping = f.local.init_claimed and f.cluster.leader is None
    if f.holds_lock or bootstrapping or f.config.pause:
        return False
    return f.becoming_primary


RULES: tuple[Rule, ...] = (
    leader_rules.lease_guard,
    _action_in_progress,
    _data_dir_error,
    replica_rules.bootstrap,
    leader_rules.leader,
    replica_rules.paused,
    replica_rules.primary_without_lock,
    replica_rules.down,
    replica_rules.replica,
)
