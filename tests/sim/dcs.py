"""The simulated DCS: the cluster's records, one revision counter, compare-and-set.

Every change bumps `revision`; a node's cache copies the records at some
revision and stamps the leader record with the time *it* saw the record's
version change (safety rule 2).  The leader key may also carry a server-side
lease (etcd): it is deleted `ttl` after the last write to it, measured on the
server.  Member keys expire the same way when `server_lease` is on.
"""

from __future__ import annotations

import dataclasses

from messages.base import Lsn, MemberName, Timeline
from messages.cluster import (
    ClusterView,
    FailoverRequest,
    HistoryEntry,
    LeaderRecord,
    MemberStatus,
    SyncState,
)
from messages.config import DynamicConfig


@dataclasses.dataclass(slots=True)
class Lock:
    name: str
    optime: int
    version: int
    written_at: int
    ttl: float


class Dcs:
    """The store's state; the World applies node requests to it at the sim time they arrive."""

    def __init__(self, ttl: float, server_lease: bool) -> None:
        self.ttl = ttl
        self.server_lease = server_lease
        self.revision = 0
        self.leader: Lock | None = None
        self.lock_versions = 0
        self.last_leader_name: str | None = None
        self.last_leader_optime = 0
        self.last_leader_clean = False
        self.initialize: str | None = None
        self.config: DynamicConfig | None = None
        self.members: dict[str, tuple[MemberStatus, int]] = {}
        self.sync = SyncState()
        self.failover: FailoverRequest | None = None
        self.history: tuple[HistoryEntry, ...] = ()
        self._members: tuple[MemberStatus, ...] = ()
        self._members_revision = -1
        self._stamped: dict[tuple[int, float], ClusterView] = {}

    def bump(self) -> None:
        self.revision += 1

    # -- the leader lock -------------------------------------------------------

    def write_lock(self, name: str, optime: int, now: int, ttl: float) -> None:
        """The leader record, and the status record (persistent) in the same write."""
        self.lock_versions += 1
        self.leader = Lock(name, optime, self.lock_versions, now, ttl)
        self.last_leader_name = name
        self.last_leader_optime = optime
        self.last_leader_clean = False
        self.bump()

    def acquire(
        self, name: str, optime: int, expected_version: int | None, now: int, ttl: float
    ) -> bool:
        """CAS against the record the requester judged free (None) or expired (its version)."""
        current = None if self.leader is None else self.leader.version
        if current != expected_version:
            return False
        self.write_lock(name, optime, now, ttl)
        return True

    def renew(self, name: str, optime: int, now: int, ttl: float) -> bool:
        if self.leader is None or self.leader.name != name:
            return False
        self.write_lock(name, optime, now, ttl)
        return True

    def release(self, name: str, optime: int | None, *, clean: bool = False) -> bool:
        if self.leader is None or self.leader.name != name:
            return False
        if optime is not None:
            self.last_leader_optime = optime
        self.last_leader_clean = clean
        self.leader = None
        self.bump()
        return True

    def expire(self, now: int) -> None:
        """Server-side lease expiry (etcd): keys not refreshed for ttl disappear.

        The session lease is at least the record's ttl (the backend grants it so).
        """
        if not self.server_lease:
            return
        if self.leader is not None and now - self.leader.written_at >= self.leader.ttl:
            self.leader = None
            self.bump()
        stale = [n for n, (_, at) in self.members.items() if now - at >= self.ttl]
        for n in stale:
            del self.members[n]
            self.bump()

    # -- other records -----------------------------------------------------------

    def claim_initialize(self) -> bool:
        if self.initialize is not None:
            return False
        self.initialize = ""
        self.bump()
        return True

    def set_initialize(self, value: str | None) -> None:
        if self.initialize != value:
            self.initialize = value
            self.bump()

    def set_config(self, config: DynamicConfig) -> None:
        if self.config is None:
            self.config = config
            self.bump()

    def touch(self, status: MemberStatus, now: int) -> None:
        old = self.members.get(status.name)
        self.members[status.name] = (status, now)
        if old is None or old[0] != status:
            self.bump()

    def set_sync(self, sync: SyncState) -> None:
        if sync != self.sync:
            self.sync = sync
            self.bump()

    def set_failover(self, request: FailoverRequest | None) -> None:
        if request != self.failover:
            self.failover = request
            self.bump()

    def set_history(self, history: tuple[tuple[int, int], ...]) -> None:
        entries = tuple(HistoryEntry(timeline=Timeline(t), lsn=Lsn(lsn)) for t, lsn in history)
        if entries != self.history:
            self.history = entries
            self.bump()

    # -- reading -----------------------------------------------------------------

    def view_seen(self, seen_at: float) -> ClusterView:
        """The records as one immutable snapshot, the leader stamped as seen changing at `seen_at`.

        Built field by field (not dataclasses.replace): this runs for every
        node on nearly every tick, and it is most of the simulator's own cost.
        """
        key = (self.revision, seen_at)
        view = self._stamped.get(key)
        if view is None:
            if len(self._stamped) > 64:
                self._stamped.clear()
            view = self._stamped[key] = self._make_view(seen_at)
        return view

    def _make_view(self, seen_at: float) -> ClusterView:
        if self._members_revision != self.revision:
            self._members = tuple(self.members[n][0] for n in sorted(self.members))
            self._members_revision = self.revision
        leader = None
        if self.leader is not None:
            leader = LeaderRecord(
                name=MemberName(self.leader.name),
                optime=Lsn(self.leader.optime),
                ttl_s=self.leader.ttl,
                observed_change_at=seen_at,
            )
        last = self.last_leader_name
        return ClusterView(
            initialize=self.initialize,
            config=self.config,
            leader=leader,
            last_leader_optime=Lsn(self.last_leader_optime),
            last_leader_name=None if last is None else MemberName(last),
            last_leader_clean=self.last_leader_clean,
            members=self._members,
            sync=self.sync,
            failover=self.failover,
            history=self.history,
        )
