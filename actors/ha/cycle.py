"""The HA node's whole cycle as one pure function: an event in, state and an outbox out.

`step(node, event, now, wall)` is everything HaActor decides: it feeds the
event to the state reducer (state.py), runs decide() when the event may
change a decision, chooses what to send where (the actions, the fence's
arming, our member record, our status), and says when it must run again.
HaActor is a shell that calls it for every message and carries out the
outbox; the simulator drives the very same function, so what it checks is
what runs (h11's shape: events in, state and messages out, I/O at the edge).

Time comes in as arguments: `now` is this node's monotonic clock (leases,
deadlines), `wall` its wall clock (only for an operator's scheduled
switchover).  Nothing here reads a clock, sleeps or sends.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from actors.ha import publish, requests
from actors.ha import state as ha_state
from actors.ha.decide import decide
from actors.ha.routing import target_of
from actors.ha.state import HaState
from actors.ha.watchdog import WatchdogCommand, watchdog_command
from actors.runtime import names
from actors.runtime.evolve import evolve
from messages.admin import NodeStatus
from messages.base import ActorName, Message
from messages.cluster import FailoverRequest
from messages.dcs import DcsView, LockResult
from messages.gossip import FailsafeHeartbeat, FailsafeStatus
from messages.ha import ActionDone, ActionKind, Decision, Reason
from messages.postgres import PostgresStatus, PrimaryProbed, WatchdogStatus
from messages.runtime import Resend, Tick

SWITCHOVER_REFRESH_S = 0.1
"""At most how often our PostgreSQL status is refreshed while a switchover is due: the
leader judges the candidate from our member record, so every moment counts."""
WAKE_MARGIN_S = 0.01
"""Woken this long after a deadline, so the lease is past it by the observer's own test."""
IDLE_SLACK = 0.05
IDLE_SLACK_MAX_S = 0.5
"""The loop's own wake, and the member record's touch, come this share of loop_wait
late, at most IDLE_SLACK_MAX_S (0.5 s of the default 10).  A leader renews a few
milliseconds more than loop_wait apart, so on a replica the view of each renewal comes
first, and the step it runs does the loop's work (the decision, the touch, the status):
one wake a loop instead of two, four actors hearing one status instead of two.  No
deadline moves (the lease's are node.deadline).  Capped, since node/config promises only
loop_wait + 2 x retry_timeout <= ttl with retry_timeout >= 1: touches stay less than
ttl apart, and statuses (publish.status_due) less than loop_wait + retry_timeout + 0.5."""
_DATA_DIR_ACTIONS = frozenset(
    {ActionKind.BOOTSTRAP, ActionKind.CREATE_REPLICA, ActionKind.REWIND, ActionKind.REINITIALIZE}
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Fence:
    """This node's fence settings (watchdog section): None in Node when mode is off."""

    safety_margin_s: float


@dataclasses.dataclass(frozen=True, kw_only=True)  # a dict, not slots: see evolve
class Node:
    """Everything the HA node remembers; nothing else survives between events."""

    ha: HaState
    identity: publish.Identity
    fence: Fence | None = None
    pg_known: bool = False
    """The postmaster actor reported since we started (or since the data directory changed):
    until it does the state holds a default status, and deciding on it could clone over data."""
    reinit_from: requests.Upstream | None = None
    """Set while an operator's reinitialisation waits for PostgreSQL to stop."""
    touched: publish.Touched | None = None
    refreshed_at: float = -math.inf
    fence_command: WatchdogCommand | None = None
    last_reason: Reason | None = None
    decided_at: float | None = None
    deadline: float | None = None
    """The last decision's wake_at: a time by which decide() must run again."""
    published: tuple[float, NodeStatus] | None = None
    """When we last published our NodeStatus, and what."""


@dataclasses.dataclass(frozen=True, slots=True)
class Outbox:
    """What the shell must do after a step."""

    sends: tuple[tuple[ActorName, Message], ...] = ()
    publishes: tuple[tuple[names.Topic, Message], ...] = ()
    reply: Message | None = None
    decision: Decision | None = None
    """The decision made in this step, when it is news worth a log line."""
    notes: tuple[str, ...] = ()
    """Log lines (INFO) about what the step did besides deciding."""
    wake_at: float | None = None
    """When to step again (with a Tick) if no event comes first."""


class _Out:
    """The outbox being filled during one step (local to the step, then frozen)."""

    def __init__(self) -> None:
        self.sends: list[tuple[ActorName, Message]] = []
        self.publishes: list[tuple[names.Topic, Message]] = []
        self.reply: Message | None = None
        self.decision: Decision | None = None
        self.notes: list[str] = []
        self.cycle = False

    def send(self, to: ActorName, msg: Message) -> None:
        self.sends.append((to, msg))


def new_node(
    identity: publish.Identity,
    bootstrap_config: Any,
    *,
    fence: Fence | None = None,
    watchdog_required: bool = False,
) -> Node:
    ha = HaState(
        name=identity.member,
        tags=identity.tags,
        bootstrap_config=bootstrap_config,
        watchdog_required=watchdog_required and fence is not None,
        # required: not fit to lead until the WatchdogActor says the fence holds
        watchdog_ok=not watchdog_required,
    )
    return Node(ha=ha, identity=identity, fence=fence)


def step(node: Node, event: Message, now: float, wall: float) -> tuple[Node, Outbox]:
    """Apply one event; decide again if it may change a decision."""
    out = _Out()
    handler = _HANDLERS.get(type(event))
    if handler is not None:
        node = handler(node, event, now, wall, out)
    elif isinstance(event, requests.REQUESTS):
        node = _apply_request(node, requests.handle(node.ha, event), out, now)
    if out.cycle:
        node = _cycle(node, now, wall, out)
    return node, Outbox(
        sends=tuple(out.sends),
        publishes=tuple(out.publishes),
        reply=out.reply,
        decision=out.decision,
        notes=tuple(out.notes),
        wake_at=_wake_at(node, now),
    )


# -- events ------------------------------------------------------------------------------


def _on_pg(node: Node, msg: PostgresStatus, now: float, wall: float, out: _Out) -> Node:
    out.cycle = True
    return evolve(node, ha=ha_state.on_pg_status(node.ha, msg), pg_known=True)


def _on_view(node: Node, msg: DcsView, now: float, wall: float, out: _Out) -> Node:
    before = node.ha.view.failover
    node = evolve(node, ha=ha_state.on_dcs_view(node.ha, msg, now))
    after = node.ha.view.failover
    if msg.reachable and after != before:  # an operator's request: worth a line each way
        out.notes.append(_failover_note(after))
    out.cycle = True
    return _refresh_during_switchover(node, now, wall, out)


def _failover_note(request: FailoverRequest | None) -> str:
    if request is None:
        return "switchover/failover request cleared"
    kind = "switchover" if request.leader is not None else "failover"
    return f"{kind} requested: from {request.leader or 'any'} to {request.candidate or 'any'}"


def _on_lock(node: Node, msg: LockResult, now: float, wall: float, out: _Out) -> Node:
    out.cycle = True
    return evolve(node, ha=ha_state.on_lock_result(node.ha, msg, now))


def _on_action_done(node: Node, msg: ActionDone, now: float, wall: float, out: _Out) -> Node:
    out.notes.append(f"{msg.kind.value} {'done' if msg.ok else 'failed:'} {msg.detail}".strip())
    node = evolve(node, ha=ha_state.on_action_done(node.ha, msg, now))
    if msg.kind in _DATA_DIR_ACTIONS:
        # The data directory changed under the postmaster actor's last report: decide
        # again only on a fresh one, or the old "empty" starts the same job twice.
        node = evolve(node, pg_known=False)
        out.send(names.POSTMASTER, Resend())
    if node.reinit_from is not None and msg.kind is ActionKind.STOP:
        change = requests.reinitialize_after_stop(node.ha, node.reinit_from, stopped=msg.ok)
        node = _apply_request(evolve(node, reinit_from=None), change, out, now)
    out.cycle = True
    return node


def _on_tick(node: Node, msg: Tick, now: float, wall: float, out: _Out) -> Node:
    out.cycle = True
    return _refresh_during_switchover(node, now, wall, out)


def _on_failsafe(node: Node, msg: FailsafeStatus, now: float, wall: float, out: _Out) -> Node:
    if msg.lease_until == node.ha.failsafe_until:
        return node
    out.cycle = True
    return evolve(node, ha=evolve(node.ha, failsafe_until=msg.lease_until))


def _on_heartbeat(node: Node, msg: FailsafeHeartbeat, now: float, wall: float, out: _Out) -> Node:
    ha = ha_state.on_failsafe_heartbeat(node.ha, msg, now)
    if ha == node.ha:
        return node
    out.cycle = True  # the promise is made: publish its acknowledgement at once
    return evolve(node, ha=ha)


def _on_watchdog(node: Node, msg: WatchdogStatus, now: float, wall: float, out: _Out) -> Node:
    if msg.ok == node.ha.watchdog_ok:
        return node
    out.notes.append(f"fence {'holds' if msg.ok else 'does not hold'} its arming {msg.detail}")
    out.cycle = True
    return evolve(node, ha=evolve(node.ha, watchdog_ok=msg.ok))


def _on_probe(node: Node, msg: PrimaryProbed, now: float, wall: float, out: _Out) -> Node:
    took = "still takes writes" if msg.writable else "takes no writes"
    out.notes.append(f"former primary {msg.name} {took} {msg.detail}".strip())
    out.cycle = True
    return evolve(node, ha=ha_state.on_probe(node.ha, msg, now))


Handler = Callable[[Node, Any, float, float, _Out], Node]
_HANDLERS: dict[type[Message], Handler] = {
    PostgresStatus: _on_pg,
    DcsView: _on_view,
    LockResult: _on_lock,
    ActionDone: _on_action_done,
    Tick: _on_tick,
    FailsafeStatus: _on_failsafe,
    FailsafeHeartbeat: _on_heartbeat,
    WatchdogStatus: _on_watchdog,
    PrimaryProbed: _on_probe,
}


def _apply_request(node: Node, change: requests.Change, out: _Out, now: float) -> Node:
    if change.reply is not None:
        out.reply = change.reply
    for to, msg in change.sends:
        out.send(to, msg)
    if change.booked is not None:  # an operator's action, booked as decide()'s own are
        node = evolve(node, ha=ha_state.after_decision(node.ha, change.booked, now))
    if change.reinit_from is not None:
        node = evolve(node, reinit_from=change.reinit_from)
    if change.note:
        out.notes.append(change.note)
    return node


def _refresh_during_switchover(node: Node, now: float, wall: float, out: _Out) -> Node:
    if not requests.switchover_due(node.ha, wall) or now - node.refreshed_at < SWITCHOVER_REFRESH_S:
        return node
    out.send(names.POSTMASTER, Resend())
    return evolve(node, refreshed_at=now)


# -- the decision cycle ------------------------------------------------------------------


def _cycle(node: Node, now: float, wall: float, out: _Out) -> Node:
    ha = node.ha
    if not ha.have_view or not node.pg_known:
        return node
    local = ha_state.local_view(ha, wall, now)
    decision = decide(ha.view, local, ha.config, now)
    if decision.reason is not node.last_reason or decision.actions:
        out.decision = decision
    for action in decision.actions:
        out.send(target_of(action), action)
    ha = ha_state.after_decision(ha, decision, now)
    node = evolve(
        node, ha=ha, last_reason=decision.reason, decided_at=now, deadline=decision.wake_at
    )
    node = _guard(node, decision, now, out)
    return _publish(node, decision, now, wall, out)


def _guard(node: Node, decision: Decision, now: float, out: _Out) -> Node:
    """Keep the fence armed as watchdog.py says; only changes are sent."""
    if node.fence is None:
        return node
    command = watchdog_command(node.ha, decision, now, node.fence.safety_margin_s)
    if command is None or command == node.fence_command:
        return node
    out.send(names.WATCHDOG, command)
    return evolve(node, fence_command=command)


def _publish(node: Node, decision: Decision, now: float, wall: float, out: _Out) -> Node:
    ha = node.ha
    member = publish.member_status(ha, node.identity)
    due = requests.switchover_due(ha, wall)
    if publish.touch_due(node.touched, member, now, ha.config, due):
        out.send(names.LEADER_LOCK, publish.touch(member, ha.config))
        node = evolve(node, touched=(now, member))
    status = publish.node_status(ha, node.identity, decision, now)
    if publish.status_due(node.published, status, now, ha.config, ha.lock_op_in_flight):
        out.publishes.append((names.NODE_STATUS, status))
        node = evolve(node, published=(now, status))
    return node


def _wake_at(node: Node, now: float) -> float | None:
    """The next deadline still ahead, or the next loop: never a time already past.

    A deadline at or before `now` was met by the decision just made (or by the
    one that set it), so waking for it again would only spin.
    """
    loop = node.ha.config.loop_wait_s
    base = node.decided_at if node.decided_at is not None else now
    late = min(loop * IDLE_SLACK, IDLE_SLACK_MAX_S)
    idle = base + loop + late
    wake = max(idle, now + min(loop, 1.0)) if idle <= now else idle
    # The member record is touched every loop_wait (and the slack): not only when a
    # decision happened loop_wait ago (an event between would put the touch nearly
    # 2 x loop_wait apart, past the record's lease in a config such as ttl 30, loop_wait 20).
    touch = node.touched[0] + loop + late if node.touched is not None else None
    for deadline in (node.deadline, node.ha.lock_retry_at, touch):
        if deadline is not None and deadline > now:
            wake = min(wake, deadline + WAKE_MARGIN_S)
    return wake
