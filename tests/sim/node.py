"""One simulated member: the HA agent exactly as HaActor runs it, plus its helpers.

The agent feeds events into the real reducer (actors/ha/state.py), calls the
real decide(), applies after_decision() and hands each action to the world,
as HaActor does.  Around it sit small models of the actors it talks to: the
leader-lock actor's cache (which stamps the leader record with the time this
node saw it change, and judges expiry for AcquireLock), and the
SyncReplicationActor (rule 3's ordering: name a standby in postgresql.conf
before publishing it, and publish it only once PostgreSQL reports it as
synchronous, i.e. caught up; unpublish before un-naming).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.ha import state as ha
from actors.ha.decide import decide
from actors.ha.watchdog import watchdog_command
from messages.base import MemberName
from messages.cluster import ClusterView, MemberStatus, SyncState
from messages.config import DynamicConfig, Tags
from messages.dcs import DcsView, LockResult
from messages.ha import ActionDone, Decision
from messages.postgres import ArmWatchdog, DisarmWatchdog

from .pg import Pg

if TYPE_CHECKING:
    from .world import World

Event = LockResult | ActionDone
SYNC_ACTOR_RUNS = 0.6
"""The SyncReplicationActor is a separate actor: it takes its step on some ticks, not in
lock-step with the HA agent's decisions."""


class Node:
    __slots__ = (
        "agent_down_until",
        "cache_leader_version",
        "cache_revision",
        "cache_seen_at",
        "config",
        "fence_at",
        "frozen_until",
        "inbox",
        "incarnation",
        "last_decided_epoch",
        "name",
        "next_wake",
        "pg",
        "published_at",
        "reported_reachable",
        "state",
        "stepped_at",
        "tags",
        "up",
        "wall_offset",
        "watchdog_margin",
    )

    def __init__(
        self,
        name: str,
        tags: Tags,
        config: DynamicConfig,
        wall_offset: float,
        watchdog_margin: float | None = None,
    ) -> None:
        self.name = name
        self.watchdog_margin = watchdog_margin
        self.fence_at: float | None = None
        """When the fence process kills PostgreSQL; it outlives an agent restart."""
        self.tags = tags
        self.config = config
        self.wall_offset = wall_offset
        self.pg = Pg()
        self.up = True
        self.agent_down_until = -1
        self.frozen_until = -1
        self.incarnation = 0
        self.stepped_at = -1
        self.inbox: list[tuple[int, Event]] = []
        self.restart_agent()

    def restart_agent(self) -> None:
        """A fresh agent process: empty memory and cache; PostgreSQL untouched."""
        self.incarnation += 1
        self.inbox = []
        self.state = ha.HaState(
            name=MemberName(self.name), tags=self.tags, bootstrap_config=self.config
        )
        self.cache_revision = -1
        self.cache_leader_version: int | None = None
        self.cache_seen_at = 0.0
        self.reported_reachable = True
        self.next_wake = 0.0
        self.last_decided_epoch = -1
        self.published_at = -(10**9)

    def agent_runs(self, t: int) -> bool:
        return self.up and t >= self.agent_down_until and t >= self.frozen_until

    # -- one agent step ----------------------------------------------------------

    def step(self, w: World) -> None:
        self.stepped_at = w.t
        # Reachability news before lock results: the real leader-lock actor sends them so.
        woke = self._watch(w) | self._deliver(w)
        self._publish(w)
        epoch_changed = self.pg_epoch() != self.last_decided_epoch
        if self.state.have_view and (woke or epoch_changed or w.t >= self.next_wake):
            self._decide(w)
        if w.sync_mode and w.rng.random() < SYNC_ACTOR_RUNS:
            sync_step(self, w)

    def pg_epoch(self) -> int:
        return self.pg.epoch

    def _deliver(self, w: World) -> bool:
        if not self.inbox:
            return False
        due = [e for e in self.inbox if e[0] <= w.t]
        if not due:
            return False
        self.inbox = [e for e in self.inbox if e[0] > w.t]
        for _, event in due:
            if isinstance(event, LockResult):
                self.state = ha.on_lock_result(self.state, event)
            else:
                self.state = ha.on_action_done(self.state, event, float(w.t))
            w.trace.event(self.name, event)
        return True

    def _watch(self, w: World) -> bool:
        """The leader-lock actor's watch: copy the store when reachable (sometimes late)."""
        if not w.dcs_reachable(self):
            if not self.reported_reachable:
                return False
            self.reported_reachable = False
            self.state = ha.on_dcs_view(
                self.state, DcsView(view=self.state.view, reachable=False), float(w.t)
            )
            return True
        known = self.reported_reachable and self.cache_revision >= 0
        if known and (w.dcs.revision == self.cache_revision or w.rng.random() >= w.watch_p(self)):
            return False
        self.reported_reachable = True
        self.state = ha.on_dcs_view(self.state, DcsView(view=self._cached_view(w)), float(w.t))
        return True

    def _cached_view(self, w: World) -> ClusterView:
        self.cache_revision = w.dcs.revision
        lock = w.dcs.leader
        version = None if lock is None else lock.version
        if version != self.cache_leader_version:
            self.cache_leader_version = version
            self.cache_seen_at = float(w.t)
        return w.dcs.view_seen(self.cache_seen_at)

    def _publish(self, w: World) -> None:
        """TouchMember every loop_wait, and at once when PostgreSQL's state changed."""
        due = w.t - self.published_at >= self.config.loop_wait_s
        if not (due or self.pg.epoch != self.last_decided_epoch) or not w.dcs_reachable(self):
            return
        self.published_at = w.t
        w.dcs.touch(self.member_status(w), w.t)

    def member_status(self, w: World) -> MemberStatus:
        status = self.pg.status(w.streaming(self))
        return MemberStatus(
            name=MemberName(self.name),
            role=status.role,
            state=status.state,
            conn_host=self.name,
            timeline=status.timeline,
            wal_position=status.wal_position,
            following=None if self.pg.upstream is None else MemberName(self.pg.upstream),
            tags=self.tags,
        )

    def _decide(self, w: World) -> None:
        status = self.pg.status(w.streaming(self))
        if status is not self.state.pg:
            self.state = ha.on_pg_status(self.state, status)
        self.last_decided_epoch = self.pg.epoch
        now = float(w.t)
        local = ha.local_view(self.state, wall_time=now + self.wall_offset)
        decision = decide(self.state.view, local, self.state.config, now)
        self.state = ha.after_decision(self.state, decision, now)
        self._guard(decision, now)
        w.trace.decision(self.name, decision)
        for action in decision.actions:
            w.execute(self, action, decision)
        self.next_wake = _next_wake(decision, now, self.state.config.loop_wait_s)

    def _guard(self, decision: Decision, now: float) -> None:
        """What WatchdogActor passes on to the fence process."""
        if self.watchdog_margin is None:
            return
        command = watchdog_command(self.state, decision, now, self.watchdog_margin)
        if isinstance(command, ArmWatchdog):
            self.fence_at = command.fire_at
        elif isinstance(command, DisarmWatchdog):
            self.fence_at = None

    def expired_lock_version(self, now: float, ttl: float) -> tuple[bool, int | None]:
        """The leader-lock actor's judgement for AcquireLock: (may try, version to CAS on)."""
        if self.cache_leader_version is None:
            return True, None
        return now - self.cache_seen_at >= ttl, self.cache_leader_version


def _next_wake(decision: Decision, now: float, loop_wait: float) -> float:
    wake = now + loop_wait
    if decision.wake_at is not None:
        wake = min(wake, decision.wake_at)
    return max(wake, now + 1)


# -- the SyncReplicationActor ------------------------------------------------------


def sync_step(node: Node, w: World) -> None:
    """One step of rule 3, for a member that holds the lock: one change per step."""
    lock = w.dcs.leader
    if lock is None or lock.name != node.name or not w.dcs_reachable(node):
        return
    if not node.pg.accepts_writes:
        _claim_before_promotion(node, w)
        return
    desired = _desired_standby(node, w)
    mine = w.dcs.sync.leader == node.name
    published = w.dcs.sync.sync_standbys if mine else frozenset()
    keep = frozenset(s for s in published if s == desired)
    if not mine or keep != published:
        w.dcs.set_sync(SyncState(leader=MemberName(node.name), sync_standbys=keep))
        w.trace.note(node.name, f"sync key -> {sorted(keep)}")
    elif node.pg.ssn != desired:
        node.pg.ssn = desired
        node.pg.ssn_since = len(node.pg.wal)
        w.trace.note(node.name, f"synchronous_standby_names -> {desired}")
    elif desired is not None and desired not in published and _caught_up(node, desired, w):
        w.dcs.set_sync(SyncState(leader=MemberName(node.name), sync_standbys=frozenset({desired})))
        w.trace.note(node.name, f"sync key -> [{desired}]")


def _claim_before_promotion(node: Node, w: World) -> None:
    """The lock holder runs as a replica, about to be promoted: name us alone first.

    As actors/sync_replication does (its `_promoting`): only for a running replica.
    """
    claimed = SyncState(leader=MemberName(node.name))
    if node.pg.is_replica and w.dcs.sync != claimed:
        w.dcs.set_sync(claimed)
        w.trace.note(node.name, "sync key -> [] (claimed before promotion)")


def _caught_up(node: Node, standby: str, w: World) -> bool:
    """PostgreSQL reports a standby as sync only once it caught up (state 'streaming')."""
    return len(w.by_name[standby].pg.wal) >= node.pg.ssn_since


def _desired_standby(node: Node, w: World) -> MemberName | None:
    eligible = [
        n.name
        for n in w.nodes
        if n is not node
        and not n.tags.nosync
        and not n.tags.nofailover
        and n.tags.failover_priority > 0
        and w.streams_from(n, node)
    ]
    if node.pg.ssn is not None and node.pg.ssn in eligible:
        return MemberName(node.pg.ssn)
    return MemberName(eligible[0]) if eligible else None
