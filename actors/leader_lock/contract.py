"""The DCS contract: what every backend (etcd, Kubernetes) promises the leader-lock actor.

A distributed configuration store holds a handful of cluster-wide records -- the
leader lock, the initialise key, the dynamic config, the sync and failover keys,
the timeline history and one record per member -- and offers compare-and-set on
each.  The contract is written as docstrings on :class:`Dcs`, as Patroni's
AbstractDCS does, because the meaning of each call (what is atomic, what a
``False`` means, which error means "try again later") is the part callers rely
on; the shared contract test suite checks every backend against it.

Three outcomes, never more:

* ``True``: the store now holds what was asked.
* ``False``: a compare-and-set lost (someone else changed the record first).
  This is the normal way to lose a race; it is not an error.
* :class:`DcsUnreachable`: the store did not answer within ``retry_timeout_s``
  (each request was retried with backoff until then).  The outcome of a write
  may then be unknown; the caller re-reads and decides again.

Reads never fail on bad data: a record that does not parse raises
:class:`DcsBadData` inside the backend, is logged once, and is treated as
absent.  Times in views are the observer's monotonic clock (safety rule 2).

Timing has one source of truth: the HA core.  Every lock write carries the
``ttl_s`` it writes into the record and the ``retry_timeout_s`` it may spend,
as the HA core decided them (whatever the config says by the time the call
lands); the backend never substitutes a value of its own.  The latest timing
a handle was given also sizes what no lock call carries: the member record's
lease and the retry budget of the other calls (:class:`DcsParams` gives the
first one).

Reachability is proven only by round-trips: :attr:`Dcs.answered_requests`
counts the requests of this handle's calls that the server answered, so a
caller can tell a call that reached the server from one answered out of the
cache.  Reads are linearizable (etcd's default range, Kubernetes' lists and
gets without a resourceVersion), so an answer never comes from a member that
fell behind.

What must survive a restart of every agent -- who led last, its last position,
whether it stopped cleanly -- lives in the store, in the *status* record
(Patroni's ``status`` key; in Kubernetes, annotations of the leader object),
written in the same atomic write as each acquire, renewal and release.

All methods are synchronous and may be called from the owning actor's thread
while the backend's own watch thread updates its cache.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence

from messages.base import Lsn, MemberName
from messages.cluster import ClusterView, FailoverRequest, HistoryEntry, MemberStatus, SyncState
from messages.config import DynamicConfig

Clock = Callable[[], float]


class DcsError(Exception):
    """Base of every error a DCS backend raises."""


class DcsUnreachable(DcsError):
    """No answer within retry_timeout_s (timeouts, refused connections, 5xx).

    Means "try again later": the caller must assume nothing about a write that
    raised this -- it may or may not have been applied.
    """


class DcsConflict(DcsError):
    """A write conflicted in a way a ``False`` cannot express.

    Not raised for an ordinary lost compare-and-set (that returns ``False``);
    reserved for backends whose API reports conflicts as errors in places the
    contract has no boolean for.
    """


def check_timing(ttl_s: float, retry_timeout_s: float) -> None:
    """Refuse timing no lease can be built on; raises :class:`DcsError` naming it."""
    for name, value in (("ttl_s", ttl_s), ("retry_timeout_s", retry_timeout_s)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise DcsError(f"{name}={value!r}: must be a positive number of seconds")


class DcsBadData(DcsError):
    """A stored record that does not parse.

    Raised by the record decoders only; backends catch it, log it once per
    record version and treat the record as absent, so a hand-edited key can
    never crash a node.
    """


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class VersionedView:
    """A cluster view together with the versions its CAS-able records had.

    The versions are opaque strings (etcd: mod_revision; Kubernetes:
    resourceVersion) taken atomically with the view, so a caller can decide on
    the view and then write with ``only_if_version`` knowing exactly what it
    decided on.  None means the record was absent.
    """

    view: ClusterView
    config_version: str | None = None
    sync_version: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DcsParams:
    """The settings every backend takes, whatever its store.

    Args:
        scope: the cluster name; all records live under it.
        name: this member's name (unique in the scope).
        namespace: the top-level prefix (etcd: ``/<namespace>/<scope>/``;
            Kubernetes: the namespace of the objects).
        ttl_s: the member record's lease until a lock call brings the HA
            core's ttl (lock calls always carry their own).
        retry_timeout_s: how long one call keeps retrying before it raises
            :class:`DcsUnreachable`, until a lock call brings the HA core's.
        clock: the monotonic clock used for every time in a view and for
            :attr:`Dcs.last_renew_started_at`; injectable for tests.
    """

    scope: str
    name: MemberName
    namespace: str
    ttl_s: float
    retry_timeout_s: float
    clock: Clock = time.monotonic

    def __post_init__(self) -> None:
        if self.ttl_s <= 0 or self.retry_timeout_s <= 0:
            raise ValueError("ttl_s and retry_timeout_s must be positive")


class Dcs(abc.ABC):
    """One member's handle on the cluster's records in a DCS.

    Built from a :class:`DcsParams`, whose fields it also offers as attributes
    (``scope``, ``name``, ``namespace``, ``ttl_s``, ``retry_timeout_s``,
    ``clock``).  ``ttl_s`` and ``retry_timeout_s`` then follow the latest
    timing a lock call brought (see :meth:`adopt_timing`).
    """

    def __init__(self, params: DcsParams, /) -> None:
        self.params = params
        self.scope = params.scope
        self.name = params.name
        self.namespace = params.namespace
        self.ttl_s = params.ttl_s
        self.retry_timeout_s = params.retry_timeout_s
        self.clock = params.clock

    def adopt_timing(self, ttl_s: float, retry_timeout_s: float) -> None:
        """Make the HA core's latest timing this handle's (called by the lock calls).

        Raises :class:`DcsError` for timing no lease can be built on, before
        anything is written.  Backends extend it to resize what depends on it
        (the retry budget of their client).
        """
        check_timing(ttl_s, retry_timeout_s)
        self.ttl_s, self.retry_timeout_s = ttl_s, retry_timeout_s

    # -- reading -------------------------------------------------------------

    @abc.abstractmethod
    def versioned_snapshot(self) -> VersionedView:
        """The cached view and its record versions, taken atomically; no I/O.

        Before the first :meth:`refresh` or watch read the view is empty.  The
        leader's ``observed_change_at`` is this process's ``clock()`` when it
        last saw the leader record change (every renewal changes it) or first
        saw it; its ``ttl_s`` is the one written in the record.  ``config`` is
        None while no config is stored.  ``last_leader_name``,
        ``last_leader_optime`` and ``last_leader_clean`` come from the stored
        status record (see :meth:`delete_leader`), never from this process's
        memory, so an agent that just started knows them after its first
        read: the holder named by a live leader record, else the status's; the
        highest position either published; clean only while no leader record
        exists.  A status written by Patroni (``optime`` and ``slots`` only)
        gives the position alone.  A record that does not parse reads as
        absent, but its version is still given, so a CAS can replace it.
        """

    def snapshot(self) -> ClusterView:
        """The cached, immutable :class:`ClusterView`; no I/O, never raises."""
        return self.versioned_snapshot().view

    def config_version(self) -> str | None:
        """The cached config record's version (None: no config stored)."""
        return self.versioned_snapshot().config_version

    def sync_version(self) -> str | None:
        """The cached sync record's version (None: no sync key stored)."""
        return self.versioned_snapshot().sync_version

    @abc.abstractmethod
    def refresh(self) -> ClusterView:
        """Re-read every record from the server into the cache, consistently.

        All records come from one point in the store's history.  Raises
        :class:`DcsUnreachable`; the cache is unchanged then.
        """

    @abc.abstractmethod
    def watch(self, on_change: Callable[[], None]) -> None:
        """Start a background thread that keeps the cache current.

        It reads everything once, then follows changes, calling ``on_change()``
        from the watch thread after every change it applied (within about
        100 ms of the change on the server).  After an error it reconnects with
        backoff; when it cannot resume where it stopped (compaction, too-old
        version) it re-reads everything.  Calling it twice is an error.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the watch thread promptly and release connections; idempotent.

        Does not release the lock or delete the member record: a closed handle
        may belong to an actor that is being restarted while PostgreSQL keeps
        running, so the records expire by ttl instead (etcd: the lease is left
        to time out, not revoked).
        """

    @property
    @abc.abstractmethod
    def requests_made(self) -> int:
        """How many requests this handle sent to the server (retries included)."""

    @property
    def answered_requests(self) -> int:
        """How many requests of this handle's calls the server answered.

        The only proof that the store is reachable: a call that returned
        without raising but left this unchanged was answered from the cache
        (an identical member record, a lock that is plainly someone else's)
        and proves nothing.  An answer is a final one: a success or a refusal
        (404, 409, a lost compare); a 5xx, a timeout or a dropped connection
        is not.  The watch thread's traffic does not count: a stream that
        stays open, or even delivers events, may come from a server that can
        no longer take a write (a Kubernetes API server serving its watch
        cache while etcd behind it is gone).  Backends override it; this
        default never proves anything.
        """
        return 0

    # -- the leader lock -------------------------------------------------------

    @property
    @abc.abstractmethod
    def last_renew_started_at(self) -> float | None:
        """``clock()`` when the last *successful* acquire or renewal started.

        The holder judges its own lease from this (conservatively: the server
        and every observer start their ttl clock later than this).
        """

    def attempt_to_acquire_leader(
        self,
        optime: Lsn,
        conn: tuple[str, int] | None = None,
        *,
        ttl_s: float,
        retry_timeout_s: float,
    ) -> bool:
        """Take the lock iff it is free or expired as this observer judges it.

        Free: no leader record.  Expired: ``lease_expired(record, clock())``
        for the cached record (safety rule 2).  The write is one atomic
        compare-and-set against exactly the record judged free/expired, so if
        anyone changed it meanwhile the call returns False.  A live lock held by
        someone else returns False without a write (one held by us is renewed,
        as :meth:`update_leader`).  ``transitions`` is bumped when the holder
        changes.  ``conn`` is the address clients should use to reach this
        primary.

        Timing: the record says exactly ``ttl_s``, and where the store expires
        keys itself (etcd) the key is bound to a lease at least that long, so
        the store never drops the lock before the holder's own judgement
        (``last_renew_started_at + ttl_s``) says it ends.  The call retries for
        at most ``retry_timeout_s`` in all, then raises :class:`DcsUnreachable`.
        Both become the handle's latest timing (:meth:`adopt_timing`).  Timing
        that is not positive raises :class:`DcsError` and writes nothing.

        The same atomic write stores the status record (this member, ``optime``,
        not clean), so it costs no extra request.
        """
        self.adopt_timing(ttl_s, retry_timeout_s)
        return self._acquire_leader(optime, conn, ttl_s)

    @abc.abstractmethod
    def _acquire_leader(self, optime: Lsn, conn: tuple[str, int] | None, ttl_s: float) -> bool:
        """The backend's write for :meth:`attempt_to_acquire_leader`, timing adopted."""

    def update_leader(
        self,
        optime: Lsn,
        slots: Mapping[str, int] | None = None,
        conn: tuple[str, int] | None = None,
        *,
        ttl_s: float,
        retry_timeout_s: float,
    ) -> bool:
        """Renew the lock, only while the record still names this member.

        Compare-and-set on the record; writes ``optime`` (our last WAL
        position) and ``slots`` (None keeps the stored ones) and always changes
        the record so observers restart their ttl clock.  ``ttl_s`` and
        ``retry_timeout_s`` as in :meth:`attempt_to_acquire_leader`: a renewal
        with a new ttl writes it (observers judge the lease by it from their
        next sight of the record), and in etcd moves the lock to a lease of the
        new length in the same write.  The status record is written with it.
        False: the lock is lost (gone, or someone else's) -- the caller must
        demote.  Raises :class:`DcsUnreachable`; the write may then have landed
        or not, so the caller judges its lease from :attr:`last_renew_started_at`
        and the shorter of the old and the new ttl.
        """
        self.adopt_timing(ttl_s, retry_timeout_s)
        return self._update_leader(optime, slots, conn, ttl_s)

    @abc.abstractmethod
    def _update_leader(
        self,
        optime: Lsn,
        slots: Mapping[str, int] | None,
        conn: tuple[str, int] | None,
        ttl_s: float,
    ) -> bool:
        """The backend's write for :meth:`update_leader`, timing adopted."""

    @abc.abstractmethod
    def delete_leader(self, optime: Lsn | None = None, *, clean: bool = False) -> bool:
        """Release the lock, only if the record names this member (CAS).

        The same atomic write keeps the status record: this member as the last
        leader, ``optime`` (None: the last one this member published) and
        ``clean`` (PostgreSQL stopped cleanly and ``optime`` is its final
        checkpoint).  The status outlives the lock, its lease and every agent.
        False: the record was absent or someone else's; nothing is written.
        Raises :class:`DcsUnreachable`.
        """

    # -- bootstrap --------------------------------------------------------------

    @abc.abstractmethod
    def initialize(self, sysid: str = "", create_new: bool = True) -> bool:
        """Claim or complete cluster initialisation.

        ``create_new=True``: create the initialise key holding ``sysid`` iff it
        does not exist; exactly one racer gets True.  ``create_new=False``:
        store the system identifier after a successful bootstrap
        (unconditional).  Raises :class:`DcsUnreachable`.
        """

    @abc.abstractmethod
    def cancel_initialization(self) -> bool:
        """Delete the initialise key (after a failed bootstrap), unconditionally."""

    # -- members ------------------------------------------------------------

    @abc.abstractmethod
    def touch_member(self, status: MemberStatus) -> bool:
        """Publish this member's record, bound to this process's lease.

        Keeps the lease alive; the record disappears about ``ttl_s`` (the
        latest the handle was given) after the last touch when the process
        stops touching (or dies); a record still bound to an older lease is
        moved to the current one.  May skip the write when the stored record
        is identical -- that answer comes from the cache and proves nothing
        about the store (see :attr:`answered_requests`).  Raises
        :class:`DcsUnreachable`.
        """

    # -- cluster-wide records ------------------------------------------------

    @abc.abstractmethod
    def set_config(self, config: DynamicConfig, *, only_if_version: str | None) -> bool:
        """Store the dynamic config with compare-and-set.

        ``only_if_version`` is the version the caller decided on (see
        :meth:`versioned_snapshot`); None means "only if no config exists yet"
        (bootstrap).  Keys pgactor does not know (written by Patroni tools) are
        preserved.  False: the version did not match.
        """

    @abc.abstractmethod
    def set_sync_state(self, state: SyncState, *, only_if_version: str | None) -> bool:
        """Store the sync key with compare-and-set (None: only if absent)."""

    @abc.abstractmethod
    def delete_sync_state(self, *, only_if_version: str | None = None) -> bool:
        """Delete the sync key; with a version, only if it still has it."""

    @abc.abstractmethod
    def set_failover(self, req: FailoverRequest) -> bool:
        """Store a switchover / failover request (unconditional)."""

    @abc.abstractmethod
    def delete_failover(self) -> bool:
        """Delete the failover key (unconditional; True also if absent)."""

    @abc.abstractmethod
    def set_history(self, history: Sequence[HistoryEntry]) -> bool:
        """Store the timeline history (unconditional; only the leader writes it)."""
