"""The Kubernetes backend of the DCS contract, in Patroni's layout.

The records are annotations on a few objects of the namespace and on the
members' own Pods (names and shapes in :mod:`k8s_records`).  Every
compare-and-set is a JSON merge patch naming the object's
``metadata.resourceVersion``, which the API server refuses with 409 when the
object moved on; creating a missing object is a POST, refused with 409 when
someone else created it first.  A lost compare reads the object back, so the
cache learns what won (as the etcd backend's failed transactions do).

The leader lock has no server-side lease here: renewTime changes with every
renewal, and expiry is judged only by observers, on their own monotonic clock,
from when they last saw the leader object change, by the ``ttl`` the holder
wrote -- the HA core's, given with each call (safety rule 2).  In Endpoints
mode the same patch that takes or renews the lock points the object's
``subsets`` at the leader, so the primary Service follows the lock
atomically; releasing it empties them.  The same patch also writes the status
annotations (last leader, its position, a clean release), which stay on the
object after the lock is released.

Members have no lease either: a member's record is its Pod's ``status``
annotation, and it goes away with the Pod.  A member that stops touching but
whose Pod lives on keeps its last record (Patroni behaves the same).  Its
role label is another matter: Services route by it, so the member that takes
the lock takes the primary label off every other Pod (see :mod:`k8s_labels`).

Two watch threads (records objects and Pods, one label selector) keep the
cache current; see :mod:`k8s_watch`.  The official client is imported by
:mod:`k8s_client` only, and this module only when the Kubernetes backend is
configured (see :mod:`factory`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from actors.leader_lock import cache as keys
from actors.leader_lock import cluster_records, records
from actors.leader_lock import k8s_labels as labels
from actors.leader_lock import k8s_records as kr
from actors.leader_lock.backoff import Deadline
from actors.leader_lock.cache import RecordCache
from actors.leader_lock.contract import Dcs, DcsError, DcsParams, VersionedView
from actors.leader_lock.k8s_client import K8sClient, NotFound
from actors.leader_lock.k8s_feed import Family, Feed, ObjectState
from actors.leader_lock.k8s_permissions import (  # re-exported: what a Role must grant
    OPTIONAL_PERMISSIONS as OPTIONAL_PERMISSIONS,
)
from actors.leader_lock.k8s_permissions import REQUIRED_PERMISSIONS as REQUIRED_PERMISSIONS
from actors.leader_lock.k8s_permissions import required_permissions as required_permissions
from actors.leader_lock.k8s_watch import ResourceWatch
from actors.leader_lock.k8s_writes import ObjectWriter, Write
from actors.leader_lock.lease import lease_expired
from messages.base import Lsn, MemberName
from messages.cluster import (
    ClusterView,
    FailoverRequest,
    HistoryEntry,
    LeaderRecord,
    MemberStatus,
    SyncState,
)
from messages.config import DynamicConfig, KubernetesSettings

log = logging.getLogger(__name__)


_OBJECTS = Family.OBJECTS


class KubernetesDcs(Dcs):
    """The DCS contract over the Kubernetes API; see the module docstring."""

    def __init__(
        self,
        params: DcsParams,
        *,
        settings: KubernetesSettings,
        request_timeout_s: float | None = None,
        watch_timeout_s: int = 10,
    ) -> None:
        super().__init__(params)
        self.settings = settings
        self.layout = kr.Layout.of(params.scope, settings)
        self._client = K8sClient(
            settings,
            namespace=params.namespace,
            retry_timeout_s=params.retry_timeout_s,
            request_timeout_s=request_timeout_s,
        )
        self._cache = RecordCache(default_ttl_s=params.ttl_s, clock=params.clock)
        self._feed = Feed(self._cache, self.layout)
        self._writer = ObjectWriter(self._client, self._feed, self.layout)
        self._labels = labels.PodLabels(self._client, self._feed, self.layout, params.name)
        self._last_status: MemberStatus | None = None
        self._watch_timeout_s = watch_timeout_s
        self._watches: list[ResourceWatch] = []
        self._last_renew_started_at: float | None = None
        self._last_conn: tuple[str, int] | None = None
        """Where our PostgreSQL listened when we last wrote the lock: kept in the status."""
        self._warned_address = False

    # -- reading -------------------------------------------------------------

    def versioned_snapshot(self) -> VersionedView:
        return self._cache.versioned_view()

    def refresh(self) -> ClusterView:
        """Two lists (records objects, Pods); each is installed as of its own version."""
        deadline = self._client.deadline()
        objects, objects_at = self._client.list(self.layout.kind, self.layout.selector, deadline)
        pods, pods_at = self._client.list("pods", self.layout.selector, deadline)
        self._feed.install(_OBJECTS, objects, objects_at)
        self._feed.install(Family.PODS, pods, pods_at)
        return self.snapshot()

    def watch(self, on_change: Callable[[], None]) -> None:
        if self._watches:
            raise RuntimeError("watch() was already called")
        self._watches = [
            ResourceWatch(
                self._client,
                self._feed,
                family=family,
                resource=resource,
                selector=self.layout.selector,
                on_change=on_change,
                timeout_s=self._watch_timeout_s,
            )
            for family, resource in ((_OBJECTS, self.layout.kind), (Family.PODS, "pods"))
        ]
        for watch in self._watches:
            watch.start()

    def close(self) -> None:
        for watch in self._watches:
            watch.request_stop()
        until = time.monotonic() + min(self._client.request_timeout_s, 2.0) + 0.1
        for watch in self._watches:
            watch.join(max(0.0, until - time.monotonic()))
        self._client.close()

    @property
    def requests_made(self) -> int:
        return self._client.requests_made

    @property
    def answered_requests(self) -> int:
        return self._client.answered_requests

    def adopt_timing(self, ttl_s: float, retry_timeout_s: float) -> None:
        super().adopt_timing(ttl_s, retry_timeout_s)
        self._client.set_retry_timeout(retry_timeout_s)

    @property
    def watching(self) -> bool:
        return any(watch.alive for watch in self._watches)

    # -- the leader lock -------------------------------------------------------

    @property
    def last_renew_started_at(self) -> float | None:
        return self._last_renew_started_at

    def _acquire_leader(self, optime: Lsn, conn: tuple[str, int] | None, ttl_s: float) -> bool:
        deadline = self._client.deadline()
        # Object and record together: the compare below must name exactly the
        # version that was judged expired, not a renewal that arrived meanwhile.
        state, record = self._feed.leader()
        if record is not None and not lease_expired(record, self.clock()):
            return record.name == self.name and self._renew(optime, None, conn, ttl_s, deadline)
        started = self.clock()
        transitions = self._transitions(state, record)
        update = self._update(optime, ttl_s)
        write = Write(
            name=self.layout.leader,
            annotations={
                **kr.acquire_annotations(self.name, transitions, update),
                **kr.status_annotations(self.name, optime, clean=False, conn=conn),
                **kr.leader_extras(self.snapshot()),
            },
            subsets=self._subsets(conn, clear=True),
        )
        version = None if state is None else state.version
        won = self._writer.cas(write, version, deadline)
        if won:
            self._last_renew_started_at = started
            self._last_conn = conn or self._last_conn
            self._settle_labels(deadline)
        outcome = "acquired" if won else "taken by another"
        log.info("leader lock %s (transitions=%d, ttl=%ss)", outcome, transitions, ttl_s)
        return won

    def _update_leader(
        self,
        optime: Lsn,
        slots: Mapping[str, int] | None,
        conn: tuple[str, int] | None,
        ttl_s: float,
    ) -> bool:
        return self._renew(optime, slots, conn, ttl_s, self._client.deadline())

    def delete_leader(self, optime: Lsn | None = None, *, clean: bool = False) -> bool:
        deadline = self._client.deadline()
        # The primary Service goes nowhere until the next leader points it at itself.
        subsets: list[kr.Json] | None = [] if self.layout.use_endpoints else None
        for _ in range(2):
            state = self._own_leader_state()
            if state is None:
                return False
            last = self.snapshot().last_leader_optime if optime is None else optime
            status = kr.status_annotations(self.name, last, clean=clean, conn=self._last_conn)
            annotations = {"leader": None, **status}
            write = Write(name=self.layout.leader, annotations=annotations, subsets=subsets)
            if self._writer.cas(write, state.version, deadline):
                self._last_renew_started_at = None
                log.info("leader lock released (optime %d, clean=%s)", last, clean)
                self._settle_labels(deadline)
                return True
        return False

    def _renew(
        self,
        optime: Lsn,
        slots: Mapping[str, int] | None,
        conn: tuple[str, int] | None,
        ttl_s: float,
        deadline: Deadline,
    ) -> bool:
        for _ in range(2):  # a second try when the read-back shows the cache lagged
            state = self._own_leader_state()
            if state is None:
                break
            started = self.clock()
            write = Write(
                name=self.layout.leader,
                annotations={
                    **kr.renew_annotations(self._update(optime, ttl_s, slots)),
                    **kr.status_annotations(self.name, optime, clean=False, conn=conn),
                    **kr.leader_extras(self.snapshot(), slots),
                },
                subsets=self._subsets(conn, clear=False),
            )
            if self._writer.cas(write, state.version, deadline):
                self._last_renew_started_at = started
                self._last_conn = conn or self._last_conn
                self._settle_labels(deadline)
                return True
        log.warning("leader lock lost: the record no longer names %s", self.name)
        self._settle_labels(deadline)
        return False

    def _holder(self) -> MemberName | None:
        _, record = self._feed.leader()
        return None if record is None else record.name

    def _settle_labels(self, deadline: Deadline) -> None:
        """The role labels after a lock call (see :mod:`k8s_labels`); never raises."""
        holder, status = self._holder(), self._last_status
        leader = None if status is None else labels.leads(status, holder)
        self._labels.settle(holds_lock=holder == self.name, leader=leader, deadline=deadline)

    def _own_leader_state(self) -> ObjectState | None:
        """The leader object as last seen, if its record names this member."""
        state = self._feed.state(_OBJECTS, self.layout.leader)
        if state is None or state.annotations.get("leader") != self.name:
            return None
        return state

    def _update(
        self, optime: Lsn, ttl_s: float, slots: Mapping[str, int] | None = None
    ) -> records.LeaderUpdate:
        now = time.time()
        return records.LeaderUpdate(optime=optime, ttl_s=ttl_s, now_epoch_s=now, slots=slots)

    def _transitions(self, state: ObjectState | None, record: LeaderRecord | None) -> int:
        """The count stays on the object after a release; the cache remembers it too."""
        annotations = None if state is None else state.annotations
        same_holder = record is not None and record.name == self.name
        return kr.next_transitions(annotations, self._cache.max_transitions, same_holder)

    def _subsets(self, conn: tuple[str, int] | None, *, clear: bool) -> list[kr.Json] | None:
        """The leader's Endpoints subsets to write (None: leave them as they are)."""
        if not self.layout.use_endpoints:
            return None
        if conn is None:
            return [] if clear else None
        host = self.settings.pod_ip or conn[0]
        if kr.is_ip(host):
            return kr.leader_subsets(host, conn[1])
        if not self._warned_address:
            log.warning("%r is not an IP address: the primary Service gets no endpoint", host)
            self._warned_address = True
        return []

    # -- bootstrap ----------------------------------------------------------------

    def initialize(self, sysid: str = "", create_new: bool = True) -> bool:
        deadline = self._client.deadline()
        # Racers all write the same value, so equal annotations would prove
        # nothing about whose attempt it was.
        write = Write(
            name=self.layout.config, annotations={"initialize": sysid}, identifiable=False
        )
        if create_new:
            return self._writer.put_if_absent(write, keys.INITIALIZE, deadline)
        return self._writer.upsert(write, deadline)

    def cancel_initialization(self) -> bool:
        write = Write(name=self.layout.config, annotations={"initialize": None})
        return self._writer.clear(write, self._client.deadline())

    # -- members ------------------------------------------------------------------

    def touch_member(self, status: MemberStatus) -> bool:
        """Patch this member's own Pod; False (and a warning) when the Pod does not exist.

        The role label says primary only while this member holds the lock and runs
        as primary (see :mod:`k8s_labels`); lock calls keep it true in between.
        """
        self._last_status = status
        leader = labels.leads(status, self._holder())
        patch = labels.member_patch(self.layout, status, leader=leader)
        cached = self._feed.state(Family.PODS, self.name)
        # With the watch running the cache shows the Pod as it is.
        if (
            self.watching
            and cached is not None
            and labels.pod_shows(cached.labels, cached.annotations, patch)
        ):
            return True
        try:
            obj = self._client.patch("pods", self.name, patch, self._client.deadline())
        except NotFound:
            log.warning(
                "pod %s not found in namespace %s: cannot publish the member status",
                self.name,
                self.namespace,
            )
            return False
        self._feed.apply(Family.PODS, obj)
        return True

    # -- cluster-wide records ------------------------------------------------------

    def set_config(self, config: DynamicConfig, *, only_if_version: str | None) -> bool:
        entry = self._cache.get(keys.CONFIG)
        stored = None if entry is None else entry.raw
        value = cluster_records.config_value_over(config, stored).decode()
        write = Write(name=self.layout.config, annotations={"config": value})
        return self._cas_record(keys.CONFIG, write, only_if_version)

    def set_sync_state(self, state: SyncState, *, only_if_version: str | None) -> bool:
        write = Write(name=self.layout.sync, annotations=kr.sync_annotations(state))
        return self._cas_record(keys.SYNC, write, only_if_version)

    def delete_sync_state(self, *, only_if_version: str | None = None) -> bool:
        write = Write(name=self.layout.sync, annotations=kr.sync_annotations(None))
        deadline = self._client.deadline()
        if only_if_version is None:
            return self._writer.clear(write, deadline)
        return self._writer.cas(write, _version(only_if_version), deadline)

    def set_failover(self, req: FailoverRequest) -> bool:
        write = Write(name=self.layout.failover, annotations=kr.failover_annotations(req))
        return self._writer.upsert(write, self._client.deadline())

    def delete_failover(self) -> bool:
        write = Write(name=self.layout.failover, annotations=kr.failover_annotations(None))
        return self._writer.clear(write, self._client.deadline())

    def set_history(self, history: Sequence[HistoryEntry]) -> bool:
        value = cluster_records.history_value(history, now_epoch_s=time.time()).decode()
        write = Write(name=self.layout.config, annotations={"history": value})
        return self._writer.upsert(write, self._client.deadline())

    def _cas_record(self, key: str, write: Write, only_if_version: str | None) -> bool:
        deadline = self._client.deadline()
        if only_if_version is None:
            return self._writer.put_if_absent(write, key, deadline)
        return self._writer.cas(write, _version(only_if_version), deadline)


def _version(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DcsError(f"not a Kubernetes resourceVersion: {text!r}") from None
