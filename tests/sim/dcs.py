"""The simulated store (the server side of etcd or of the Kubernetes API).

Records are keys with the store's revision of their last change, as etcd
keeps them (a Kubernetes resourceVersion serves the same way): ``leader``,
``status``, ``initialize``, ``config``, ``sync``, ``failover``, ``history``
and ``members/<name>``.  Every compare-and-set names the version the writer
judged on; a write that carries several keys (the lock and the status record)
is one revision.  The leader key's value is the real JSON the backends write
(records.py), so each node's RecordCache parses and stamps it as it would.

Two lease models, the difference the backends really have:

* etcd (`server_leases`): the leader and member keys are bound to their
  writer's session lease, which the server deletes its TTL after its
  last keepalive, on the server's own clock.  A live holder's key can still be
  taken by compare-and-set on its version once an observer judged it expired.
* Kubernetes: nothing expires on the server.  The lock is taken only by a
  compare-and-set on the version an observer judged expired on its own
  clock; member records stay until overwritten.

The store calls `on_change` after every revision so the nodes' watches can
deliver it; it knows nothing of networks (the lock-actor model decides what
reaches it and when).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from .clock import Clock
from .loop import Loop

LEADER, STATUS, INITIALIZE, CONFIG, SYNC, FAILOVER, HISTORY = (
    "leader",
    "status",
    "initialize",
    "config",
    "sync",
    "failover",
    "history",
)
MEMBERS = "members/"


@dataclasses.dataclass(frozen=True, slots=True)
class LeaderValue:
    raw: bytes
    """The JSON the backend writes (records.acquired_leader_value / renewed_leader_value)."""
    name: str
    ttl: float
    optime: int


@dataclasses.dataclass(frozen=True, slots=True)
class StatusValue:
    """The status record: last leader, its position, whether it let go cleanly."""

    name: str
    optime: int
    clean: bool
    host: str = ""
    """Where the holder's PostgreSQL listens (status.py's conn_url): a member record
    expires with its agent's lease, this does not."""


@dataclasses.dataclass(slots=True)
class Rec:
    version: int
    value: object
    lease: int = 0


@dataclasses.dataclass(slots=True)
class Lease:
    ttl: int
    expires_at: float
    """True time at which the server deletes what is bound to it."""


class Store:
    def __init__(self, loop: Loop, *, server_leases: bool, server_clock: Clock) -> None:
        self.loop = loop
        self.server_leases = server_leases
        self.clock = server_clock
        self.revision = 0
        self.keys: dict[str, Rec] = {}
        self.gone: dict[str, int] = {}
        """Deleted keys and the revision that deleted them (a watch must see the deletion)."""
        self.leases: dict[int, Lease] = {}
        self.next_lease = 0x100
        self.on_change: Callable[[], None] = lambda: None
        self.on_expire: Callable[[str, Rec, float], None] = lambda key, rec, ttl: None
        """Called for each key a lease takes with it, with that lease's ttl."""

    # -- reading -----------------------------------------------------------------

    def get(self, key: str) -> Rec | None:
        return self.keys.get(key)

    def value(self, key: str) -> object:
        rec = self.keys.get(key)
        return None if rec is None else rec.value

    @property
    def leader(self) -> LeaderValue | None:
        rec = self.keys.get(LEADER)
        return None if rec is None else rec.value  # type: ignore[return-value]

    @property
    def status(self) -> StatusValue | None:
        rec = self.keys.get(STATUS)
        return None if rec is None else rec.value  # type: ignore[return-value]

    # -- writing -------------------------------------------------------------------

    def write(self, puts: dict[str, tuple[object, int]], deletes: tuple[str, ...] = ()) -> int:
        """One atomic change: `puts` maps key -> (value, lease); returns its revision."""
        self.revision += 1
        rev = self.revision
        for key, (value, lease) in puts.items():
            self.keys[key] = Rec(rev, value, lease)
            self.gone.pop(key, None)
        for key in deletes:
            if self.keys.pop(key, None) is not None:
                self.gone[key] = rev
        self.on_change()
        return rev

    def version(self, key: str) -> int:
        """The key's version; 0 when absent (etcd's create_revision == 0)."""
        rec = self.keys.get(key)
        return 0 if rec is None else rec.version

    def cas(
        self,
        key: str,
        expected: int,
        puts: dict[str, tuple[object, int]],
        deletes: tuple[str, ...] = (),
    ) -> int | None:
        """Apply iff `key` is still at version `expected` (0: absent); its revision, or None."""
        if self.version(key) != expected:
            return None
        return self.write(puts, deletes)

    # -- server-side leases (etcd) ------------------------------------------------------

    def grant(self, ttl: float) -> int:
        self.next_lease += 1
        lease = Lease(math.ceil(ttl), 0.0)
        self.leases[self.next_lease] = lease
        self._refresh(self.next_lease, lease)
        return self.next_lease

    def keepalive(self, lease_id: int) -> bool:
        """Refresh a lease; False when it is gone (expired): LeaseNotFound."""
        lease = self.leases.get(lease_id)
        if lease is None:
            return False
        self._refresh(lease_id, lease)
        return True

    def lease_alive(self, lease_id: int) -> bool:
        return lease_id in self.leases

    def _refresh(self, lease_id: int, lease: Lease) -> None:
        lease.expires_at = self.loop.t + lease.ttl / self.clock.rate
        self.loop.at(lease.expires_at, self._expire, lease_id)

    def _expire(self, lease_id: int) -> None:
        lease = self.leases.get(lease_id)
        if lease is None or lease.expires_at > self.loop.t:
            return  # refreshed since: a later check is queued
        del self.leases[lease_id]
        bound = tuple(k for k, rec in self.keys.items() if rec.lease == lease_id)
        if bound:
            for key in bound:
                self.on_expire(key, self.keys[key], lease.ttl)
            self.write({}, bound)
