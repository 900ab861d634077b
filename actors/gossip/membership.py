"""Membership: who is alive, judged from heard snapshots on the observer's clock. Pure.

A peer is alive while it was heard within ``suspect_after`` heartbeats,
suspect until ``dead_after`` heartbeats of silence, down after that.  The
table changes only through three inputs -- a snapshot heard, a clock tick,
the DCS member list -- and each returns the new table with the events to tell
the HA core.  Times are the observer's monotonic clock (safety rule 2); a
snapshot's own sequence number only orders snapshots from one incarnation.

Failsafe confirmation is judged here too: the leader stays primary through a
DCS outage only while every other member it knows of is alive, sees it as
leader, and leads nothing itself.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping

from messages.base import MemberName, Message
from messages.cluster import Role
from messages.gossip import PeerDown, PeerStatus, PeerSuspect, PeerUp


class Liveness(enum.Enum):
    ALIVE = "alive"
    SUSPECT = "suspect"
    DOWN = "down"


@dataclasses.dataclass(frozen=True, slots=True)
class Timing:
    heartbeat_s: float = 1.0
    suspect_after: int = 3
    dead_after: int = 6

    @property
    def suspect_s(self) -> float:
        return self.heartbeat_s * self.suspect_after

    @property
    def dead_s(self) -> float:
        return self.heartbeat_s * self.dead_after


def liveness(silent_s: float, timing: Timing) -> Liveness:
    if silent_s >= timing.dead_s:
        return Liveness.DOWN
    if silent_s >= timing.suspect_s:
        return Liveness.SUSPECT
    return Liveness.ALIVE


@dataclasses.dataclass(frozen=True, slots=True)
class Peer:
    status: PeerStatus
    heard_at: float
    liveness: Liveness = Liveness.ALIVE


@dataclasses.dataclass(frozen=True, slots=True)
class Table:
    me: MemberName
    scope: str = ""
    peers: Mapping[MemberName, Peer] = dataclasses.field(default_factory=dict)
    known: frozenset[MemberName] | None = None
    """Members of the last DCS view: each must be heard for failsafe; None before any view."""


Events = tuple[Message, ...]


def _same_content(a: PeerStatus, b: PeerStatus) -> bool:
    return dataclasses.replace(a, seq=0, incarnation=0) == dataclasses.replace(
        b, seq=0, incarnation=0
    )


def _stale(old: PeerStatus, new: PeerStatus) -> bool:
    return new.incarnation == old.incarnation and new.seq <= old.seq


def on_status(table: Table, status: PeerStatus, now: float) -> tuple[Table, Events]:
    """A snapshot arrived.  Our own, another scope's and stale ones change nothing."""
    name = status.member.name
    if name == table.me or status.scope != table.scope:
        return table, ()
    old = table.peers.get(name)
    if old is not None and _stale(old.status, status):
        # A duplicate still proves the peer alive; its content is no news.
        fresh = dataclasses.replace(old, heard_at=max(old.heard_at, now), liveness=Liveness.ALIVE)
        return _with(table, name, fresh), _came_back(old, status)
    events: list[Message] = list(_came_back(old, status))
    if old is None or not _same_content(old.status, status):
        events.append(status)
    return _with(table, name, Peer(status=status, heard_at=now)), tuple(events)


def _came_back(old: Peer | None, status: PeerStatus) -> Events:
    if old is None or old.liveness is not Liveness.ALIVE:
        return (PeerUp(name=status.member.name, gossip_url=status.member.gossip_url),)
    return ()


def _with(table: Table, name: MemberName, peer: Peer) -> Table:
    return dataclasses.replace(table, peers={**table.peers, name: peer})


_TRANSITIONS: Mapping[tuple[Liveness, Liveness], type[PeerSuspect] | type[PeerDown]] = {
    (Liveness.ALIVE, Liveness.SUSPECT): PeerSuspect,
    (Liveness.ALIVE, Liveness.DOWN): PeerDown,
    (Liveness.SUSPECT, Liveness.DOWN): PeerDown,
}
"""Silence only ever makes a peer worse; hearing it again is on_status's PeerUp."""


def on_tick(table: Table, now: float, timing: Timing) -> tuple[Table, Events]:
    """Time passed: peers silent for long enough become suspect, then down."""
    peers = dict(table.peers)
    events: list[Message] = []
    for name, peer in sorted(table.peers.items()):
        silent = max(0.0, now - peer.heard_at)
        new = liveness(silent, timing)
        event = _TRANSITIONS.get((peer.liveness, new))
        if event is None:
            continue
        peers[name] = dataclasses.replace(peer, liveness=new)
        events.append(event(name=name, silent_s=round(silent, 3)))
    return dataclasses.replace(table, peers=peers), tuple(events)


def on_members(table: Table, names: Iterable[MemberName], *, reachable: bool = True) -> Table:
    """A DCS view listed these members.

    They become the members failsafe must hear from.  Only a view the DCS
    actually answered (`reachable`) may make us forget someone: a peer that is
    down and no longer listed there has left the cluster.  A cached view from
    an unreachable DCS still names whom to hear, which only makes
    confirmation harder, never easier.
    """
    known = frozenset(names) - {table.me}
    if not reachable:
        return dataclasses.replace(table, known=known | (table.known or frozenset()))
    peers = {
        name: peer
        for name, peer in table.peers.items()
        if name in known or peer.liveness is not Liveness.DOWN
    }
    return dataclasses.replace(table, peers=peers, known=known)


def failsafe_confirmed(
    me: MemberName,
    peers: Mapping[MemberName, Peer],
    now: float,
    timing: Timing,
    known: Iterable[MemberName] | None,
) -> bool:
    """Every other known member is alive, sees `me` as leader, and none of them leads.

    "Known" is every member the last DCS view listed plus every peer heard; a
    known member never heard, or silent past dead_after, withholds its
    confirmation.  Before any DCS view (`known` None) nothing is confirmed: an
    empty table must not vouch for a leader.  With a view that lists no other
    member there is nobody to disagree.
    """
    if known is None:
        return False
    others = (set(known) | set(peers)) - {me}
    for name in others:
        peer = peers.get(name)
        if peer is None or now - peer.heard_at >= timing.dead_s:
            return False
        status = peer.status
        if status.leader != me or status.holds_lock or status.member.role is Role.PRIMARY:
            return False
    return True


def by_liveness(table: Table) -> Mapping[Liveness, tuple[MemberName, ...]]:
    return {
        state: tuple(sorted(n for n, p in table.peers.items() if p.liveness is state))
        for state in Liveness
    }
