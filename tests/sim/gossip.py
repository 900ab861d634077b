"""One node's GossipActor, as far as failsafe needs it: the real membership rules.

Snapshots go to every peer whose link is up, every heartbeat (1 s) and at
once when the HA core's NodeStatus changes them; what a peer hears goes
through the real `membership` functions: a failsafe leader's heartbeat
becomes a FailsafeHeartbeat for the HA core (which makes the promise and
acknowledges it in its next NodeStatus), and the leader's lease by the
members' acknowledgements (`failsafe_lease_until`) goes to its HA core as
FailsafeStatus -- on every change and every heartbeat, as the actor does.
Liveness events (PeerUp, PeerSuspect, PeerDown) are computed but not sent:
no HA rule reads them, and the HA actor drops them.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from actors.gossip import membership as mb
from messages.admin import NodeStatus
from messages.base import MemberName
from messages.cluster import MemberStatus
from messages.dcs import DcsView
from messages.gossip import FailsafeHeartbeat, FailsafeStatus, PeerStatus

if TYPE_CHECKING:
    from .node import Node

HEARTBEAT_S = 1.0
SENT_KEPT = 256


class Gossip:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.world = node.world
        self.table = mb.Table(me=MemberName(node.name), scope="sim")
        self.timing = mb.Timing(HEARTBEAT_S, 3, 6)
        self.incarnation = self.world.rng.getrandbits(62)
        self.seq = 0
        self.own: PeerStatus | None = None
        self.sent: dict[int, tuple[float, float]] = {}
        self.lease_until: float | None = None

    def start(self) -> None:
        self.node.act(self._beat, delay=HEARTBEAT_S)

    # -- from the HA actor ---------------------------------------------------------------

    def handle(self, msg: Any) -> None:
        if isinstance(msg, NodeStatus):
            snapshot = _snapshot(msg, self.incarnation)
            changed = snapshot != self.own
            self.own = snapshot
            if changed:
                self._publish()
                self._judge()
        elif isinstance(msg, DcsView):
            names = [m.name for m in msg.view.members]
            self.table = mb.on_members(self.table, names, reachable=msg.reachable)
            self._judge()

    # -- peers -----------------------------------------------------------------------------

    def _publish(self) -> None:
        if self.own is None:
            return
        self.seq += 1
        now = self.node.clock.now()
        if self.own.failsafe_ttl_s > 0:
            self.sent[self.seq] = (now, self.own.failsafe_ttl_s)
            if len(self.sent) > SENT_KEPT:
                del self.sent[min(self.sent)]
        frame = dataclasses.replace(self.own, seq=self.seq)
        world, me = self.world, self.node.name
        loop = world.loop
        for peer in world.nodes:
            if peer is not self.node and peer.up and world.net.peer_up(me, peer.name):
                loop.at(loop.t + world.net.peer_latency(), peer.gossip_frame, frame)

    def receive(self, status: PeerStatus) -> None:
        beat = None
        if mb.is_news(self.table, status):
            beat = mb.failsafe_heartbeat(self.table, status)
        self.table, _ = mb.on_status(self.table, status, self.node.clock.now())
        if beat is not None:
            self.node.to_ha(beat)
        self._judge()

    def _beat(self) -> None:
        self._publish()
        self.table, _ = mb.on_tick(self.table, self.node.clock.now(), self.timing)
        self._judge(repeat=True)
        self.node.act(self._beat, delay=HEARTBEAT_S)

    def _judge(self, repeat: bool = False) -> None:
        leaning = self.own is not None and self.own.failsafe_ttl_s > 0
        until = (
            mb.failsafe_lease_until(self.table, self.incarnation, self.sent) if leaning else None
        )
        if until != self.lease_until or repeat:
            self.node.to_ha(FailsafeStatus(lease_until=until))
        self.lease_until = until


def _snapshot(st: NodeStatus, incarnation: int) -> PeerStatus:
    """GossipActor._snapshot: what a peer learns of us."""
    record = st.cluster.member(st.name) or MemberStatus(name=st.name)
    member = MemberStatus(
        name=st.name,
        role=st.role,
        state=st.state,
        conn_host=record.conn_host,
        conn_port=record.conn_port,
        timeline=st.timeline,
        wal_position=st.wal_position,
        following=st.following,
        tags=st.tags,
        pending_restart=st.pending_restart,
    )
    return PeerStatus(
        member=member,
        scope=st.scope,
        leader=st.cluster.leader.name if st.cluster.leader else None,
        holds_lock=st.is_leader,
        dcs_reachable=st.dcs_reachable,
        incarnation=incarnation,
        failsafe_ttl_s=st.failsafe_ttl_s,
        heard=st.failsafe_acks,
    )


__all__ = ["FailsafeHeartbeat", "Gossip"]
