"""Deliberately broken rules, to show that the simulator notices a wrong rule.

Each mutation patches the real modules of actors/ha (or, for one, the
simulated leader-lock actor) for the duration of a `with applied(name):`
block.  Rules are referenced from decide.RULES by object, so replacing a
rule means rebuilding that tuple, not just a module attribute.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterator
from typing import Any

from actors.ha import candidates, decide, leader_rules, replica_rules
from actors.ha import state as ha_state
from actors.ha.facts import Facts
from messages.cluster import PgState, Role
from messages.config import StopMode
from messages.dcs import AcquireLock, CancelInitialize, ClaimInitialize
from messages.ha import Action, Decision, Reason
from messages.postgres import Promote, StartPostgres, StopPostgres

from .node import Node

Patch = tuple[object, str, object]


def _no_lag_check() -> list[Patch]:
    always: Callable[..., bool] = lambda *_: True  # noqa: E731
    return [(candidates, "within_lag", always), (replica_rules, "within_lag", always)]


def _any_sync_standby() -> list[Patch]:
    always: Callable[..., bool] = lambda *_: True  # noqa: E731
    return [(candidates, "sync_allows", always), (replica_rules, "sync_allows", always)]


def _no_healthiest_check() -> list[Patch]:
    return [(replica_rules, "better_candidate", lambda *_: None)]


def _rules(old: object, new: object | None) -> list[Patch]:
    rules = tuple(new if r is old else r for r in decide.RULES if new is not None or r is not old)
    return [(decide, "RULES", rules)]


def _no_lease_demotion() -> list[Patch]:
    return _rules(leader_rules.lease_guard, None)


def _lockless_primary_keeps_running() -> list[Patch]:
    """Also without the probe of the former primary: that independent defence would
    otherwise hold every candidate back while the broken primary runs."""
    never: Callable[[Facts], None] = lambda _: None  # noqa: E731
    return [
        *_rules(replica_rules.primary_without_lock, never),
        (decide, "_lockless_primary", never),
        (replica_rules, "_probe_former_primary", never),
    ]


def _racing_primary(f: Facts) -> Decision | None:
    """The rule as it was: a primary without the lock races for it while taking writes."""
    if not f.is_primary:
        return None
    if f.cluster.leader is not None or not f.local.dcs_reachable:
        stop = StopPostgres(mode=StopMode.IMMEDIATE)
        return Decision(goal=Role.REPLICA, reason=Reason.DEMOTE_NOT_LEADER, actions=(stop,))
    if f.local.lock_op_in_flight:
        return Decision(goal=Role.PRIMARY, reason=Reason.TRY_LOCK)
    acquire = AcquireLock(optime=f.local.pg.wal_position)
    return Decision(goal=Role.PRIMARY, reason=Reason.TRY_LOCK, actions=(acquire,))


def _lockless_primary_races() -> list[Patch]:
    return _rules(replica_rules.primary_without_lock, _racing_primary)


def _eager_leader(f: Facts) -> Decision | None:
    """The holder's rule without "renew first after a restart": start/promote on a guessed lease."""
    if not f.holds_lock:
        return None
    if f.local.pg.state is PgState.RUNNING and f.local.pg.role is Role.REPLICA:
        return Decision(goal=Role.PRIMARY, reason=Reason.PROMOTE, actions=(Promote(),))
    if f.pg_down and f.cluster.failover is None:
        start = StartPostgres(role=Role.PRIMARY)
        return Decision(goal=Role.PRIMARY, reason=Reason.RESTART_AS_PRIMARY, actions=(start,))
    return leader_rules.leader(f)


def _restart_before_renew() -> list[Patch]:
    return _rules(leader_rules.leader, _eager_leader)


def _cached(fn: Callable[[Facts], Any], name: str) -> functools.cached_property[Any]:
    prop = functools.cached_property(fn)
    prop.__set_name__(Facts, name)
    return prop


def _racing_replica(f: Facts) -> Decision:
    """A replica streaming from a live leader still races for the lock, as if it had expired."""
    decision = replica_rules.replica(f)
    if decision.reason is Reason.REPLICA_OK:
        return replica_rules._election(f)
    return decision


def _no_expiry_check() -> list[Patch]:
    return _rules(replica_rules.replica, _racing_replica)


def _no_expiry_check_anywhere() -> list[Patch]:
    def take_any(node: Node, now: float) -> tuple[bool, int | None]:
        return True, node.cache_leader_version

    return [*_no_expiry_check(), (Node, "expired_lock_version", take_any)]


def _lease_without_margin() -> list[Patch]:
    def expiring(f: Facts) -> bool:
        return f.lease_deadline is not None and f.now >= f.lease_deadline

    return [(Facts, "lease_expiring", _cached(expiring, "lease_expiring"))]


def _lease_from_observation() -> list[Patch]:
    """Judge our own lease from when our watch saw the record change, not the request's start."""

    def deadline(f: Facts) -> float | None:
        leader = f.cluster.leader
        if not f.holds_lock or leader is None:
            return None
        return leader.observed_change_at + f.config.ttl_s

    return [(Facts, "lease_deadline", _cached(deadline, "lease_deadline"))]


def _no_rewind() -> list[Patch]:
    return [(replica_rules, "_diverged", lambda *_: False)]


def _cancel_init_repeats() -> list[Patch]:
    """The reducer as it was: CancelInitialize keeps the claim, so the rule repeats it."""
    original = ha_state._started

    def started(state: ha_state.HaState, action: Action, now: float) -> ha_state.HaState:
        if isinstance(action, CancelInitialize | ClaimInitialize):
            return dataclasses.replace(state, lock_op_in_flight=True)
        return original(state, action, now)

    return [(ha_state, "_started", started)]


def _promote_before_sync_claim() -> list[Patch]:
    return [(leader_rules, "_sync_key_claimed", lambda *_: True)]


MUTATIONS: dict[str, tuple[str, Callable[[], list[Patch]]]] = {
    "promote_before_sync_claim": (
        "sync mode: promote while the sync key still lists standbys",
        _promote_before_sync_claim,
    ),
    "no_lag_check": ("within_lag always true", _no_lag_check),
    "any_sync_standby": ("sync_allows always true", _any_sync_standby),
    "no_lease_demotion": ("no lease-expiry demotion (lease_guard removed)", _no_lease_demotion),
    "lease_without_margin": ("demote at ttl, not ttl - retry_timeout", _lease_without_margin),
    "lease_from_observation": (
        "own lease judged from the watch's observation, not the request start",
        _lease_from_observation,
    ),
    "lockless_primary_keeps_running": (
        "a primary without the lock never stops",
        _lockless_primary_keeps_running,
    ),
    "lockless_primary_races": (
        "a primary without the lock races for it instead of stopping (the rule as it was)",
        _lockless_primary_races,
    ),
    "restart_before_renew": (
        "the lock holder starts/promotes before proving its lease after a restart",
        _restart_before_renew,
    ),
    "no_expiry_check": ("replicas race without the expiry check (decide only)", _no_expiry_check),
    "no_expiry_check_anywhere": (
        "replicas race without the expiry check, and the lock backend takes a live lock",
        _no_expiry_check_anywhere,
    ),
    "no_rewind": ("never rewind a diverged member", _no_rewind),
    "no_healthiest_check": ("race for the lock even when another is ahead", _no_healthiest_check),
    "cancel_init_repeats": (
        "a failed bootstrap re-sends CancelInitialize (the reducer as it was)",
        _cancel_init_repeats,
    ),
}


@contextlib.contextmanager
def applied(name: str | None) -> Iterator[None]:
    """Patch in the named mutation (None: nothing) and restore the real rules afterwards."""
    if name is None:
        yield
        return
    patches = MUTATIONS[name][1]()
    saved = [(obj, attr, obj.__dict__[attr]) for obj, attr, _ in patches]
    try:
        for obj, attr, value in patches:
            setattr(obj, attr, value)
        yield
    finally:
        for obj, attr, value in reversed(saved):
            setattr(obj, attr, value)
