"""Gossip: what members tell each other directly, and what the HA core hears of it.

Every member publishes a :class:`PeerStatus` -- a full snapshot of itself as
its HA core sees it -- every heartbeat and at once on a change.  A lost or
duplicated snapshot does no harm: the next one says everything again.  The
GossipActor turns what it hears into :class:`PeerUp` / :class:`PeerSuspect` /
:class:`PeerDown` / :class:`PeerStatus` events for the HA core, and judges
failsafe confirmation (:class:`FailsafeStatus`).

Sequence numbers are not clock readings: ``incarnation`` is drawn at random
when a member's GossipActor starts and ``seq`` counts its snapshots, so a
receiver can drop a stale snapshot without comparing clocks of two hosts
(safety rule 2).
"""

from __future__ import annotations

import dataclasses
import enum

from messages.base import MemberName, Message, message
from messages.cluster import MemberStatus


@message("gossip.heard")
class HeardLeader(Message):
    """A member's acknowledgement of a failsafe leader's heartbeat: the latest heard.

    Acknowledging is a promise: not to take the leader lock until that
    heartbeat's `failsafe_ttl_s` has passed on our own clock.  The leader
    knows when it sent heartbeat `seq`, so it knows how long every member's
    promise holds, without comparing clocks (safety rule 2).
    """

    name: MemberName
    incarnation: int
    seq: int


@message("gossip.peer_status")
class PeerStatus(Message):
    """One member's snapshot, as it publishes it (and as the HA core is told of a change)."""

    member: MemberStatus
    """Role, state, timeline, WAL position, following, tags, API and gossip addresses."""
    scope: str = ""
    leader: MemberName | None = None
    """The lock holder in this member's latest view of the DCS."""
    holds_lock: bool = False
    dcs_reachable: bool = True
    incarnation: int = 0
    seq: int = 0
    failsafe_ttl_s: float = 0.0
    """More than 0: we lead, run as primary and cannot reach the DCS (failsafe): a
    member hearing this must not take the lock for this long after hearing it."""
    heard: tuple[HeardLeader, ...] = ()
    """The failsafe leaders' heartbeats we heard last (normally one)."""


@message("gossip.peer_up")
class PeerUp(Message):
    """A peer was heard for the first time, or again after it was suspect or down."""

    name: MemberName
    gossip_url: str = ""


@message("gossip.peer_suspect")
class PeerSuspect(Message):
    """A peer missed `suspect_after` heartbeats."""

    name: MemberName
    silent_s: float


@message("gossip.peer_down")
class PeerDown(Message):
    """A peer missed `dead_after` heartbeats: take it for dead."""

    name: MemberName
    silent_s: float


@message("gossip.failsafe")
class FailsafeStatus(Message):
    """The failsafe leader's lease by gossip, in this node's monotonic time.

    Every other known member acknowledged one of our failsafe heartbeats (a
    promise, see HeardLeader): none takes the lock before `lease_until`.
    None: someone has not acknowledged (or we send no failsafe heartbeats).
    """

    lease_until: float | None = None


@message("gossip.failsafe_heartbeat")
class FailsafeHeartbeat(Message):
    """A peer's heartbeat as far as failsafe is concerned, for the HA core.

    `ttl_s` > 0: the peer leads by failsafe; the HA core records the promise
    (no lock before its own receipt time + ttl_s) and only then publishes the
    acknowledgement.  `ttl_s` 0 on a newer heartbeat of the same incarnation:
    the peer no longer leads by failsafe, the promise ends.
    """

    leader: MemberName
    incarnation: int
    seq: int
    ttl_s: float


# -- the GossipActor's own plumbing -------------------------------------------------------


@message("gossip.frame")
class InboundFrame(Message):
    """A message as it arrived on a gossip socket, not yet decoded (hostile until then)."""

    frames: tuple[bytes, ...]


class DropReason(enum.Enum):
    OVERSIZED = "oversized"
    UNDECODABLE = "undecodable"
    FOREIGN = "foreign"
    """Decoded, but not a PeerStatus of our scope."""


@message("gossip.frame_dropped")
class FrameDropped(Message):
    """The socket thread dropped a message before the actor saw it."""

    reason: DropReason
    size_bytes: int = 0


@message("gossip.new_subscriber")
class NewSubscriber(Message):
    """A peer subscribed to our snapshots: publish one at once instead of at the next beat."""


@message("gossip.resolved")
class PeersResolved(Message):
    """The static peers' DNS names, resolved to ``tcp://ip:port`` endpoints."""

    endpoints: frozenset[str]


@message("gossip.get_stats")
class GetGossipStats(Message):
    pass


@message("gossip.stats")
class GossipStats(Message):
    """Counters of one GossipActor (tests read them; metrics will push them)."""

    published: int = 0
    received: int = 0
    dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    """Dropped messages by DropReason value."""
    endpoints: tuple[str, ...] = ()
    alive: tuple[MemberName, ...] = ()
    suspect: tuple[MemberName, ...] = ()
    down: tuple[MemberName, ...] = ()
    failsafe_confirmed: bool = False
