"""An operator's requests that go the way `pgactor ctl` sends them: through one member.

`ctl` talks to one member's console, which hands the request to that member's
HA core (the real `requests.handle` inside `cycle.step`), which sends the
write to that member's own leader-lock actor.  A request written straight
into the store (as `faults.switchover` does) skips all of that -- and the
bug of a forced failover never happening when asked through the candidate's
own console lived there: the candidate's write was its own, so its watch saw
nothing new, and nothing told its HA core about the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from messages.admin import SwitchoverRequest
from messages.base import MemberName

from .schedule import Fault

if TYPE_CHECKING:
    from .faults import Faults, Undo
    from .node import Node

SETTLE_S = 2.0
"""After the replicas are back: time to register and find that none may lead alone."""


def forced_failover(faults: Faults, fault: Fault) -> Undo | None:
    """`ctl failover --candidate C --force` with no leader, sent through `fault.extra`
    ("candidate": C's own console, "other": the other replica's).

    The replicas stop cleanly first (`fault.value` apart), then the leader, and only
    the replicas start again: the former primary alone has its last writes (and
    released cleanly), so neither may lead by itself, and only the request elects C.
    C must lead within `request_bound` of the request (checks.request_carried_out).
    The former primary comes back at the end (the heal, or `fault.duration`).
    """
    world = faults.world
    lock = world.store.leader
    if lock is None:
        return None
    leader = world.by_name[lock.name]
    replicas = [n for n in world.nodes if n is not leader]
    world.rng.shuffle(replicas)
    candidate, other = replicas[0], replicas[1]
    via = candidate if fault.extra == "candidate" else other
    loop, gap, cfg = world.loop, fault.value, world.params.config
    for k, node in enumerate((*replicas, leader)):
        loop.at(loop.t + k * gap, node.stop_agent_clean)
    back = loop.t + len(replicas) * gap + 1.0 + world.rng.uniform(0.0, cfg.ttl_s)
    for node in replicas:
        loop.at(back, node.start_if_stopped)
    asked = back + cfg.ttl_s + cfg.loop_wait_s + SETTLE_S
    loop.at(asked, _ask, faults, via, candidate)
    return leader.start_if_stopped


def request_bound(loop_wait_s: float, retry_timeout_s: float) -> float:
    """Seconds from the request to the candidate running as primary: the write and its
    watch, a loop of its own at worst, the acquire, and a promotion (up to 3 s, slowed)."""
    return 2 * loop_wait_s + retry_timeout_s + 15.0


def _ask(faults: Faults, via: Node, candidate: Node) -> None:
    world = faults.world
    if faults.healed or world.store.leader is not None:
        return  # somebody leads after all: no forced failover to carry out
    world.trace.note(via.name, f"operator: failover --candidate {candidate.name} --force")
    via.to_ha(SwitchoverRequest(leader=None, candidate=MemberName(candidate.name)))
    cfg = world.params.config
    due = world.loop.t + request_bound(cfg.loop_wait_s, cfg.retry_timeout_s)
    world.loop.at(due, world.checks.request_carried_out, candidate, via)


def switchover_via(faults: Faults, fault: Fault) -> None:
    """`ctl switchover --leader L --candidate C` through a member's console: `fault.extra`
    names which ("leader", "candidate" or "other"); the candidate is `fault.other`."""
    world = faults.world
    lock = world.store.leader
    if lock is None:
        return
    leader = world.by_name[lock.name]
    candidate = faults.resolve(fault.other)
    if candidate is leader:
        return
    others = [n for n in world.nodes if n not in (leader, candidate)]
    via = {"leader": leader, "candidate": candidate}.get(str(fault.extra)) or others[0]
    name = candidate.name
    world.trace.note(via.name, f"operator: switchover --leader {lock.name} --candidate {name}")
    request = SwitchoverRequest(leader=MemberName(lock.name), candidate=MemberName(name))
    via.to_ha(request)
