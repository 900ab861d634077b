"""One simulated member: the real HA cycle (actors/ha/cycle.py), fed as HaActor feeds it.

The agent is `cycle.step()` itself, the function HaActor runs: every event
(a DCS view, a lock result, a finished action, a PostgreSQL status, a wake-up
tick) goes through it, and its outbox is routed to the world as the actors
would carry it out.  No HA rule lives here.  Around it sit small models of
what the cycle talks to: the leader-lock actor's cache (which stamps the
leader record with the time this node saw it change, and judges expiry for
AcquireLock) and the SyncReplicationActor (rule 3's ordering: name a standby
in postgresql.conf before publishing it, and publish it only once PostgreSQL
reports it as synchronous, i.e. caught up; unpublish before un-naming).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.ha import cycle
from actors.ha.publish import Identity
from messages.base import MemberName, Message
from messages.cluster import ClusterView, SyncState
from messages.config import DynamicConfig, Tags
from messages.dcs import DcsView, LockResult
from messages.ha import ActionDone
from messages.postgres import PostgresStatus, PrimaryProbed
from messages.runtime import Tick

from .pg import Pg

if TYPE_CHECKING:
    from .world import World

Event = LockResult | ActionDone | PrimaryProbed
SYNC_ACTOR_RUNS = 0.6
"""The SyncReplicationActor is a separate actor: it takes its step on some ticks, not in
lock-step with the HA agent's decisions."""
_WAKE = Tick(timer="wake")


class Node:
    __slots__ = (
        "agent",
        "agent_down_until",
        "cache_leader_version",
        "cache_revision",
        "cache_seen_at",
        "config",
        "fed_epoch",
        "fed_status",
        "fence_at",
        "frozen_until",
        "inbox",
        "incarnation",
        "name",
        "next_wake",
        "pg",
        "reported_reachable",
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
        identity = Identity(
            member=MemberName(self.name),
            scope="sim",
            conn_host=self.name,
            conn_port=5432,
            tags=self.tags,
        )
        margin = self.watchdog_margin
        fence = None if margin is None else cycle.Fence(safety_margin_s=margin)
        self.agent = cycle.new_node(identity, self.config, fence=fence)
        self.cache_revision = -1
        self.cache_leader_version: int | None = None
        self.cache_seen_at = 0.0
        self.reported_reachable = True
        self.next_wake = 0.0
        self.fed_status: PostgresStatus | None = None
        self.fed_epoch = -1

    def agent_runs(self, t: int) -> bool:
        return self.up and t >= self.agent_down_until and t >= self.frozen_until

    @property
    def state(self) -> cycle.HaState:
        return self.agent.ha

    # -- one agent step ----------------------------------------------------------

    def step(self, w: World) -> None:
        """Everything that reached the agent since its last step, in the actors' order:
        the DCS view (reachability news before lock results), then replies.  PostgreSQL's
        status comes first when it changed state (the postmaster actor reports that at
        once) and with any other event or wake-up (its periodic report): a WAL position
        alone that moved is no event."""
        self.stepped_at = w.t
        events: list[Message] = []
        view = self._watch(w)
        if view is not None:
            events.append(view)
        events.extend(self._deliver(w))
        due = w.t >= self.next_wake
        status = self.pg.status(w.streaming(self))
        if status is not self.fed_status and (events or due or self.pg.epoch != self.fed_epoch):
            events.insert(0, status)
        elif due and not events:
            events.append(_WAKE)
        for event in events:
            self.feed(w, event)
        if w.sync_mode and w.rng.random() < SYNC_ACTOR_RUNS:
            sync_step(self, w)

    def feed(self, w: World, event: Message) -> None:
        if isinstance(event, PostgresStatus):
            self.fed_status, self.fed_epoch = event, self.pg.epoch
        now = float(w.t)
        self.agent, out = cycle.step(self.agent, event, now, now + self.wall_offset)
        if out.decision is not None:
            w.trace.decision(self.name, out.decision)
        for to, msg in out.sends:
            w.route(self, to, msg)
        self.next_wake = out.wake_at if out.wake_at is not None else now + 1

    def _deliver(self, w: World) -> list[Event]:
        if not self.inbox:
            return []
        due = [e for at, e in self.inbox if at <= w.t]
        if due:
            self.inbox = [e for e in self.inbox if e[0] > w.t]
            for event in due:
                w.trace.event(self.name, event)
        return due

    def _watch(self, w: World) -> DcsView | None:
        """The leader-lock actor's watch: copy the store when reachable (sometimes late)."""
        if not w.dcs_reachable(self):
            if not self.reported_reachable:
                return None
            self.reported_reachable = False
            return DcsView(view=self.state.view, reachable=False)
        known = self.reported_reachable and self.cache_revision >= 0
        if known and (w.dcs.revision == self.cache_revision or w.rng.random() >= w.watch_p(self)):
            return None
        self.reported_reachable = True
        return DcsView(view=self._cached_view(w))

    def _cached_view(self, w: World) -> ClusterView:
        self.cache_revision = w.dcs.revision
        lock = w.dcs.leader
        version = None if lock is None else lock.version
        if version != self.cache_leader_version:
            self.cache_leader_version = version
            self.cache_seen_at = float(w.t)
        return w.dcs.view_seen(self.cache_seen_at)

    def expired_lock_version(self, now: float) -> tuple[bool, int | None]:
        """The leader-lock actor's judgement for AcquireLock: (may try, version to CAS on).

        Judged from its cache: the ttl the record carries, from when this node saw
        the record's version change (safety rule 2).
        """
        if self.cache_leader_version is None:
            return True, None
        lock = self.state.view.leader
        ttl = lock.ttl_s if lock is not None else self.config.ttl_s
        return now - self.cache_seen_at >= ttl, self.cache_leader_version


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
