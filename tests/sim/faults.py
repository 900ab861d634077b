"""The fault model: a network of cuts, delays and drops, and faults applied on schedule.

Partitions are per link: a node from the DCS, or a pair of nodes from each
other.  A paused agent (SIGSTOP) takes no steps and its in-flight replies
queue up, but its PostgreSQL keeps running and accepting writes.  A machine
crash stops both; a restarted agent forgets everything, PostgreSQL does not.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from messages.base import MemberName
from messages.cluster import FailoverRequest

if TYPE_CHECKING:
    from .node import Node
    from .schedule import Fault
    from .world import World


class Network:
    """Which links are cut until when, and which are slow or lossy."""

    def __init__(self) -> None:
        self.dcs: dict[str, int] = {}
        self.pairs: dict[tuple[str, str], int] = {}
        self.isolated: dict[str, int] = {}
        self.latency: dict[str, tuple[int, int]] = {}
        self.drop: dict[str, tuple[float, int]] = {}
        self.watch: dict[str, tuple[float, int]] = {}
        self.cut_next_leader = 0
        """Armed: cut whoever takes the lock next from the DCS, for this many ticks."""

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def dcs_cut(self, name: str, t: int) -> bool:
        return self.dcs.get(name, -1) > t

    def peers_cut(self, a: str, b: str, t: int) -> bool:
        if self.isolated.get(a, -1) > t or self.isolated.get(b, -1) > t:
            return a != b
        key = (a, b) if a < b else (b, a)
        return self.pairs.get(key, -1) > t

    def dcs_latency(self, name: str, t: int, rng: random.Random) -> int:
        extra, until = self.latency.get(name, (0, -1))
        return rng.randint(0, 1) + (extra if until > t else 0)

    def drop_p(self, name: str, t: int) -> float:
        p, until = self.drop.get(name, (0.0, -1))
        return p if until > t else 0.0

    def watch_p(self, name: str, t: int) -> float:
        p, until = self.watch.get(name, (0.9, -1))
        return p if until > t else 0.9


def apply(world: World) -> None:
    """Start the faults due now, bring crashed machines back, heal everything at heal_at."""
    run = world.run_state
    if run is None:
        return
    t = world.t
    for node in world.nodes:
        if not node.up and t >= run.machine_back.get(node.name, 0):
            _machine_up(world, node)
    if t == run.heal_at:
        heal(world)
    while run.next_fault < len(run.faults) and run.faults[run.next_fault].at + run.base <= t:
        fault = run.faults[run.next_fault]
        run.next_fault += 1
        if t < run.heal_at:
            _start(world, fault)


def heal(world: World) -> None:
    world.net.clear()
    world.trace.note("*", "heal: every fault ends")
    for node in world.nodes:
        node.frozen_until = -1
        node.agent_down_until = -1
        if not node.up:
            _machine_up(world, node)


def _start(world: World, fault: Fault) -> None:
    node = world.nodes[fault.node]
    until = world.t + fault.duration
    world.trace.note(node.name, f"fault: {fault.describe()}")
    handler = _HANDLERS[fault.kind]
    handler(world, node, fault, until)


def _dcs_cut(world: World, node: Node, fault: Fault, until: int) -> None:
    world.net.dcs[node.name] = max(until, world.net.dcs.get(node.name, -1))


def _isolate(world: World, node: Node, fault: Fault, until: int) -> None:
    world.net.isolated[node.name] = max(until, world.net.isolated.get(node.name, -1))


def _split(world: World, node: Node, fault: Fault, until: int) -> None:
    _dcs_cut(world, node, fault, until)
    _isolate(world, node, fault, until)


def _peer_cut(world: World, node: Node, fault: Fault, until: int) -> None:
    a, b = node.name, world.nodes[fault.other].name
    world.net.pairs[(a, b) if a < b else (b, a)] = until


def _freeze(world: World, node: Node, fault: Fault, until: int) -> None:
    node.frozen_until = max(until, node.frozen_until)


def _pg_crash(world: World, node: Node, fault: Fault, until: int) -> None:
    if node.up:
        node.pg.crash()


def _machine(world: World, node: Node, fault: Fault, until: int) -> None:
    if not node.up:
        return
    node.up = False
    node.fence_at = None  # the fence process dies with its machine
    node.pg.crash()
    world.cancel_job(node)
    node.incarnation += 1
    assert world.run_state is not None
    world.run_state.machine_back[node.name] = until


def _machine_up(world: World, node: Node) -> None:
    node.up = True
    node.restart_agent()
    world.trace.note(node.name, "machine back up")


def _agent_restart(world: World, node: Node, fault: Fault, until: int) -> None:
    if node.up:
        node.restart_agent()
        node.agent_down_until = until


def _slow_dcs(world: World, node: Node, fault: Fault, until: int) -> None:
    world.net.latency[node.name] = (int(fault.value), until)


def _drop(world: World, node: Node, fault: Fault, until: int) -> None:
    world.net.drop[node.name] = (fault.value, until)


def _watch_lag(world: World, node: Node, fault: Fault, until: int) -> None:
    world.net.watch[node.name] = (fault.value, until)


def _cut_next_leader(world: World, node: Node, fault: Fault, until: int) -> None:
    world.net.cut_next_leader = fault.duration


def new_leader(world: World, name: str) -> None:
    """The lock just changed hands: spring the armed cut on the new holder."""
    ticks = world.net.cut_next_leader
    if ticks:
        world.net.cut_next_leader = 0
        world.net.dcs[name] = max(world.t + ticks, world.net.dcs.get(name, -1))
        world.trace.note(name, f"fault: cut from the DCS as it takes the lock, for {ticks}")


def _switchover(world: World, node: Node, fault: Fault, until: int) -> None:
    """An operator's request: from the current leader, to a member or the best one."""
    lock = world.dcs.leader
    candidate = None if fault.other < 0 else MemberName(world.nodes[fault.other].name)
    if lock is None and candidate is None:
        return
    scheduled = world.t + world.params.wall_offsets[0] + fault.duration if fault.duration else None
    leader = None if lock is None else MemberName(lock.name)
    world.dcs.set_failover(
        FailoverRequest(leader=leader, candidate=candidate, scheduled_at=scheduled)
    )


_HANDLERS = {
    "dcs_cut": _dcs_cut,
    "isolate": _isolate,
    "split": _split,
    "peer_cut": _peer_cut,
    "freeze": _freeze,
    "pg_crash": _pg_crash,
    "machine": _machine,
    "agent_restart": _agent_restart,
    "slow_dcs": _slow_dcs,
    "drop": _drop,
    "watch_lag": _watch_lag,
    "switchover": _switchover,
    "cut_next_leader": _cut_next_leader,
}
