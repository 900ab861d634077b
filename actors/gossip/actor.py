"""GossipActor: our snapshot out to every peer, theirs in, liveness to the HA core.

A shell around :mod:`membership` (who is alive, failsafe) and :mod:`peers`
(whom to listen to); the sockets live in the transport's own thread.  Inputs:
the HA actor's NodeStatus (our snapshot: published at once when it changes,
and every heartbeat anyway), the DCS view (the member list: peers to connect
to, members failsafe must hear), frames from peers, and its own ticks.
Outputs, all to the HA actor: PeerUp / PeerSuspect / PeerDown, PeerStatus on
a change, FailsafeHeartbeat for a failsafe leader's heartbeat (the HA core
makes the promise, and its NodeStatus then carries the acknowledgement we
publish), and FailsafeStatus (our lease by those acknowledgements).

A frame that is too large or does not decode to a PeerStatus of our scope is
dropped and counted; nothing a peer sends can fail this actor.
"""

from __future__ import annotations

import collections
import dataclasses
import random
from typing import Unpack

from actors.gossip import membership as mb
from actors.gossip.peers import (
    Lookup,
    default_lookup,
    endpoints,
    needs_lookups,
    resolve_in_background,
)
from actors.gossip.quiet import QuietFrames
from actors.gossip.transport import PUB, SILENCE, SUB, open_gossip
from actors.runtime.actor import ActorArgs, BaseActor, handles
from actors.runtime.zmq_io import Endpoint, tcp
from messages.admin import NodeStatus
from messages.base import ActorName, MemberName, Message
from messages.cluster import MemberStatus
from messages.codec import DecodeError, decode, encode
from messages.config import GossipSettings
from messages.dcs import DcsView
from messages.gossip import (
    DropReason,
    FailsafeStatus,
    FrameDropped,
    GetGossipStats,
    GossipStats,
    InboundFrame,
    NewSubscriber,
    PeerDown,
    PeersResolved,
    PeerStatus,
    PeerSuspect,
    PeerUp,
)
from messages.runtime import Resend, Tick

RESOLVE_EVERY_S = 10.0
"""How often static DNS names are looked up again (pods come and go)."""
SENT_KEPT = 256
"""Failsafe heartbeats whose send time we keep, for members' acknowledgements."""
TICK_MARGIN_S = 0.001
"""A liveness tick comes this long after the deadline it is for."""
DECODED_KEPT = 64
"""Decoded frames kept: a few per peer is enough for idle heartbeats to hit."""


class GossipActor(BaseActor):
    def __init__(  # noqa: PLR0913 - gossip's wiring, all keyword-only
        self,
        *,
        settings: GossipSettings,
        member: MemberName,
        scope: str,
        api_url: str = "",
        ha_actor: ActorName = ActorName("ha"),
        leader_lock: ActorName = ActorName("leader_lock"),
        lookup: Lookup = default_lookup,
        **base: Unpack[ActorArgs],
    ) -> None:
        super().__init__(**base)
        self.settings = settings
        self.api_url = api_url
        self.ha_actor = ha_actor
        self.leader_lock = leader_lock
        self.lookup = lookup
        self.timers = self.runtime.timers(self.name)
        self.timing = mb.Timing(settings.heartbeat_s, settings.suspect_after, settings.dead_after)
        self.table = mb.Table(me=member, scope=scope)
        self.incarnation = random.getrandbits(62)
        self.seq = 0
        self.own: PeerStatus | None = None
        self.frame: bytes | None = None
        """Our snapshot as last sent, resent by heartbeats while nothing changes."""
        self.decoded: dict[bytes, PeerStatus] = {}
        """Frames already decoded and accepted: an idle peer resends the same bytes."""
        self.dcs_members: tuple[MemberStatus, ...] = ()
        self.resolved: frozenset[str] = frozenset()
        self.connected: frozenset[str] = frozenset()
        self.lease_until: float | None = None
        self.sent: dict[int, tuple[float, float]] = {}
        """Our failsafe heartbeats by seq: (when sent, their ttl)."""
        self.counts: collections.Counter[str] = collections.Counter()
        self.endpoint: Endpoint | None = None
        self.quiet = QuietFrames(self.runtime.clock, self.timing.suspect_s)
        """Alive peers' repeated heartbeats, noted by the socket thread without waking us."""
        self.repeating: bytes | None = None
        """The frame the socket thread resends every heartbeat by itself (None: we send)."""
        self.beat: float | str | None = None
        """Our tick: "every" heartbeat while failsafe matters, else once at this time
        (the next liveness deadline), or None when no peer can turn silent."""

    def started(self) -> None:
        """Actor thread: bind, connect to the peers known so far, start the heartbeat."""
        self.endpoint, _ = open_gossip(self.settings, self.registry, self.name, self.quiet)
        s = self.settings
        self.log.info("gossip on %s:%d (CURVE)", s.listen_host, s.listen_port)
        if needs_lookups(s.peers):  # only DNS names change: addresses need no timer
            self.timers.every("resolve", RESOLVE_EVERY_S, Tick(timer="resolve"), first_s=0.0)
        self._reconnect()
        # the member list is in the DCS view we subscribe to; a restarted gossip actor needs it now
        self.send(self.leader_lock, Resend())

    def stopping(self) -> None:
        """Actor thread: stop the ticks, then close the sockets and the context."""
        self.timers.cancel_all()
        endpoint, self.endpoint = self.endpoint, None
        if endpoint is not None:
            endpoint.close()

    # -- our side ----------------------------------------------------------------------------

    @handles(NodeStatus)
    def handle_node_status(self, msg: NodeStatus) -> None:
        snapshot = self._snapshot(msg)
        changed = snapshot != self.own
        self.own = snapshot
        if changed:
            self._publish()
            self._judge_failsafe()
            self._arm_tick()

    @handles(NewSubscriber)
    def handle_new_subscriber(self, msg: NewSubscriber) -> None:
        self._publish()

    def _snapshot(self, st: NodeStatus) -> PeerStatus:
        record = st.cluster.member(st.name) or MemberStatus(name=st.name)
        member = MemberStatus(
            name=st.name,
            role=st.role,
            state=st.state,
            conn_host=record.conn_host,
            conn_port=record.conn_port,
            api_url=self.api_url or record.api_url,
            gossip_url=tcp(self.settings.connect_address),
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
            incarnation=self.incarnation,
            failsafe_ttl_s=st.failsafe_ttl_s,
            heard=st.failsafe_acks,
        )

    def _publish(self, changed: bool = True) -> None:
        """Send our snapshot.  While nothing changes the socket thread resends the frame
        as it was every heartbeat (same seq: a duplicate proves us alive, and peers
        note it without decoding); a failsafe heartbeat always gets a seq of its own,
        for the acknowledgements, so the actor sends each one itself."""
        if self.own is None or self.endpoint is None or self.endpoint.loop is None:
            return
        leaning = self.own.failsafe_ttl_s > 0
        if changed or leaning or self.frame is None:
            self.seq += 1
            if leaning:
                # Before it leaves: an acknowledgement may come back at once.
                self.sent[self.seq] = (self.runtime.clock(), self.own.failsafe_ttl_s)
                if len(self.sent) > SENT_KEPT:
                    del self.sent[min(self.sent)]
            self.frame = encode(dataclasses.replace(self.own, seq=self.seq))
        if leaning:
            if self.repeating is not None:
                self.endpoint.loop.repeat(PUB, None)
                self.repeating = None
            self.endpoint.loop.send(PUB, [self.frame])
        elif self.frame != self.repeating:
            self.endpoint.loop.repeat(PUB, [self.frame], self.settings.heartbeat_s)
            self.repeating = self.frame
        self.counts["published"] += 1

    # -- peers -------------------------------------------------------------------------------

    @handles(DcsView)
    def handle_dcs_view(self, msg: DcsView) -> None:
        names = [m.name for m in msg.view.members]
        self.table = mb.on_members(self.table, names, reachable=msg.reachable)
        if msg.reachable:  # a cached list may be stale; keep listening to whom we had
            self.dcs_members = msg.view.members
            self._reconnect()
        self._judge_failsafe()
        self._arm_tick()

    @handles(PeersResolved)
    def handle_resolved(self, msg: PeersResolved) -> None:
        self.resolved = msg.endpoints
        self._reconnect()

    def _reconnect(self) -> None:
        want = endpoints(
            own=self.settings.connect_address,
            members=self.dcs_members,
            static=self.settings.peers,
            resolved=self.resolved,
        )
        if self.endpoint is None or self.endpoint.loop is None or want == self.connected:
            return
        for url in sorted(want - self.connected):
            self.endpoint.loop.connect(SUB, url)
        for url in sorted(self.connected - want):
            self.endpoint.loop.disconnect(SUB, url)
        self.log.info("gossip peers: %s", ", ".join(sorted(want)) or "none")
        self.connected = want

    @handles(InboundFrame)
    def handle_frame(self, msg: InboundFrame) -> None:
        status = self._decode(msg)
        if status is None:
            return
        self.counts["received"] += 1
        beat = mb.failsafe_heartbeat(self.table, status) if mb.is_news(self.table, status) else None
        self.table, events = mb.on_status(self.table, status, self.runtime.clock())
        self._tell_ha(events if beat is None else (*events, beat))
        self._judge_failsafe()
        peer = self.table.peers.get(status.member.name)
        if len(msg.frames) == 1 and peer is not None and peer.status == status:
            # its latest, and (just heard) alive: repeats of it only need their time noted
            self.quiet.admit(bytes(msg.frames[0]), status)
        self._arm_tick()  # whoever watches the peer's silence, from when it was heard now

    def _take_in_repeats(self) -> None:
        """The repeated heartbeats the socket thread noted, at the times they arrived."""
        for status, at, count in self.quiet.drain():
            self.counts["received"] += count
            self.table, events = mb.on_status(self.table, status, at)
            self._tell_ha(events)

    def _decode(self, msg: InboundFrame) -> PeerStatus | None:
        size = sum(len(f) for f in msg.frames)
        if size > self.settings.max_frame_bytes:
            self._drop(DropReason.OVERSIZED)
            return None
        if len(msg.frames) == 1 and msg.frames[0] in self.decoded:
            return self.decoded[msg.frames[0]]  # immutable, and checked when first seen
        try:
            if len(msg.frames) != 1:
                raise DecodeError(f"expected one frame, got {len(msg.frames)}")
            status = decode(msg.frames[0])
        except DecodeError as exc:
            self.log.debug("dropped an undecodable gossip frame: %s", exc)
            self._drop(DropReason.UNDECODABLE)
            return None
        if not isinstance(status, PeerStatus) or status.scope != self.table.scope:
            self._drop(DropReason.FOREIGN)
            return None
        if len(self.decoded) >= DECODED_KEPT:
            self.decoded.clear()
        self.decoded[bytes(msg.frames[0])] = status
        return status

    def _drop(self, reason: DropReason) -> None:
        self.counts[f"dropped.{reason.value}"] += 1

    @handles(FrameDropped)
    def handle_dropped(self, msg: FrameDropped) -> None:
        self.log.debug("dropped a %s frame of %d bytes", msg.reason.value, msg.size_bytes)
        self._drop(msg.reason)

    # -- time ----------------------------------------------------------------------------------

    @handles(Tick)
    def handle_tick(self, msg: Tick) -> None:
        if msg.timer == "resolve":
            resolve_in_background(self.settings.peers, self.registry, self.name, self.lookup)
            return
        if msg.timer != SILENCE:  # not the socket thread's alarm: our own beat
            if self.beat == "every":
                self._publish(changed=False)  # a failsafe heartbeat, when we lean on it
            else:
                self.beat = None  # the one-shot fired
        self._take_in_repeats()
        self.table, events = mb.on_tick(self.table, self.runtime.clock(), self.timing)
        self._tell_ha(events)
        self._judge_failsafe(repeat=True)
        self._arm_tick()

    def _arm_tick(self) -> None:
        """Tick every heartbeat while failsafe matters (its heartbeats and the lease it
        reports); otherwise only at the next liveness deadline of a peer whose repeats
        the socket thread does not note (it watches those peers' silence itself, and
        tells us), when the repeats noted meanwhile are taken in first."""
        noted = self.quiet.members()
        for name in noted:
            peer = self.table.peers.get(name)
            if peer is not None:
                self.quiet.watch(name, peer.heard_at)
        leaning = self.own is not None and self.own.failsafe_ttl_s > 0
        if leaning or self.lease_until is not None:
            if self.beat != "every":
                self.timers.every("beat", self.settings.heartbeat_s, Tick(timer="beat"))
                self.beat = "every"
            return
        due = mb.next_transition(self.table, self.timing, ignore=noted)
        if due is None:  # no peer that could fall silent
            if self.beat is not None:
                self.timers.cancel("beat")
                self.beat = None
            return
        if isinstance(self.beat, float) and self.beat <= due:
            return  # a tick already comes no later than needed
        # a moment past the deadline, so that on_tick surely sees it passed (no spin)
        delay = max(0.0, due - self.runtime.clock()) + TICK_MARGIN_S
        self.timers.once("beat", delay, Tick(timer="beat"))
        self.beat = due

    def _tell_ha(self, events: tuple[Message, ...]) -> None:
        for event in events:
            if isinstance(event, PeerSuspect | PeerDown):
                self.quiet.forget(event.name)  # so that its next frame wakes us: PeerUp at once
            self._log_event(event)
            self.send(self.ha_actor, event)

    def _log_event(self, event: Message) -> None:
        if isinstance(event, PeerUp):
            self.log.info("peer %s is up", event.name)
        elif isinstance(event, PeerSuspect | PeerDown):
            what = "suspect" if isinstance(event, PeerSuspect) else "down"
            self.log.warning("peer %s is %s (silent %.1f s)", event.name, what, event.silent_s)

    def _judge_failsafe(self, repeat: bool = False) -> None:
        """Our lease by the members' acknowledgements, while we send failsafe heartbeats."""
        leaning = self.own is not None and self.own.failsafe_ttl_s > 0
        until = (
            mb.failsafe_lease_until(self.table, self.incarnation, self.sent) if leaning else None
        )
        if (until is None) != (self.lease_until is None):
            self.log.info("failsafe %s", "confirmed" if until is not None else "not confirmed")
        if until != self.lease_until or (repeat and (leaning or until is not None)):
            # repeated every beat while it matters: a restarted HA actor learns it within
            # one heartbeat (and one that starts afresh assumes no lease, which holds)
            self.send(self.ha_actor, FailsafeStatus(lease_until=until))
        self.lease_until = until

    # -- observing -----------------------------------------------------------------------------

    @handles(GetGossipStats)
    def handle_stats(self, msg: GetGossipStats) -> GossipStats:
        self._take_in_repeats()  # the counts and liveness as of now, not of the last tick
        groups = mb.by_liveness(self.table)
        dropped = {
            k.split(".", 1)[1]: v for k, v in self.counts.items() if k.startswith("dropped.")
        }
        return GossipStats(
            published=self.counts["published"],
            received=self.counts["received"],
            dropped=dropped,
            endpoints=tuple(sorted(self.connected)),
            alive=groups[mb.Liveness.ALIVE],
            suspect=groups[mb.Liveness.SUSPECT],
            down=groups[mb.Liveness.DOWN],
            failsafe_confirmed=self.lease_until is not None,
        )
