"""Membership: who is alive, judged from heard snapshots on the observer's clock. Pure.

A peer is alive while it was heard within ``suspect_after`` heartbeats,
suspect until ``dead_after`` heartbeats of silence, down after that.  The
table changes only through three inputs -- a snapshot heard, a clock tick,
the DCS member list -- and each returns the new table with the events to tell
the HA core.  Times are the observer's monotonic clock (safety rule 2); a
snapshot's own sequence number only orders snapshots from one incarnation.

Failsafe is judged here too, as leases by gossip.  A leader that leans on
failsafe says so in its heartbeats (failsafe_ttl_s); a member that hears one
promises not to take the lock for that long after hearing it, and
acknowledges the heartbeat (its seq) in its own snapshots.  The leader knows
when it sent each heartbeat, so the earliest acknowledged one among all
known members, plus its ttl, is how long nobody will take the lock
(failsafe_lease_until): no two hosts' clocks are compared.
"""

from __future__ import annotations

import dataclasses
import enum
import operator
from collections.abc import Iterable, Mapping

from actors.runtime.evolve import evolve
from messages.base import MemberName, Message
from messages.gossip import FailsafeHeartbeat, PeerDown, PeerStatus, PeerSuspect, PeerUp


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


@dataclasses.dataclass(frozen=True)  # a dict, not slots: see evolve
class Table:
    me: MemberName
    scope: str = ""
    peers: Mapping[MemberName, Peer] = dataclasses.field(default_factory=dict)
    known: frozenset[MemberName] | None = None
    """Members of the last DCS view: each must be heard for failsafe; None before any view."""


Events = tuple[Message, ...]


_CONTENT = operator.attrgetter(
    *(f.name for f in dataclasses.fields(PeerStatus) if f.name not in ("seq", "incarnation"))
)
"""A status's fields but its sequence and incarnation: compared without building copies."""


def _same_content(a: PeerStatus, b: PeerStatus) -> bool:
    return bool(_CONTENT(a) == _CONTENT(b))


def _stale(old: PeerStatus, new: PeerStatus) -> bool:
    return new.incarnation == old.incarnation and new.seq <= old.seq


def is_news(table: Table, status: PeerStatus) -> bool:
    """A snapshot from a peer of our scope that is newer than the last one heard."""
    name = status.member.name
    if name == table.me or status.scope != table.scope:
        return False
    old = table.peers.get(name)
    return old is None or not _stale(old.status, status)


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
    return evolve(table, peers={**table.peers, name: peer})


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
    return evolve(table, peers=peers), tuple(events)


def next_transition(
    table: Table, timing: Timing, ignore: frozenset[MemberName] = frozenset()
) -> float | None:
    """The earliest time a peer would turn suspect or down if it stays silent (None: none can).

    What on_tick would first change; a tick at that time (after taking in what
    was heard meanwhile) misses no transition.  Peers in `ignore` are watched
    by someone else (the gossip socket thread, for peers it notes repeats of).
    """
    dues = [
        peer.heard_at + (timing.suspect_s if peer.liveness is Liveness.ALIVE else timing.dead_s)
        for name, peer in table.peers.items()
        if peer.liveness is not Liveness.DOWN and name not in ignore
    ]
    return min(dues, default=None)


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
        return evolve(table, known=known | (table.known or frozenset()))
    peers = {
        name: peer
        for name, peer in table.peers.items()
        if name in known or peer.liveness is not Liveness.DOWN
    }
    return evolve(table, peers=peers, known=known)


def failsafe_heartbeat(table: Table, status: PeerStatus) -> FailsafeHeartbeat | None:
    """What a fresh snapshot (see is_news) means for failsafe, before the table takes it.

    A failsafe heartbeat asks for a promise; a newer one from the same
    incarnation without failsafe ends it; anything else is no failsafe news.
    """
    name = status.member.name
    old = table.peers.get(name)
    was_failsafe = (
        old is not None
        and old.status.incarnation == status.incarnation
        and old.status.failsafe_ttl_s > 0
    )
    if status.failsafe_ttl_s <= 0 and not was_failsafe:
        return None
    return FailsafeHeartbeat(
        leader=name, incarnation=status.incarnation, seq=status.seq, ttl_s=status.failsafe_ttl_s
    )


def failsafe_lease_until(
    table: Table, incarnation: int, sent: Mapping[int, tuple[float, float]]
) -> float | None:
    """Until when no other known member will take the lock, by their acknowledgements.

    `sent` maps each of our failsafe heartbeats' seq to (when we sent it, its
    ttl).  Every member the last DCS view listed, and every peer heard, must
    have acknowledged one of them (this incarnation's); the earliest promise
    bounds the lease.  None when anyone has not: before any DCS view too, since
    an empty table must not vouch for a leader.
    """
    if table.known is None:
        return None
    until: float | None = None
    for name in (set(table.known) | set(table.peers)) - {table.me}:
        peer = table.peers.get(name)
        if peer is None:
            return None
        ack = next((h for h in peer.status.heard if h.name == table.me), None)
        if ack is None or ack.incarnation != incarnation or ack.seq not in sent:
            return None
        at, ttl = sent[ack.seq]
        until = at + ttl if until is None else min(until, at + ttl)
    return until


def by_liveness(table: Table) -> Mapping[Liveness, tuple[MemberName, ...]]:
    return {
        state: tuple(sorted(n for n, p in table.peers.items() if p.liveness is state))
        for state in Liveness
    }
