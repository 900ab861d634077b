"""The network and the faults a schedule injects.

Links are per pair: a host to the store (requests and watch), and hosts to
each other (streaming, gossip, probes).  A fault begins at its time and ends
after its duration or at the heal, whichever comes first; each unplanned one
is remembered against the members it touched, for the loss rule (checks f).

Planned events are faults too, in the sense of "things a schedule does":
an operator's switchover, a config edit (ttl, loop_wait, retry_timeout, up
or down, mid-lease), pause, and a whole-cluster clean stop and start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from messages.base import MemberName
from messages.cluster import FailoverRequest
from messages.config import DynamicConfig

from . import operator
from .dcs import CONFIG, FAILOVER
from .schedule import LEADER, Fault

if TYPE_CHECKING:
    from .node import Node
    from .world import World

Undo = Callable[[], None]
PLANNED = frozenset(
    {"switchover", "config", "pause", "cluster_restart", "forced_failover", "switchover_via"}
)


class Network:
    """Which links are cut, and how slow or lossy the store's links are."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.rng = world.rng
        self.base = world.params.dcs_latency
        self.dcs_cut: dict[str, int] = {}
        self.store_down = 0
        self.isolated: dict[str, int] = {}
        self.pairs: dict[tuple[str, str], int] = {}
        self.slow: dict[str, float] = {}
        self.drop_p: dict[str, float] = {}
        self.watch_extra: dict[str, float] = {}

    def dcs_up(self, name: str) -> bool:
        return not self.store_down and not self.dcs_cut.get(name) and self.world.by_name[name].up

    def dcs_latency(self, name: str) -> float:
        rng = self.rng
        return self.base * rng.uniform(0.5, 1.5) + self.slow.get(name, 0.0) * rng.uniform(0.5, 1.5)

    def dropped(self, name: str) -> bool:
        p = self.drop_p.get(name)
        return p is not None and self.rng.random() < p

    def watch_latency(self, name: str) -> float:
        return self.rng.uniform(0.001, 0.02) + self.watch_extra.get(name, 0.0) * self.rng.random()

    def peer_up(self, a: str, b: str) -> bool:
        by_name = self.world.by_name
        if not (by_name[a].up and by_name[b].up):
            return False
        if self.isolated and (self.isolated.get(a) or self.isolated.get(b)):
            return a == b
        return not (self.pairs and self.pairs.get((a, b) if a < b else (b, a)))

    def peer_latency(self) -> float:
        return self.rng.uniform(0.0003, 0.003)


def _inc(table: dict[Any, int], key: Any) -> Undo:
    table[key] = table.get(key, 0) + 1

    def undo() -> None:
        table[key] -= 1
        if not table[key]:
            del table[key]

    return undo


class Faults:
    """Starts each fault at its time and ends it; the heal ends them all."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.active: dict[int, Undo] = {}
        self.next_id = 0
        self.healed = False
        self.promote_slow: dict[str, float] = {}
        self.armed_next_leader: Fault | None = None
        self.stall_renewal_of: dict[str, Fault] = {}

    def schedule(self, faults: tuple[Fault, ...], base: float) -> None:
        loop = self.world.loop
        for fault in faults:
            loop.at(base + fault.at, self._begin, fault)

    def _begin(self, fault: Fault) -> None:
        if self.healed:
            return
        self.world.trace.note("*", f"fault: {fault.describe()}")
        undo = _HANDLERS[fault.kind](self, fault)
        if undo is None:
            return
        self.next_id += 1
        key = self.next_id
        self.active[key] = undo
        if fault.duration > 0:
            loop = self.world.loop
            loop.at(loop.t + fault.duration, self._end, key)

    def _end(self, key: int) -> None:
        undo = self.active.pop(key, None)
        if undo is not None:
            undo()

    def heal(self) -> None:
        """Every fault ends now; no new one begins."""
        self.healed = True
        self.world.trace.note("*", "heal: every fault ends")
        for key in sorted(self.active):
            self._end(key)
        self.armed_next_leader = None

    def promote_delay(self, node: Node, delay: float) -> float:
        return self.promote_slow.get(node.name, delay)

    # -- helpers ----------------------------------------------------------------------------

    def _node(self, fault: Fault) -> Node:
        return self.resolve(fault.node)

    def resolve(self, index: int) -> Node:
        """A node by index, or the leader (LEADER) or some other member (REPLICA) right now."""
        world = self.world
        if index >= 0:
            return world.nodes[index % len(world.nodes)]
        lock = world.store.leader
        leader = world.by_name[lock.name] if lock is not None else world.nodes[0]
        if index == LEADER:
            return leader
        others = [n for n in world.nodes if n is not leader]
        return world.rng.choice(others)

    def _unplanned(self, *nodes: Node, process: bool = False) -> Undo:
        spans = [self.world.checks.fault_began(n, process=process) for n in nodes]

        def end() -> None:
            for span in spans:
                span[1] = self.world.loop.t

        return end

    def _chain(self, *undos: Undo) -> Undo:
        def undo() -> None:
            for u in reversed(undos):
                u()

        return undo

    # -- network faults ------------------------------------------------------------------------

    def dcs_cut(self, fault: Fault) -> Undo:
        return self._cut(self._node(fault))

    def _cut(self, node: Node) -> Undo:
        net = self.world.net
        dec = _inc(net.dcs_cut, node.name)

        def undo() -> None:
            dec()
            if not net.dcs_cut.get(node.name):
                self.world.dcs_link_healed(node)

        return self._chain(self._unplanned(node), undo)

    def store_down(self, fault: Fault) -> Undo:
        net = self.world.net
        net.store_down += 1

        def undo() -> None:
            net.store_down -= 1
            for node in self.world.nodes:
                self.world.dcs_link_healed(node)

        return self._chain(self._unplanned(*self.world.nodes), undo)

    def isolate(self, fault: Fault) -> Undo:
        node = self._node(fault)
        dec = _inc(self.world.net.isolated, node.name)
        self.world.links_changed()

        def undo() -> None:
            dec()
            self.world.links_changed()

        return self._chain(self._unplanned(node), undo)

    def split(self, fault: Fault) -> Undo:
        return self._chain(self.isolate(fault), self.dcs_cut(fault))

    def peer_cut(self, fault: Fault) -> Undo:
        a, b = self._node(fault).name, self.resolve(fault.other).name
        if a == b:
            return lambda: None
        dec = _inc(self.world.net.pairs, (a, b) if a < b else (b, a))
        self.world.links_changed()

        def undo() -> None:
            dec()
            self.world.links_changed()

        # no death: a standby cut from its primary may lag, but losing what it missed is
        # for a leader's death (the catch-up wait of a switchover exists for this)
        return undo

    def _setting(self, table: dict[str, float], fault: Fault) -> Undo:
        node = self._node(fault)
        table[node.name] = fault.value

        def undo() -> None:
            table.pop(node.name, None)

        return self._chain(self._unplanned(node), undo)

    def slow_dcs(self, fault: Fault) -> Undo:
        return self._setting(self.world.net.slow, fault)

    def drop(self, fault: Fault) -> Undo:
        return self._setting(self.world.net.drop_p, fault)

    def watch_lag(self, fault: Fault) -> Undo:
        return self._setting(self.world.net.watch_extra, fault)

    # -- processes and hosts --------------------------------------------------------------------

    def freeze(self, fault: Fault) -> Undo:
        """SIGSTOP to the agent's process group: the agent stops; PostgreSQL and the fence
        (a session of its own) do not."""
        node = self._node(fault)
        node.freeze()

        def undo() -> None:
            node.fence_thawed()
            node.thaw()

        return self._chain(self._unplanned(node, process=True), undo)

    def cgroup_freeze(self, fault: Fault) -> Undo:
        """A cgroup freeze: agent, fence and PostgreSQL stop together."""
        node = self._node(fault)
        node.cgroup_frozen = True
        node.pg.frozen = True
        node.freeze()
        self.world.pg_changed(node)

        def undo() -> None:
            node.cgroup_frozen = False
            node.fence_thawed()  # an overdue fence fires before any backend answers a client
            node.pg.frozen = False
            self.world.pg_changed(node)
            node.thaw()

        return self._chain(self._unplanned(node, process=True), undo)

    def stall(self, fault: Fault) -> Undo:
        """Slow but alive: the agent is stopped for a moment, again and again (CPU starvation,
        a long GC pause, swapping)."""
        node = self._node(fault)
        state = {"on": True}
        self._stall_step(node, state, fault.value or 2.0)

        def undo() -> None:
            state["on"] = False

        return self._chain(self._unplanned(node, process=True), undo)

    def _stall_step(self, node: Node, state: dict[str, bool], longest: float) -> None:
        if not state["on"]:
            return
        rng, loop = self.world.rng, self.world.loop
        pause = rng.uniform(0.1, longest)
        node.freeze()

        def resume() -> None:
            node.fence_thawed()
            node.thaw()
            loop.at(loop.t + rng.uniform(0.2, 3.0), self._stall_step, node, state, longest)

        loop.at(loop.t + pause, resume)

    def pg_crash(self, fault: Fault) -> Undo | None:
        node = self._node(fault)
        if node.up and not node.pg.down:
            span = self.world.checks.fault_began(node)
            span[1] = self.world.loop.t
            self.world.pg_killed(node, "crash")
        return None

    def machine(self, fault: Fault) -> Undo | None:
        node = self._node(fault)
        if not node.up:
            return None
        unplanned = self._unplanned(node, process=True)
        node.kill_agent()
        node.disarm_all_fences()
        self.world.pg_killed(node, "machine")
        node.up = False
        self.world.links_changed()

        def undo() -> None:
            node.up = True
            self.world.links_changed()
            node.start_agent()
            unplanned()

        return undo

    def agent_kill(self, fault: Fault) -> Undo | None:
        node = self._node(fault)
        if not node.agent_up:
            return None
        unplanned = self._unplanned(node, process=True)
        node.kill_agent()

        def undo() -> None:
            if node.up and not node.agent_up:
                node.start_agent()
            unplanned()

        return undo

    def slow_promote(self, fault: Fault) -> Undo:
        node = self._node(fault)
        self.promote_slow[node.name] = fault.value

        def undo() -> None:
            self.promote_slow.pop(node.name, None)

        return undo

    def lag(self, fault: Fault) -> Undo:
        node = self._node(fault)
        lags = self.world.lags
        before = lags[node.index]
        lags[node.index] = fault.value

        def undo() -> None:
            lags[node.index] = before

        return self._chain(self._unplanned(node), undo)

    def stall_renewal(self, fault: Fault) -> Undo:
        """Armed: the node's next renewal leaves, then its agent stops for `value` seconds
        (the answer waits in the socket), and the store is cut from it right after."""
        node = self._node(fault)
        self.stall_renewal_of[node.name] = fault

        def undo() -> None:
            self.stall_renewal_of.pop(node.name, None)

        return undo

    def renewal_sent(self, node: Node) -> None:
        fault = self.stall_renewal_of.pop(node.name, None)
        if fault is None or self.healed:
            return
        loop = self.world.loop
        stall = Fault(0.0, "freeze", node.index, duration=fault.value)
        cut = Fault(0.0, "dcs_cut", node.index, duration=self.world.params.ttl * 2)
        loop.at(loop.t + 0.0003, self._begin, stall)
        loop.at(loop.t + 0.0003 + fault.value, self._begin, cut)

    def next_leader(self, fault: Fault) -> Undo:
        """Armed: whoever takes the lock over next gets `fault.extra` (a fault kind) at once."""
        self.armed_next_leader = fault

        def undo() -> None:
            self.armed_next_leader = None

        return undo

    def lock_taken(self, node: Node) -> None:
        fault = self.armed_next_leader
        if fault is None or self.healed:
            return
        self.armed_next_leader = None
        follow = dataclasses.replace(fault, kind=str(fault.extra), node=node.index, at=0.0)
        loop = self.world.loop
        loop.at(loop.t + fault.value, self._begin, follow)

    # -- planned events --------------------------------------------------------------------------

    def switchover(self, fault: Fault) -> Undo | None:
        """An operator's switchover request.  With a float `extra` (seconds) every
        standby stops streaming that long before the request, for `duration`: the
        candidate lags by the writes acknowledged meanwhile, which its member record
        does not show yet, and no other standby has them either."""
        lock = self.world.store.leader
        if lock is None:
            return None
        target = None if fault.other == -1 else self.resolve(fault.other)
        if target is not None and target.name == lock.name:
            return None
        request = self._switchover_request(lock.name, target, fault.value)
        store, loop = self.world.store, self.world.loop
        if target is None or not isinstance(fault.extra, float):
            store.write({FAILOVER: (request, 0)})
            return None
        nodes = self.world.nodes
        leader = nodes.index(self.world.by_name[lock.name])
        cuts = [Fault(fault.at, "peer_cut", leader, k) for k in range(len(nodes)) if k != leader]
        undo = self._chain(*(self.peer_cut(cut) for cut in cuts))
        loop.at(loop.t + fault.extra, lambda: store.write({FAILOVER: (request, 0)}))
        return undo

    def _switchover_request(
        self, leader: str, target: Node | None, delay: float
    ) -> FailoverRequest:
        scheduled = self.world.nodes[0].clock.wall() + delay if delay else None
        candidate = None if target is None else MemberName(target.name)
        return FailoverRequest(
            leader=MemberName(leader), candidate=candidate, scheduled_at=scheduled
        )

    def config(self, fault: Fault) -> None:
        """An operator's edit of the cluster config (the store's record; every node reads it)."""
        store = self.world.store
        current = store.value(CONFIG)
        if not isinstance(current, DynamicConfig) or not isinstance(fault.extra, dict):
            return
        store.write({CONFIG: (dataclasses.replace(current, **fault.extra), 0)})

    def pause(self, fault: Fault) -> Undo | None:
        store = self.world.store
        current = store.value(CONFIG)
        if not isinstance(current, DynamicConfig):
            return None
        store.write({CONFIG: (dataclasses.replace(current, pause=True), 0)})

        def undo() -> None:
            now = store.value(CONFIG)
            if isinstance(now, DynamicConfig):
                store.write({CONFIG: (dataclasses.replace(now, pause=False), 0)})

        return undo

    def cluster_restart(self, fault: Fault) -> Undo | None:
        """Every agent stops cleanly (PostgreSQL with it), in the given order; all start again
        after the duration.  What survives is on disk and in the store."""
        world = self.world
        order = [world.nodes[i % world.params.n] for i in (fault.extra or range(world.params.n))]
        loop = world.loop
        gap = fault.value
        for k, node in enumerate(order):
            loop.at(loop.t + k * gap, node.stop_agent_clean)
            # each comes back `duration` after its own stop, in the same order, give or take
            back = k * gap + fault.duration + gap * world.rng.random()
            loop.at(loop.t + back, node.start_if_stopped)
        return None


_HANDLERS: dict[str, Callable[[Faults, Fault], Undo | None]] = {
    "dcs_cut": Faults.dcs_cut,
    "store_down": Faults.store_down,
    "isolate": Faults.isolate,
    "split": Faults.split,
    "peer_cut": Faults.peer_cut,
    "slow_dcs": Faults.slow_dcs,
    "drop": Faults.drop,
    "watch_lag": Faults.watch_lag,
    "freeze": Faults.freeze,
    "cgroup_freeze": Faults.cgroup_freeze,
    "stall": Faults.stall,
    "pg_crash": Faults.pg_crash,
    "machine": Faults.machine,
    "agent_kill": Faults.agent_kill,
    "slow_promote": Faults.slow_promote,
    "lag": Faults.lag,
    "next_leader": Faults.next_leader,
    "stall_renewal": Faults.stall_renewal,
    "switchover": Faults.switchover,
    "config": Faults.config,
    "pause": Faults.pause,
    "cluster_restart": Faults.cluster_restart,
    "forced_failover": operator.forced_failover,
    "switchover_via": operator.switchover_via,
}
KINDS = frozenset(_HANDLERS)
