"""Helpers: real GossipActors on loopback with CURVE keys made in a temp dir.

Each member is a node of its own -- a registry, a scheduler, a GossipActor and
a fake HA actor that records what gossip tells it -- so members talk only
through ZeroMQ, as on separate hosts.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from actors.runtime.actor import BaseActor, ask, handles
from actors.runtime.registry import Registry
from actors.runtime.timers import Scheduler
from messages.admin import NodeStatus
from messages.base import ActorName, MemberName, Message
from messages.cluster import ClusterView, LeaderRecord, PgState, Role
from messages.gossip import (
    FailsafeHeartbeat,
    FailsafeStatus,
    GetGossipStats,
    GossipStats,
    HeardLeader,
    PeerDown,
    PeerStatus,
    PeerSuspect,
    PeerUp,
)
from messages.ha import Reason

GOSSIP, HA = ActorName("gossip"), ActorName("ha")
HEARTBEAT_S = 0.3


class RecordingHa(BaseActor):
    """Stands in for the HA actor: records every gossip event with its arrival time.

    Like the real HA core it acknowledges a failsafe leader's heartbeat: it tells
    its gossip actor a NodeStatus carrying the acknowledgement (the promise made).
    """

    def __init__(self, *, member: str = "", **base: Any) -> None:
        super().__init__(**base)
        self.member = member
        self.events: list[tuple[float, Message]] = []

    @handles(PeerUp, PeerSuspect, PeerDown, PeerStatus, FailsafeStatus, FailsafeHeartbeat)
    def handle_event(self, msg: Message) -> None:
        self.events.append((time.monotonic(), msg))
        if isinstance(msg, FailsafeHeartbeat) and msg.ttl_s > 0 and self.member:
            heard = HeardLeader(name=msg.leader, incarnation=msg.incarnation, seq=msg.seq)
            status = node_status(self.member, leader=msg.leader)
            self.send(GOSSIP, dataclasses.replace(status, failsafe_acks=(heard,)))


@dataclasses.dataclass
class Member:
    name: str
    port: int
    registry: Registry
    scheduler: Scheduler
    ha: Any
    """The RecordingHa's ActorRef; its record is read through a proxy, in its own thread."""
    ref: Any = None

    def events(self, kind: type[Message] | None = None) -> list[tuple[float, Message]]:
        seen: list[tuple[float, Message]] = self.ha.proxy().events.get(timeout=5)
        return [(t, e) for t, e in seen if kind is None or isinstance(e, kind)]

    def up(self) -> set[str]:
        """Peers whose latest liveness event is PeerUp."""
        state: dict[str, bool] = {}
        for _, e in self.events():
            if isinstance(e, PeerUp | PeerSuspect | PeerDown):
                state[e.name] = isinstance(e, PeerUp)
        return {n for n, up in state.items() if up}

    def stats(self) -> GossipStats:
        reply = ask(self.registry, GOSSIP, GetGossipStats(), timeout_s=5)
        assert isinstance(reply, GossipStats)
        return reply

    def stop(self) -> None:
        if self.ref is not None:
            self.ref.stop()
            self.ref = None


def node_status(
    name: str, scope: str = "demo", leader: str = "node1", failsafe_ttl_s: float = 0.0
) -> NodeStatus:
    """A member's status; the leader leans on failsafe when `failsafe_ttl_s` > 0."""
    return NodeStatus(
        name=MemberName(name),
        scope=scope,
        role=Role.PRIMARY if name == leader else Role.REPLICA,
        state=PgState.RUNNING,
        reason=Reason.REPLICA_OK,
        is_leader=name == leader,
        cluster=ClusterView(leader=LeaderRecord(name=MemberName(leader))),
        failsafe_ttl_s=failsafe_ttl_s if name == leader else 0.0,
    )


StartMember = Callable[..., Member]
