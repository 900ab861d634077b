"""The live feed: who watches, and what is worth telling them. Pure.

A client watches by sending ``watch`` and renews it every few seconds; a
watch not renewed within ``ttl_s`` lapses, so a console that went away costs
nothing for long.  Events are made by comparing two consecutive NodeStatus
snapshots: a new decision reason, a new leader, members joining or leaving.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable

from messages.admin import NodeStatus
from messages.base import MemberName
from messages.console import EventKind, FeedEvent

Envelope = tuple[bytes, ...]
WATCH_TTL_S = 15.0
RECENT_EVENTS = 100


class Watchers:
    def __init__(self, ttl_s: float = WATCH_TTL_S, limit: int = 64) -> None:
        self.ttl_s = ttl_s
        self.limit = limit
        self._until: collections.OrderedDict[Envelope, float] = collections.OrderedDict()

    def watch(self, envelope: Envelope, now: float) -> None:
        self._until.pop(envelope, None)
        self._until[envelope] = now + self.ttl_s
        while len(self._until) > self.limit:
            self._until.popitem(last=False)

    def live(self, now: float) -> tuple[Envelope, ...]:
        for envelope in [e for e, until in self._until.items() if until <= now]:
            del self._until[envelope]
        return tuple(self._until)


def events(old: NodeStatus | None, new: NodeStatus, wall_time: float) -> tuple[FeedEvent, ...]:
    """What changed between two snapshots of this node, as feed events."""
    made: list[FeedEvent] = []

    def add(kind: EventKind, detail: str, member: MemberName = new.name) -> None:
        made.append(FeedEvent(wall_time=wall_time, member=member, kind=kind, detail=detail))

    if old is None or old.reason is not new.reason:
        made.append(
            FeedEvent(
                wall_time=wall_time,
                member=new.name,
                kind=EventKind.DECISION,
                detail=new.reason.value,
                reason=new.reason,
            )
        )
    leader, was = _leader(new), _leader(old) if old is not None else None
    if old is not None and leader != was:
        add(EventKind.LEADER, f"leader: {was or 'none'} -> {leader or 'none'}")
    if old is not None:
        before, after = _names(old), _names(new)
        for name in sorted(after - before):
            add(EventKind.MEMBER_JOINED, f"{name} joined", name)
        for name in sorted(before - after):
            add(EventKind.MEMBER_LEFT, f"{name} left", name)
    return tuple(made)


def _leader(status: NodeStatus) -> MemberName | None:
    return status.cluster.leader.name if status.cluster.leader else None


def _names(status: NodeStatus) -> frozenset[MemberName]:
    return frozenset(m.name for m in status.cluster.members)


def recent(log: Iterable[FeedEvent]) -> collections.deque[FeedEvent]:
    return collections.deque(log, maxlen=RECENT_EVENTS)


def with_lease(status: NodeStatus, now: float) -> NodeStatus:
    """The status with the leader's lease as this node judges it, when it does not hold it.

    The HA actor reports only its own lease; a replica judges the leader's by
    when it saw the leader record change, on this process's monotonic clock --
    the clock `now` comes from (safety rule 2: never another host's clock).
    """
    leader = status.cluster.leader
    if status.lease_remaining_s is not None or leader is None:
        return status
    remaining = leader.observed_change_at + leader.ttl_s - now
    return dataclasses.replace(status, lease_remaining_s=remaining)
