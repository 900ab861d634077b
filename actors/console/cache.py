"""The reply cache: a retried request is answered, never performed again.

A client that timed out sends the same request (same ``request_id``) again,
perhaps while the first is still being carried out.  Each request id (per
client key) is in one of two states here: *pending* -- the action runs; a
retry only adds another address to answer -- or *done* -- the response is
kept for ``ttl_s`` and a retry gets it again.  Bounded: the oldest entries go
first.  Plain data, no threads; the clock is passed in.
"""

from __future__ import annotations

import collections
import dataclasses

from messages.console import AdminResponse

Key = tuple[str, str]
"""(client key, request id)"""
Envelope = tuple[bytes, ...]
"""The routing frames that address one client connection."""


@dataclasses.dataclass(slots=True)
class _Entry:
    at: float
    response: AdminResponse | None = None
    waiters: list[Envelope] = dataclasses.field(default_factory=list)


class ReplyCache:
    def __init__(self, capacity: int = 256, ttl_s: float = 600.0) -> None:
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._entries: collections.OrderedDict[Key, _Entry] = collections.OrderedDict()

    def answer(self, key: Key, envelope: Envelope, now: float) -> AdminResponse | bool:
        """The cached response; True when pending (the envelope will be answered); else False."""
        self._expire(now)
        entry = self._entries.get(key)
        if entry is None:
            return False
        if entry.response is not None:
            return entry.response
        if envelope not in entry.waiters:
            entry.waiters.append(envelope)
        return True

    def begin(self, key: Key, envelope: Envelope, now: float) -> None:
        self._entries[key] = _Entry(at=now, waiters=[envelope])
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def finish(self, key: Key, response: AdminResponse, now: float) -> tuple[Envelope, ...]:
        """Store the response; returns every envelope waiting for it."""
        entry = self._entries.pop(key, None) or _Entry(at=now)
        self._entries[key] = _Entry(at=now, response=response)
        return tuple(entry.waiters)

    def _expire(self, now: float) -> None:
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.response is None or now - entry.at < self.ttl_s:
                return
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
