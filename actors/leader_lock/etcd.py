"""The etcd v3 backend of the DCS contract.

Records live under ``/<namespace>/<scope>/`` as Patroni keeps them: ``leader``,
``initialize``, ``config``, ``sync``, ``failover``, ``history``, ``status`` and
``members/<name>`` (JSON shapes in :mod:`records`, :mod:`cluster_records` and
:mod:`status`).

One etcd lease per handle (the *session*, see :mod:`etcd_session`) carries
both this member's record and, while it holds it, the leader key: if the
process dies, etcd deletes both when the lease runs out.  The lease follows
the ttl the lock write carries -- the HA core's, given with each call --
(1.5 times it, see :mod:`etcd_session`) and a write with a new ttl moves the
lock to a new lease.  Every acquire and renewal first refreshes the lease (a
keepalive only when less than ttl is left), and reports the moment that
refresh started as :attr:`last_renew_started_at`; etcd keeps the key at least
ttl past it, and every observer restarts its clock whenever it sees the
leader key's ``mod_revision`` change (every renewal rewrites the key), which
is later still.  Taking the lock is a transaction: ``create_revision == 0`` when the key
is absent, or ``mod_revision == the one judged expired`` when this observer
saw the record unchanged for ttl while etcd still holds it (the holder kept
its lease alive but stopped renewing).  The same transaction writes the
``status`` key (bound to no lease, so it outlives everything), and releasing
the lock is one transaction too: delete the leader key, keep the status.

Every write is a transaction whose failure branch reads the key back, so a lost
compare-and-set also brings the cache up to date; and when the write may have
been applied by an earlier, timed-out attempt (see :mod:`etcd_client`), the
read-back decides: if the key holds exactly our bytes (and our lease), it was
ours.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from actors.leader_lock import cache as keys
from actors.leader_lock import cluster_records, records
from actors.leader_lock import status as last_leader
from actors.leader_lock.cache import Entry, RecordCache
from actors.leader_lock.contract import Dcs, DcsBadData, DcsError, DcsParams, VersionedView
from actors.leader_lock.etcd_client import (
    EtcdClient,
    Json,
    LeaseNotFound,
    TxnResult,
    compare_version,
    delete_op,
    put_op,
    range_op,
)
from actors.leader_lock.etcd_session import EtcdSession
from actors.leader_lock.etcd_watch import CacheFeed, EtcdWatcher, entry_of
from actors.leader_lock.lease import lease_expired
from messages.base import Lsn
from messages.cluster import ClusterView, FailoverRequest, HistoryEntry, MemberStatus, SyncState
from messages.config import DynamicConfig, EtcdSettings

log = logging.getLogger(__name__)


class EtcdDcs(Dcs):
    """The DCS contract over etcd v3; see the module docstring.

    ``close()`` does not revoke the session lease: the member record and (if
    held) the leader key expire a ttl after the last refresh, so an actor
    restart never drops the lock under a running primary.
    """

    def __init__(
        self,
        params: DcsParams,
        *,
        settings: EtcdSettings,
        request_timeout_s: float | None = None,
    ) -> None:
        super().__init__(params)
        self.prefix = f"/{params.namespace.strip('/')}/{params.scope}/".replace("//", "/").encode()
        self._client = EtcdClient(
            settings, retry_timeout_s=params.retry_timeout_s, request_timeout_s=request_timeout_s
        )
        self._cache = RecordCache(default_ttl_s=params.ttl_s, clock=params.clock)
        self._feed = CacheFeed(self._cache, self.prefix)
        self._watcher: EtcdWatcher | None = None
        self._session = EtcdSession(self._client, params.clock)
        self._last_renew_started_at: float | None = None
        self._last_conn: tuple[str, int] | None = None
        """Where our PostgreSQL listened when we last wrote the lock: kept in the status."""

    def adopt_timing(self, ttl_s: float, retry_timeout_s: float) -> None:
        super().adopt_timing(ttl_s, retry_timeout_s)
        self._client.set_retry_timeout(retry_timeout_s)

    # -- reading -------------------------------------------------------------

    def versioned_snapshot(self) -> VersionedView:
        return self._cache.versioned_view()

    def refresh(self) -> ClusterView:
        kvs, revision = self._client.range_prefix(self.prefix)
        self._feed.install_read(kvs, revision)
        return self.snapshot()

    def watch(self, on_change: Callable[[], None]) -> None:
        if self._watcher is not None:
            raise RuntimeError("watch() was already called")
        self._watcher = EtcdWatcher(self._client, self._feed, on_change=on_change)
        self._watcher.start()

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        self._client.close()

    @property
    def requests_made(self) -> int:
        return self._client.requests_made

    @property
    def answered_requests(self) -> int:
        return self._client.answered_requests

    @property
    def watching(self) -> bool:
        return self._watcher is not None and self._watcher.alive

    # -- the leader lock -------------------------------------------------------

    @property
    def last_renew_started_at(self) -> float | None:
        return self._last_renew_started_at

    def _acquire_leader(self, optime: Lsn, conn: tuple[str, int] | None, ttl_s: float) -> bool:
        with self._client.one_deadline():
            return self._acquire(optime, conn, ttl_s)

    def _update_leader(
        self,
        optime: Lsn,
        slots: Mapping[str, int] | None,
        conn: tuple[str, int] | None,
        ttl_s: float,
    ) -> bool:
        with self._client.one_deadline():
            return self._renew(optime, slots, conn, ttl_s)

    def delete_leader(self, optime: Lsn | None = None, *, clean: bool = False) -> bool:
        with self._client.one_deadline():
            for _ in range(2):
                entry = self._cache.get(keys.LEADER)
                if entry is None or self._own_leader_fields(entry) is None:
                    return False
                last = self.snapshot().last_leader_optime if optime is None else optime
                status = last_leader.status_value(
                    self.name, last, clean=clean, conn=self._last_conn
                )
                key = self._key(keys.LEADER)
                result = self._client.txn(
                    [compare_version(key, "MOD", entry.version)],
                    [delete_op(key), put_op(self._key(keys.STATUS), status)],
                    [range_op(key)],
                )
                current = self._settle(keys.LEADER, result, None)
                if result.succeeded:
                    self._cache.apply(keys.STATUS, Entry(status, result.revision), result.revision)
                if result.succeeded or (result.repeated and current is None):
                    self._last_renew_started_at = None
                    log.info("leader lock released (optime %d, clean=%s)", last, clean)
                    return True
        return False

    def _acquire(self, optime: Lsn, conn: tuple[str, int] | None, ttl_s: float) -> bool:
        now = self.clock()
        # Entry and record together: the compare below must name exactly the
        # version that was judged expired, not a renewal that arrived meanwhile.
        entry, record = self._cache.leader()  # record None also when it does not parse
        if record is not None and not lease_expired(record, now):
            return record.name == self.name and self._renew(optime, None, conn, ttl_s)
        if entry is None:
            compare = compare_version(self._key(keys.LEADER), "CREATE", 0)
        else:
            compare = compare_version(self._key(keys.LEADER), "MOD", entry.version)
        started = self._refresh_lease()
        same_holder = record is not None and record.name == self.name
        transitions = self._cache.max_transitions + (0 if same_holder else 1)
        update = records.LeaderUpdate(
            optime=optime, ttl_s=ttl_s, now_epoch_s=time.time(), conn=conn
        )
        value = records.acquired_leader_value(self.name, transitions, update)
        won = self._leader_txn(compare, value, started, update)
        log.info(
            "leader lock %s (transitions=%d, ttl=%ss)",
            "acquired" if won else "taken by another",
            transitions,
            ttl_s,
        )
        return won

    def _renew(
        self,
        optime: Lsn,
        slots: Mapping[str, int] | None,
        conn: tuple[str, int] | None,
        ttl_s: float,
    ) -> bool:
        for _ in range(2):  # a second try when the read-back shows the cache lagged
            entry = self._cache.get(keys.LEADER)
            fields = self._own_leader_fields(entry)
            if entry is None or fields is None:
                return False
            started = self._refresh_lease()
            update = records.LeaderUpdate(
                optime=optime, ttl_s=ttl_s, now_epoch_s=time.time(), slots=slots, conn=conn
            )
            value = records.renewed_leader_value(fields, update)
            compare = compare_version(self._key(keys.LEADER), "MOD", entry.version)
            if self._leader_txn(compare, value, started, update):
                return True
        log.warning("leader lock lost: the record no longer names %s", self.name)
        return False

    def _leader_txn(
        self, compare: Json, value: bytes, started: float, update: records.LeaderUpdate
    ) -> bool:
        """Write the leader key (bound to the session lease) and the status, atomically."""
        key = self._key(keys.LEADER)
        lease = self._session.lease_id
        status = last_leader.status_value(
            self.name, update.optime, clean=False, slots=update.slots, conn=update.conn
        )
        if update.conn is not None:
            self._last_conn = update.conn
        puts = [put_op(key, value, lease), put_op(self._key(keys.STATUS), status)]
        try:
            result = self._client.txn([compare], puts, [range_op(key)])
        except LeaseNotFound:
            # The session lease ran out (and took any key bound to it along);
            # the next call gets a new one.
            self._session.lost(lease)
            return False
        current = self._settle(keys.LEADER, result, Entry(value, result.revision, lease))
        won = result.succeeded or (
            result.repeated
            and current is not None
            and (current.raw, current.lease) == (value, lease)
        )
        if won:
            self._last_renew_started_at = started
            at = result.revision if current is None else current.version
            self._cache.apply(keys.STATUS, Entry(status, at), at)
        return won

    def _own_leader_fields(self, entry: Entry | None) -> dict[str, object] | None:
        """The cached leader record's fields if it names this member, else None."""
        if entry is None:
            return None
        try:
            fields = records.parse_leader_fields(entry.raw)
        except DcsBadData:
            return None
        return fields if fields.get("leader") == self.name else None

    def _refresh_lease(self) -> float:
        """Keep the session lease alive at the latest ttl; clock() when the refresh began.

        Every write bound to the lease comes after this, so etcd keeps the key
        until at least the returned time plus ttl_s (see :mod:`etcd_session`:
        a keepalive goes out only when the lease has less than that left).
        """
        return self._session.refresh(self.ttl_s)

    # -- bootstrap ----------------------------------------------------------------

    def initialize(self, sysid: str = "", create_new: bool = True) -> bool:
        if not create_new:
            return self._put(keys.INITIALIZE, sysid.encode())
        # No "was it an earlier attempt of ours?" check here: racers all write
        # the same empty value, so equal bytes would prove nothing.
        key = self._key(keys.INITIALIZE)
        result = self._client.txn(
            [compare_version(key, "CREATE", 0)], [put_op(key, sysid.encode())], [range_op(key)]
        )
        self._settle(keys.INITIALIZE, result, Entry(sysid.encode(), result.revision))
        return result.succeeded

    def cancel_initialization(self) -> bool:
        return self._delete(keys.INITIALIZE)

    # -- members ------------------------------------------------------------------

    def touch_member(self, status: MemberStatus) -> bool:
        relative = keys.MEMBERS + self.name
        value = records.member_value(status)
        for _ in range(2):
            # Every touch leaves the lease with at least ttl to live: the next touch
            # may come nearly 2 x loop_wait later, so a refresh skipped because one
            # came "lately" (once: within ttl / 2) let etcd delete a live member.
            self._refresh_lease()
            lease = self._session.lease_id
            entry = self._cache.get(relative)
            # With the watch running the cache would show a deleted record, so
            # an identical one bound to our live lease needs no write.  One
            # still on an older lease (the ttl changed) is moved to this one.
            if self.watching and entry is not None and (entry.raw, entry.lease) == (value, lease):
                return True
            try:
                return self._put(relative, value, lease)
            except LeaseNotFound:
                self._session.lost(lease)  # expired between the refresh and the put
        return False

    # -- cluster-wide records ------------------------------------------------------

    def set_config(self, config: DynamicConfig, *, only_if_version: str | None) -> bool:
        entry = self._cache.get(keys.CONFIG)
        stored = None if entry is None else entry.raw
        value = cluster_records.config_value_over(config, stored)
        return self._cas_put(keys.CONFIG, value, only_if_version)

    def set_sync_state(self, state: SyncState, *, only_if_version: str | None) -> bool:
        return self._cas_put(keys.SYNC, cluster_records.sync_value(state), only_if_version)

    def delete_sync_state(self, *, only_if_version: str | None = None) -> bool:
        if only_if_version is None:
            return self._delete(keys.SYNC)
        key = self._key(keys.SYNC)
        result = self._client.txn(
            [compare_version(key, "MOD", _version(only_if_version))],
            [delete_op(key)],
            [range_op(key)],
        )
        current = self._settle(keys.SYNC, result, None)
        return result.succeeded or (result.repeated and current is None)

    def set_failover(self, req: FailoverRequest) -> bool:
        return self._put(keys.FAILOVER, cluster_records.failover_value(req))

    def delete_failover(self) -> bool:
        return self._delete(keys.FAILOVER)

    def set_history(self, history: Sequence[HistoryEntry]) -> bool:
        value = cluster_records.history_value(history, now_epoch_s=time.time())
        return self._put(keys.HISTORY, value)

    # -- writes and the cache -------------------------------------------------------

    def _cas_put(self, relative: str, value: bytes, only_if_version: str | None) -> bool:
        key = self._key(relative)
        if only_if_version is None:
            compare = compare_version(key, "CREATE", 0)
        else:
            compare = compare_version(key, "MOD", _version(only_if_version))
        result = self._client.txn([compare], [put_op(key, value)], [range_op(key)])
        current = self._settle(relative, result, Entry(value, result.revision))
        return result.succeeded or (
            result.repeated and current is not None and current.raw == value
        )

    def _put(self, relative: str, value: bytes, lease: int = 0) -> bool:
        revision = self._client.put(self._key(relative), value, lease)
        self._cache.apply(relative, Entry(value, revision, lease), revision)
        return True

    def _delete(self, relative: str) -> bool:
        revision = self._client.delete(self._key(relative))
        self._cache.apply(relative, None, revision)
        return True

    def _settle(self, relative: str, result: TxnResult, written: Entry | None) -> Entry | None:
        """Apply a txn's outcome to the cache; the key's current entry (None: absent)."""
        if result.succeeded:
            self._cache.apply(relative, written, result.revision)
            return written
        current = entry_of(result.kvs[0]) if result.kvs else None
        self._cache.apply(relative, current, current.version if current else result.revision)
        return current

    def _key(self, relative: str) -> bytes:
        return self.prefix + relative.encode()


def _version(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DcsError(f"not an etcd record version: {text!r}") from None
