"""Facts: what the rules derive from the views, computed once per decision.

Keeping derived values here (does this node hold the lock, is the leader's
lease expired by our clock, when must we wake) keeps each rule a few lines
and makes sure every rule derives them the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Generic, TypeVar

from messages.cluster import ClusterView, FailoverRequest, MemberStatus, PgState, Role
from messages.config import DynamicConfig
from messages.ha import ActionKind, LocalView
from messages.postgres import Upstream

T = TypeVar("T")

START_BACKOFF_S = 1.0
"""The wait after the first failed start; it doubles with each further failure."""


class derived(Generic[T]):
    """Computed on first use, then stored on the instance (which shadows this descriptor).

    functools.cached_property does the same but, in Python 3.11, takes a lock
    on every first access; Facts is built per decision and never shared
    between threads, and the simulator builds millions of them.
    """

    def __init__(self, compute: Callable[[Facts], T]) -> None:
        self.compute = compute
        self.name = compute.__name__

    def __get__(self, facts: Facts, owner: type[Facts] | None = None) -> T:
        value = self.compute(facts)
        facts.__dict__[self.name] = value
        return value


@dataclasses.dataclass(frozen=True, slots=False, kw_only=True)
class Facts:
    cluster: ClusterView
    local: LocalView
    config: DynamicConfig
    now: float

    @derived
    def holds_lock(self) -> bool:
        leader = self.cluster.leader
        return leader is not None and leader.name == self.local.name

    @derived
    def lease_deadline(self) -> float | None:
        """When our own lease could expire for others: ttl after our last renewal began.

        The ttl is the one that renewal wrote (the record others judge by), never a
        later config value; a renewal in flight with a shorter ttl may land unseen,
        so its end caps ours (lease_cap).  After a restart, before any renewal of
        ours, it is the leader record's, from when we saw it change.  In failsafe
        the lease also runs while every member's promise does (failsafe_deadline).
        """
        deadline = self.dcs_lease_deadline
        if deadline is None:
            return None
        failsafe = self.failsafe_deadline
        return deadline if failsafe is None else max(deadline, failsafe)

    @derived
    def dcs_lease_deadline(self) -> float | None:
        """Our lease in the DCS alone (lease_deadline without failsafe)."""
        if not self.holds_lock:
            return None
        leader = self.cluster.leader
        assert leader is not None
        renewed, ttl = self.local.lease_renewed_at, self.local.lease_ttl_s
        if renewed is None:
            renewed, ttl = leader.observed_change_at, leader.ttl_s
        deadline = renewed + (ttl if ttl is not None else leader.ttl_s)
        if self.local.lease_cap is not None:
            deadline = min(deadline, self.local.lease_cap)
        return deadline

    @derived
    def failsafe_deadline(self) -> float | None:
        """Failsafe mode: until when every member promised (by acknowledging our
        failsafe heartbeats) not to take the lock; None when not all did.

        The promises hold whether or not the DCS answers again: back from an
        outage, the leader still leans on them until it renewed or retook the lock.
        """
        if not self.config.failsafe_mode:
            return None
        return self.local.failsafe_until

    @derived
    def leaning_on_failsafe(self) -> bool:
        """We run as primary in failsafe mode and the DCS lease alone would not keep us:
        the DCS is out of reach, or the lock is not (or not provably) ours there now."""
        if not self.config.failsafe_mode or not self.is_primary:
            return False
        dcs = self.dcs_lease_deadline
        if dcs is None or not self.local.dcs_reachable:
            return True
        return self.now >= dcs - self.config.retry_timeout_s

    @derived
    def lease_expiring(self) -> bool:
        """True once we are within retry_timeout of our lease's end: demote now."""
        deadline = self.lease_deadline
        return deadline is not None and self.now >= deadline - self.config.retry_timeout_s

    @derived
    def lease_wake_at(self) -> float | None:
        if self.lease_deadline is not None:
            return self.lease_deadline - self.config.retry_timeout_s
        leader = self.cluster.leader
        return None if leader is None else leader.observed_change_at + leader.ttl_s

    @derived
    def renew_at(self) -> float | None:
        """loop_wait after the last renewal, but early enough that a renewal that takes
        all of retry_timeout still lands before we would demote (ttl - retry_timeout)."""
        renewed = self.local.lease_renewed_at
        if renewed is None:
            return None
        cfg = self.config
        ttl = self.local.lease_ttl_s or cfg.ttl_s
        margin = max(ttl - 2 * cfg.retry_timeout_s, ttl / 4)
        return renewed + min(cfg.loop_wait_s, margin)

    @derived
    def renewal_due(self) -> bool:
        return self.renew_at is None or self.now >= self.renew_at

    @derived
    def start_retry_at(self) -> float | None:
        """When PostgreSQL may be started again after failed starts: 1 s, 2 s, 4 s...
        up to loop_wait (Patroni tries once a loop), so a server that cannot start
        does not spin its agent and floods no log."""
        done_at, failures = self.local.last_action_done_at, self.local.failed_starts
        if failures == 0 or done_at is None:
            return None
        backoff: float = START_BACKOFF_S * 2.0 ** (failures - 1)
        return done_at + min(self.config.loop_wait_s, backoff)

    @derived
    def live_leader(self) -> MemberStatus | None:
        """The leader's member record when its lock is held and unexpired by our clock."""
        leader = self.cluster.leader
        if leader is None or leader.name == self.local.name:
            return None
        if self.now - leader.observed_change_at >= leader.ttl_s:
            return None
        return self.cluster.member(leader.name) or MemberStatus(name=leader.name)

    @derived
    def me(self) -> MemberStatus:
        pg = self.local.pg
        return MemberStatus(
            name=self.local.name,
            role=pg.role,
            state=pg.state,
            timeline=pg.timeline,
            wal_position=pg.wal_position,
            tags=self.local.tags,
        )

    @property
    def pg_running(self) -> bool:
        return self.local.pg.state is PgState.RUNNING

    @property
    def paused_switchover(self) -> FailoverRequest | None:
        """In pause, the operator's switchover pause lets happen (as Patroni's): now, to a
        named candidate.  Anything else stored is dropped by the paused leader."""
        request = self.cluster.failover
        if not self.config.pause or request is None or request.candidate is None:
            return None
        return request if request.scheduled_at is None else None

    @property
    def pg_down(self) -> bool:
        return self.local.pg.state in (PgState.STOPPED, PgState.CRASHED, PgState.START_FAILED)

    @property
    def is_primary(self) -> bool:
        return self.pg_running and self.local.pg.role is Role.PRIMARY

    @property
    def becoming_primary(self) -> bool:
        """PostgreSQL takes writes, or soon will: running or starting as primary, or promoting."""
        pg = self.local.pg
        if pg.state not in (PgState.RUNNING, PgState.STARTING):
            return False
        if self.local.action is ActionKind.STOP:
            return False
        return pg.role is Role.PRIMARY or self.local.action is ActionKind.PROMOTE


def upstream_of(member: MemberStatus) -> Upstream:
    return Upstream(name=member.name, host=member.conn_host, port=member.conn_port)
