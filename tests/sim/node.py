"""One simulated member: the real HA cycle, fed as HaActor feeds it, and its actors.

The agent is `cycle.step()` itself, the function HaActor runs; around it the
node holds the models of the other actors of the agent process (leader lock,
postmaster, sync replication, gossip), the fence process beside it, and the
host: its clock and its PostgreSQL.  No HA rule lives here.

Processes and what stops them:

* the agent process (every actor above): SIGSTOP freezes it, SIGKILL or a
  clean stop ends it, and a new one starts with empty memory;
* the fence: a process of its own session -- an agent's SIGSTOP or death does
  not touch it (a cgroup freeze does, and so did the process group before
  the fix: see mutations);
* PostgreSQL: runs whatever the agent does, except in a cgroup freeze or
  when the machine goes down.

Every message between actors of the agent takes HOP of true time and waits
while the agent is frozen (`act`); network events (a request reaching the
store, a write landing) happen whatever the agent does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actors.ha import cycle
from actors.ha.publish import Identity
from actors.runtime import names
from messages.base import MemberName, Message
from messages.cluster import MemberStatus, PgState
from messages.config import DynamicConfig, Tags
from messages.dcs import AcquireLock, DcsView, LockOp, LockResult, RenewLock
from messages.ha import ActionDone, Reason
from messages.postgres import ArmWatchdog, DisarmWatchdog, PrimaryProbed
from messages.runtime import Tick

from .clock import Clock
from .lockactor import LockActor, Seen
from .pg import RUNNING_STATES, Pg
from .postmaster import Postmaster

if TYPE_CHECKING:
    from .world import World

HOP = 1e-4
"""True seconds for a message between two actors of one agent process."""
_WAKE = Tick(timer="wake")
_TRACED = (LockResult, ActionDone, PrimaryProbed)
_START = Tick(timer="start")
FENCE_IN_AGENT_GROUP = False
"""The fence runs in the agent's process group, so the agent's SIGSTOP stops it too
(as before the fix; see mutations)."""
FENCE_SPARES_STANDBY = False
"""The fence kills only a server that takes writes (as before the fix; see mutations)."""
SHELL_REARMS_ALWAYS = False
"""HaActor re-arms its wake timer on every step (as before the fix; see mutations)."""


class Node:
    def __init__(
        self,
        world: World,
        index: int,
        *,
        tags: Tags,
        config: DynamicConfig,
        clock: Clock,
        fence_margin: float | None,
    ) -> None:
        self.world = world
        self.index = index
        self.name = f"n{index}"
        self.tags = tags
        self.bootstrap_config = config
        self.clock = clock
        self.fence_margin = fence_margin
        self.pg = Pg()
        self.up = True
        """The machine runs."""
        self.agent_up = False
        self.started_at = -math.inf
        """True time the agent process last started (checks m)."""
        self.frozen = False
        """The agent process is stopped (SIGSTOP of its process group, or a cgroup freeze)."""
        self.freezes = 0
        self.catching_up: bool | str = False
        """Resumed (started, thawed) and not yet acted: a zombie's grace (checks a)."""
        self.restart_wanted = False
        self.ha_stopped = False
        """A clean stop is under way: the HA actor is gone, the postmaster stops PostgreSQL."""
        self.cgroup_frozen = False
        self.incarnation = 0
        self.backlog: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.agent: cycle.Node | None = None
        self.lock: LockActor | None = None
        self.postmaster: Postmaster | None = None
        self.sync: Any = None
        self.gossip: Any = None
        self.wake_at: float | None = None
        self.wake_due = 0.0
        self.wake_pending: float | None = None
        self.wake_gen = 0
        self.fence_at: float | None = None
        """The arming the live fence holds (this host's monotonic reading)."""
        self.orphan_fence_at: float | None = None
        """The arming of a fence whose agent died: it fires unless a newer fence arms later."""
        self.fence_gen = 0
        self.fence_pending = False
        self.spec_lease: tuple[float, float] | None = None
        """(start, ttl) of the last successful lock write the HA was told of (invariant h)."""
        self.ha_leader: Seen | None = None
        """The leader record of the last view the HA took in, as the model stamped it."""
        """Failed lock results in a row while the agent deems the store unreachable (bug H)."""
        self.acquire_reason: Reason | None = None
        self.acquire_view: tuple[MemberStatus, ...] | None = None

    # -- the agent process -------------------------------------------------------------

    def start_agent(self) -> None:
        """A fresh agent process: every actor starts with empty memory; PostgreSQL untouched."""
        from .gossip import Gossip
        from .syncactor import SyncActor

        self.incarnation += 1
        self.agent_up = True
        self.started_at = self.world.loop.t
        self.world.dirty = True  # a zombie's agent is back: the one-writer check applies
        self.catching_up: bool | str = True
        self.ha_stopped = False
        self.frozen = self.cgroup_frozen or self.freezes > 0
        self.backlog = []
        self.wake_at = self.wake_pending = None
        self.spec_lease = None
        self.ha_leader = None
        identity = Identity(
            member=MemberName(self.name),
            scope="sim",
            conn_host=self.name,
            conn_port=5432,
            tags=self.tags,
        )
        margin = self.fence_margin
        fence = None if margin is None else cycle.Fence(safety_margin_s=margin)
        self.agent = cycle.new_node(identity, self.bootstrap_config, fence=fence)
        self.lock = LockActor(self)
        self.postmaster = Postmaster(self)
        self.sync = SyncActor(self) if self.world.params.sync_actor else None
        self.gossip = Gossip(self) if self.world.params.gossip else None
        self.lock.start()
        self.postmaster.start()
        if self.gossip is not None:
            self.gossip.start()
        self.act(self._feed, _START)

    def kill_agent(self) -> None:
        """SIGKILL (or the machine going down): every actor is gone at once, mid-call."""
        if not self.agent_up:
            return
        self.incarnation += 1
        self.agent_up = False
        self.frozen = False
        self.backlog = []
        if self.lock is not None:
            self.lock.alive = False
            self.world.watchers.remove(self.lock)
        if self.fence_at is not None:
            # the fence outlives its agent, holding its last arming
            self.orphan_fence_at = self.fence_at
            self.fence_at = None
            self.fence_gen += 1
            loop = self.world.loop
            loop.at(self.clock.when_reads(self.orphan_fence_at), self.orphan_fence_due)
        self.agent = self.lock = self.postmaster = self.sync = self.gossip = None

    def stop_agent_clean(self) -> None:
        """A clean node stop, as the supervisor does it: actors stop in reverse start order.

        The HA, gossip and sync actors go first; the postmaster actor's on_stop stops
        PostgreSQL (fast) and, once it is down, hands the lock over (ReleaseLock, clean
        with the shutdown checkpoint for a primary); the leader-lock actor handles that
        and stops; the watchdog actor tells the fence to quit last.
        """
        if not self.agent_up or self.ha_stopped:
            return
        self.ha_stopped = True
        self.wake_gen += 1
        self.sync = self.gossip = None
        assert self.postmaster is not None
        self.act(self.postmaster.on_stop)

    def finish_clean_stop(self) -> None:
        """The leader-lock actor stopped, then the watchdog actor: the process exits."""
        self.kill_agent()
        self.disarm_all_fences()
        if self.restart_wanted:
            self.restart_wanted = False
            self.world.loop.at(self.world.loop.t + 0.5, self.start_if_stopped)

    def start_if_stopped(self) -> None:
        """Start the agent again; one still stopping cleanly starts once it is down."""
        if self.agent_up and self.ha_stopped:
            self.restart_wanted = True
        elif self.up and not self.agent_up:
            self.start_agent()

    def act(self, fn: Callable[..., Any], *args: Any, delay: float = 0.0) -> None:
        """Run fn in the agent process after `delay` (this clock's seconds) and a hop."""
        loop = self.world.loop
        when = loop.t + HOP if delay <= 0 else self.clock.when_reads(self.clock.now() + delay)
        loop.at(when, self._run, self.incarnation, fn, args)

    def _run(self, incarnation: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if incarnation != self.incarnation:
            return  # an earlier agent's: its process is gone
        if self.frozen:
            self.backlog.append((fn, args))
            return
        fn(*args)

    def freeze(self) -> None:
        self.freezes += 1
        self.frozen = True

    def thaw(self) -> None:
        self.freezes = max(0, self.freezes - 1)
        if not self.frozen or self.freezes or self.cgroup_frozen:
            return
        self.frozen = False
        self.world.dirty = True
        self.catching_up = True
        backlog, self.backlog = self.backlog, []
        loop = self.world.loop
        for fn, args in backlog:
            loop.at(loop.t, self._run, self.incarnation, fn, args)

    @property
    def agent_runs(self) -> bool:
        return self.agent_up and not self.frozen

    # -- messages to the actors ------------------------------------------------------------

    def to_ha(self, msg: Message) -> None:
        self.act(self._feed, msg)

    def to_sync(self, msg: Message) -> None:
        if self.sync is not None:
            self.act(self.sync.handle, msg)

    def publish(self, topic: str, msg: Message) -> None:
        """Registry.publish, as node/tree.py's SUBSCRIPTIONS declare who hears which topic."""
        if topic == names.DCS_VIEW:
            self.act(self._feed, msg)
            if self.sync is not None:
                self.act(self.sync.handle, msg)
            if self.gossip is not None:
                self.act(self.gossip.handle, msg)
        elif topic == names.PG_STATUS:
            self.act(self._feed, msg)
            if self.sync is not None:
                self.act(self.sync.handle, msg)
        elif topic == names.NODE_STATUS and self.gossip is not None:
            self.act(self.gossip.handle, msg)

    def gossip_frame(self, frame: Message) -> None:
        """A peer's snapshot reached this host."""
        if self.agent_up and self.gossip is not None:
            self.act(self._gossip_in, frame)

    def _gossip_in(self, frame: Message) -> None:
        if self.gossip is not None:
            self.gossip.receive(frame)

    def _feed(self, event: Message) -> None:
        """HaActor._feed: one step of the real cycle, its outbox carried out, its timer armed."""
        agent = self.agent
        if agent is None or self.ha_stopped:
            return
        if isinstance(event, LockResult):
            self._note_lease(event)
        elif isinstance(event, DcsView) and event.reachable and self.lock is not None:
            meta = self.lock.view_meta.get(id(event.view))
            if meta is not None and meta[0] is event.view:
                self.ha_leader = meta[1]
        if isinstance(event, _TRACED):
            self.world.trace.event(self.name, event)
        self.world.stats.steps += 1
        now = self.clock.now()
        self.agent, out = cycle.step(agent, event, now, self.clock.wall())
        if out.decision is not None:
            self.world.trace.decision(self.name, out.decision)
        for to, msg in out.sends:
            self.route(to, msg)
        for topic, msg in out.publishes:
            self.publish(topic, msg)
        self.world.checks.ha_stepped(self, now, out, event is _WAKE)
        self._arm(out.wake_at)

    def _note_lease(self, result: LockResult) -> None:
        lock = self.lock
        if result.op in (LockOp.ACQUIRE, LockOp.RENEW):
            if result.ok and lock is not None and lock.written is not None:
                self.spec_lease = lock.written
            elif not result.ok and result.detail == "":
                self.spec_lease = None  # a lost compare: the lock is gone
        elif result.op is LockOp.RELEASE and result.ok:
            self.spec_lease = None

    def _arm(self, wake_at: float | None) -> None:
        """HaActor._arm: one timer, re-armed only when the wake-up time changes."""
        if wake_at == self.wake_at and not SHELL_REARMS_ALWAYS:
            return
        self.wake_at = wake_at
        if wake_at is None:
            self.wake_gen += 1
            self.wake_pending = None
            return
        now = self.clock.now()
        due = self.wake_due = max(now, wake_at)  # the scheduler's due reading
        if self.wake_pending is not None and self.wake_pending <= due:
            return  # an event already queued for earlier looks again then (fewer events)
        self._queue_wake(due, now)

    def _queue_wake(self, due: float, now: float) -> None:
        self.wake_gen += 1
        self.wake_pending = due
        self.act(self._wake, self.wake_gen, delay=due - now)

    def _wake(self, gen: int) -> None:
        if gen != self.wake_gen:
            return
        self.wake_pending = None
        now = self.clock.now()
        if self.wake_at is None:
            return
        if now < self.wake_due:
            self._queue_wake(self.wake_due, now)  # re-armed for later meanwhile
            return
        self._feed(_WAKE)

    def route(self, to: str, msg: Message) -> None:
        """Carry out what the outbox sends, as the actor named `to` would."""
        if to == names.LEADER_LOCK:
            assert self.lock is not None
            if isinstance(msg, AcquireLock) and self.agent is not None:
                self.acquire_reason = self.agent.last_reason
                self.acquire_view = self.agent.ha.view.members
                self.world.checks.acquire_sent(self)
            self.lock.enqueue(msg)
            if isinstance(msg, RenewLock):
                self.world.faults.renewal_sent(self)
        elif to in (names.POSTMASTER, names.BOOTSTRAP):
            assert self.postmaster is not None
            self.act(self.postmaster.handle, msg)
        elif to == names.SYNC_REPLICATION:
            if self.sync is not None:
                self.act(self.sync.handle, msg)
        elif to == names.WATCHDOG and self.fence_margin is not None:
            self.act(self._fence_command, msg)

    # -- the fence (a process of its own) --------------------------------------------------

    def _fence_command(self, msg: Message) -> None:
        if isinstance(msg, ArmWatchdog):
            self.fence_at = msg.fire_at
            self.fence_gen += 1
            loop = self.world.loop
            loop.at(self.clock.when_reads(msg.fire_at), self._fence_due, self.fence_gen)
        elif isinstance(msg, DisarmWatchdog):
            self.fence_at = None
            self.fence_gen += 1

    def fence_frozen(self) -> bool:
        return self.cgroup_frozen or (FENCE_IN_AGENT_GROUP and self.frozen)

    def _fence_due(self, gen: int) -> None:
        if gen != self.fence_gen or self.fence_at is None or not self.up:
            return
        if self.fence_frozen():
            self.fence_pending = True
            return
        self.fence_at = None
        self._fence_fire()

    def orphan_fence_due(self) -> None:
        at = self.orphan_fence_at
        if at is None or not self.up or self.clock.now() < at:
            return
        if self.fence_at is not None and self.fence_at > at:
            self.orphan_fence_at = None  # a newer fence armed later: it stands down
            return
        self.orphan_fence_at = None
        self._fence_fire("orphan fence")  # a dead agent's: its arming predates any pause

    def fence_thawed(self) -> None:
        if self.fence_pending and not self.fence_frozen():
            self.fence_pending = False
            self.fence_at = None
            self._fence_fire()

    def _fence_fire(self, why: str = "fence") -> None:
        """SIGKILL to whatever PostgreSQL runs here: a standby may be promoting."""
        pg = self.pg
        if pg.state not in RUNNING_STATES:
            return
        if FENCE_SPARES_STANDBY and not pg.writes_open:
            return
        self.world.trace.note(self.name, "fenced: the fence killed PostgreSQL")
        self.world.stats.fenced += 1
        self.world.pg_killed(self, why)

    def disarm_all_fences(self) -> None:
        self.fence_at = self.orphan_fence_at = None
        self.fence_gen += 1
        self.fence_pending = False

    # -- what the invariants ask ------------------------------------------------------------

    @property
    def pg_state(self) -> PgState:
        return self.pg.state
