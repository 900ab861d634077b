"""One node's LeaderLockActor and its backend, as they behave towards the store.

What the real actor and backends do, modelled message by message:

* One message at a time.  A call to the store blocks the actor until it is
  answered or its retry budget (the HA core's retry_timeout, adopted from the
  last lock call) runs out, so a renewal queued behind a hanging touch waits.
* The record cache: the leader key goes through the real RecordCache, which
  parses the record the holder wrote and stamps ``observed_change_at`` with
  this node's clock when its version changes; expiry for AcquireLock is the
  real ``lease_expired`` on that record (safety rule 2).  Other keys are kept
  by version the same way (newer versions only, deletions remembered).
* The watch delivers store changes some milliseconds late (more on a lagging
  link), nothing while the link is cut, and coalesces bursts into one DcsView.
  Watch traffic never proves the store reachable.
* Reachability is what the last real round-trip said: an answer from the
  server (success or refusal) proves it, a call that ran out of budget
  disproves it, and a call answered from the cache (a live lock plainly
  someone else's, an identical member record) changes nothing.  While
  unreachable the actor re-reads everything every second.
* Lock writes carry the HA core's ttl into the record; the holder's lease
  starts when its call started (etcd: when the session refresh the write
  rides on began); observers start it when they see the record change.
* etcd: one session lease per actor carries the member key and, while held,
  the leader key; it is ``lease_ttl(ttl)`` (1.5 x ttl) long, kept alive by a
  lock write or touch only when less than ttl and a margin is left (the real
  etcd_session rule), and replaced (the old one left to expire) when the ttl
  changes.  Kubernetes: nothing expires on the server.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actors.leader_lock import etcd_session, lease, records
from actors.leader_lock.cache import Entry, RecordCache
from actors.runtime import names
from messages.base import Lsn, MemberName
from messages.cluster import ClusterView, LeaderRecord, MemberStatus, SyncState
from messages.dcs import (
    AcquireLock,
    CancelInitialize,
    ClaimInitialize,
    ClearFailover,
    DcsView,
    LockOp,
    LockResult,
    ReleaseLock,
    RenewLock,
    SetBootstrapConfig,
    SetConfig,
    SetFailover,
    SetHistory,
    SetInitialized,
    TouchMember,
)
from messages.runtime import Resend
from messages.sync import DeleteSyncState, SyncStateWritten, WriteOutcome, WriteSyncState

from .dcs import (
    CONFIG,
    FAILOVER,
    HISTORY,
    INITIALIZE,
    LEADER,
    MEMBERS,
    STATUS,
    SYNC,
    LeaderValue,
    Rec,
    StatusValue,
    Store,
)

if TYPE_CHECKING:
    from .node import Node

FAILED = object()
"""A call that got no answer within its budget (DcsUnreachable)."""
ATTEMPT_S = 1.0
"""A request lost on the way is given up and sent again after this long."""
RETRY_EVERY_S = 1.0
UNREACHABLE_DETAIL = "no answer from the store within retry_timeout"
_CHANGED = object()
SHUTDOWN = object()
"""The node stops cleanly: after the messages before it, the agent process exits."""
PUBLISH_OWN_WRITES = True
"""The real actor's _write publishes a view its own write changed (ff9765b; mutation
old_own_write_unpublished turns it off)."""
STATUS_IN_STORE = True
"""The view's last leader comes from the store's status record (False: from what this
process happened to see, as before the fix; see mutations)."""
WRITE_MSG_TTL = True
"""Lock writes carry the HA core's ttl (False: the backend's own, as before the fix)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Seen:
    """A leader record version, and when this node's cache first applied it (its clock)."""

    version: int
    at: float
    name: str
    ttl: float


@dataclasses.dataclass(slots=True)
class Call:
    apply: Callable[[Store], Any]
    then: Callable[[Any], Any]
    done: bool = False
    landed: Any = None


class LockActor:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.world = node.world
        self.name = node.name
        cfg = node.bootstrap_config
        self.bootstrap_ttl = cfg.ttl_s
        self.ttl, self.retry = cfg.ttl_s, cfg.retry_timeout_s
        self.mailbox: collections.deque[Any] = collections.deque()
        self.busy = False
        self.reachable = False
        self.detail = ""
        self.cache = RecordCache(default_ttl_s=cfg.ttl_s, clock=node.clock.now)
        self.cache.sim_node = node  # type: ignore[attr-defined]  # for the renewTime mutation
        self.leader_version = 0
        self.records: dict[str, Rec] = {}
        self.known: dict[str, int] = {}
        """Version of every key (or deletion) the cache has applied."""
        self.seen_leader: StatusValue | None = None
        self.leader_seen: Seen | None = None
        """The cached leader record as rule 2 judges it, kept by the model itself (check k)."""
        self.view_meta: dict[int, tuple[ClusterView, Seen | None]] = {}
        self._view: ClusterView | None = None
        self.published: ClusterView | None = None
        self._members: tuple[Any, ...] | None = None
        self.session_id = 0
        self.session_ttl = 0
        self.session_at = -math.inf
        self.last_renew_started_at: float | None = None
        self.written: tuple[float, float] | None = None
        """(start, ttl) of our last successful acquire/renewal: the lease as specified."""
        self.watch_pending = False
        self.change_pending = False
        self.retry_armed = False
        self.proof_pending = False
        self.alive = True

    # -- start ---------------------------------------------------------------------

    def start(self) -> None:
        """The actor started: its watch opens, and a first full read follows."""
        self.world.watchers.append(self)
        self.on_store_change()
        self.enqueue(_Retry())

    # -- the mailbox -------------------------------------------------------------------

    def enqueue(self, msg: Any) -> None:
        self.mailbox.append(msg)
        if not self.busy:
            self.busy = True
            self.node.act(self._drain)

    def _drain(self) -> None:
        """Handle messages until one waits on the store (it resumes us when answered)."""
        while self.mailbox:
            msg = self.mailbox.popleft()
            if msg is _CHANGED:
                self.change_pending = False
                self._publish()
                continue
            if msg is SHUTDOWN:
                self.node.finish_clean_stop()
                return
            handler = _HANDLERS.get(type(msg))
            if handler is not None and handler(self, msg) is False:
                return
        self.busy = False

    def _resume(self) -> None:
        self._drain()

    # -- calls to the store ----------------------------------------------------------------

    def _call(self, apply: Callable[[Store], Any], then: Callable[[Any], Any]) -> bool:
        """Start a call; returns False (the actor now waits on it)."""
        call = Call(apply, then)  # then(answer) returns False when it started another call
        self.node.act(self._timeout, call, delay=self.retry)
        self._attempt(call)
        return False

    def _attempt(self, call: Call) -> None:
        if call.done or not self.alive:
            return
        net = self.world.net
        if not net.dcs_up(self.name):
            self.node.act(self._attempt, call, delay=ATTEMPT_S)
            return
        self.world.loop.at(self.world.loop.t + net.dcs_latency(self.name), self._arrive, call)

    def _arrive(self, call: Call) -> None:
        """At the server (the write lands even if the caller has given up on it)."""
        net = self.world.net
        if not self.node.up or not net.dcs_up(self.name) or net.dropped(self.name):
            self.node.act(self._attempt, call, delay=ATTEMPT_S)
            return
        if call.landed is None:
            call.landed = call.apply(self.world.store)
        answer = call.landed
        self.world.loop.at(self.world.loop.t + net.dcs_latency(self.name), self._back, call, answer)

    def _back(self, call: Call, answer: Any) -> None:
        if not self.alive:
            return  # the process that asked is gone: nobody reads the answer
        net = self.world.net
        if not net.dcs_up(self.name) or net.dropped(self.name):
            self.node.act(self._attempt, call, delay=ATTEMPT_S)
            return
        self.node.act(self._answered, call, answer)

    def _answered(self, call: Call, answer: Any) -> None:
        """The server answered: the backend brings its cache up to date first, then the actor
        counts the store reachable (publishing if that is news), then reports."""
        if call.done or not self.alive:
            return
        call.done = True
        self.proof_pending = True
        resumed = call.then(answer)
        self._prove()
        if PUBLISH_OWN_WRITES and self.view() is not self.published:
            # a write of our own: the watch says nothing
            self._publish()
        if resumed is not False:
            self._resume()

    def _prove(self) -> None:
        if self.proof_pending:
            self.proof_pending = False
            self._set_reachable(True)

    def _timeout(self, call: Call) -> None:
        if call.done or not self.alive:
            return
        call.done = True
        self._set_reachable(False)
        if call.then(FAILED) is not False:
            self._resume()

    def _set_reachable(self, reachable: bool) -> None:
        if reachable == self.reachable:
            return
        self.reachable = reachable
        self.detail = "" if reachable else UNREACHABLE_DETAIL
        if not reachable and not self.retry_armed:
            self.retry_armed = True
            self.node.act(self._retry_tick, delay=RETRY_EVERY_S)
        self._publish()

    def _retry_tick(self) -> None:
        self.retry_armed = False
        self.enqueue(_Retry())

    # -- the watch and the cache -------------------------------------------------------------

    def on_store_change(self) -> None:
        """The store changed: the watch delivers it a little later, if the link lets it."""
        if self.watch_pending or not self.alive:
            return
        net = self.world.net
        if not net.dcs_up(self.name):
            return
        self.watch_pending = True
        loop = self.world.loop
        loop.at(loop.t + net.watch_latency(self.name), self._watch_arrives)

    def _watch_arrives(self) -> None:
        self.watch_pending = False
        if not self.node.up or not self.world.net.dcs_up(self.name):
            return  # resumes when the link heals (World.dcs_link_healed)
        store = self.world.store
        node = self.node
        if node.agent_runs and self.alive:  # the watch thread reads it now (one hop saved)
            self._watch_apply(dict(store.keys), dict(store.gone))
        else:
            node.act(self._watch_apply, dict(store.keys), dict(store.gone))

    def _watch_apply(self, keys: dict[str, Rec], gone: dict[str, int]) -> None:
        if self.alive and self._apply(keys, gone) and not self.change_pending:
            self.change_pending = True
            self.enqueue(_CHANGED)

    def _apply(self, keys: dict[str, Rec], gone: dict[str, int]) -> bool:
        changed = False
        known = self.known
        for key, rec in keys.items():
            if rec.version > known.get(key, 0):
                self._set(key, rec)
                changed = True
        for key, rev in gone.items():
            if rev > known.get(key, 0) and key not in keys:
                self._drop(key, rev)
                changed = True
        return changed

    def _set(self, key: str, rec: Rec) -> None:
        # newer versions only, as the real cache: a write's answer can arrive after the
        # watch brought a later change (a slow link), and must not set the key back
        if rec.version <= self.known.get(key, 0):
            return
        self.known[key] = rec.version
        self._view = None
        if key.startswith(MEMBERS):
            self._members = None
        if key == LEADER:
            value: LeaderValue = rec.value  # type: ignore[assignment]
            self.cache.apply(LEADER, Entry(value.raw, rec.version, rec.lease), rec.version)
            self.seen_leader = StatusValue(value.name, value.optime, False)
            self.leader_seen = Seen(rec.version, self.node.clock.now(), value.name, value.ttl)
        else:
            self.records[key] = rec

    def _drop(self, key: str, rev: int) -> None:
        if rev <= self.known.get(key, 0):
            return
        self.known[key] = rev
        self._view = None
        if key.startswith(MEMBERS):
            self._members = None
        if key == LEADER:
            self.cache.apply(LEADER, None, rev)
            self.leader_seen = None
        else:
            self.records.pop(key, None)

    def _read_back(self, key: str, rec: Rec | None, rev: int) -> None:
        """A lost compare brings the cache up to date, as the backends' failure branch does."""
        if rec is not None:
            if rec.version > self.known.get(key, 0):
                self._set(key, rec)
        elif rev > self.known.get(key, 0):
            self._drop(key, rev)

    # -- the view ------------------------------------------------------------------------

    def view(self) -> ClusterView:
        if self._view is None:
            self._view = view = self._build_view()
            meta = self.view_meta
            if len(meta) > 16:
                meta.clear()
            meta[id(view)] = (view, self.leader_seen)
        return self._view

    def _build_view(self) -> ClusterView:
        _, leader = self.cache.leader()
        status = self.records.get(STATUS)
        last = _last_leader(status.value if status is not None else None, leader, self.seen_leader)
        members = self._members
        if members is None:
            self._members = members = tuple(
                rec.value for key, rec in sorted(self.records.items()) if key.startswith(MEMBERS)
            )
        return ClusterView(
            initialize=self._value(INITIALIZE),
            config=self._value(CONFIG),
            leader=leader,
            last_leader_optime=Lsn(last.optime if last else 0),
            last_leader_name=MemberName(last.name) if last else None,
            last_leader_clean=bool(last and last.clean),
            **_where(last),
            members=members,  # type: ignore[arg-type]
            sync=self._value(SYNC) or _NO_SYNC,
            failover=self._value(FAILOVER),
            history=self._value(HISTORY) or (),
        )

    def _value(self, key: str) -> Any:
        rec = self.records.get(key)
        return None if rec is None else rec.value

    def _publish(self) -> None:
        self._prove()
        self.published = self.view()
        view = DcsView(view=self.published, reachable=self.reachable, detail=self.detail)
        self.node.publish(names.DCS_VIEW, view)

    # -- etcd's session lease ------------------------------------------------------------

    def _session(self) -> tuple[float, bool]:
        """(When the refresh this write rides on started, whether it must reach the server):
        etcd_session's rule, a keepalive only when less than ttl and the margin is left."""
        now = self.node.clock.now()
        wanted = etcd_session.lease_ttl(self.ttl)
        same = self.session_id and self.session_ttl == wanted
        if not self.world.store.server_leases:
            return now, False
        return now, not same or etcd_session.keepalive_needed(
            self.session_at, wanted, now, self.ttl
        )

    def _server_lease(self, store: Store, refresh: bool) -> int:
        """At the server: keep the session alive (or grant a new one); the lease to bind to."""
        if not store.server_leases:
            return 0
        wanted = etcd_session.lease_ttl(self.ttl)
        same = self.session_id and self.session_ttl == wanted
        if same and (not refresh or store.keepalive(self.session_id)):
            return self.session_id
        return store.grant(wanted)

    def _session_done(self, lease_id: int, started: float, refreshed: bool) -> None:
        if lease_id and (refreshed or lease_id != self.session_id):
            self.session_id, self.session_ttl, self.session_at = (
                lease_id,
                etcd_session.lease_ttl(self.ttl),
                started,
            )

    # -- lock operations -------------------------------------------------------------------

    def _lock_op(
        self, op: LockOp, ttl_s: float, body: Callable[[Callable[[bool], None]], bool]
    ) -> bool:
        started = self.node.clock.now()

        def done(ok: bool) -> None:
            self._prove()
            at = started
            if ok and op in (LockOp.ACQUIRE, LockOp.RENEW):
                at = self.last_renew_started_at or started
            result = LockResult(op=op, ok=ok, started_at=at, detail=self.detail, ttl_s=ttl_s)
            self.node.to_ha(result)
            self._publish()

        return body(done)

    def _adopt(self, ttl_s: float, retry_s: float) -> None:
        """Dcs.adopt_timing: the HA core's timing becomes the handle's (not before the fix:
        the backend kept its bootstrap ttl and retry budget)."""
        if WRITE_MSG_TTL:
            self.ttl, self.retry = ttl_s, retry_s

    def _written_ttl(self, ttl_s: float) -> float:
        return ttl_s if WRITE_MSG_TTL else self.bootstrap_ttl

    # -- the leader key ----------------------------------------------------------------

    def _on_acquire(self, msg: AcquireLock) -> bool:
        self._adopt(msg.ttl_s, msg.retry_timeout_s)
        return self._lock_op(
            LockOp.ACQUIRE, msg.ttl_s, lambda done: self._acquire(msg.optime, msg.ttl_s, done)
        )

    def _acquire(self, optime: int, ttl_s: float, done: Callable[[bool], None]) -> bool:
        entry, record = self.cache.leader()
        live = record is not None and not lease.lease_expired(record, self.node.clock.now())
        self.world.checks.backend_judged(self.node, self.leader_seen, live)
        if live and record is not None:
            if record.name == self.name:
                return self._renew(optime, ttl_s, done, tries=2)
            done(False)  # a live lock, plainly someone else's: no request
            return True
        expected = 0 if entry is None else entry.version
        started, refresh = self._session()
        same = record is not None and record.name == self.name
        transitions = self.cache.max_transitions + (0 if same else 1)
        update, ttl = self._update(optime, ttl_s)
        raw = records.acquired_leader_value(MemberName(self.name), transitions, update)
        value = LeaderValue(raw, self.name, ttl, optime)
        return self._write_leader(expected, value, (started, refresh), done, tries=0)

    def _on_renew(self, msg: RenewLock) -> bool:
        self._adopt(msg.ttl_s, msg.retry_timeout_s)
        return self._lock_op(
            LockOp.RENEW, msg.ttl_s, lambda done: self._renew(msg.optime, msg.ttl_s, done, 2)
        )

    def _renew(self, optime: int, ttl_s: float, done: Callable[[bool], None], tries: int) -> bool:
        entry, record = self.cache.leader()
        if entry is None or record is None or record.name != self.name:
            done(False)  # the cache shows the lock gone or someone else's: no request
            return True
        started, refresh = self._session()
        update, ttl = self._update(optime, ttl_s)
        raw = records.renewed_leader_value(records.parse_leader_fields(entry.raw), update)
        value = LeaderValue(raw, self.name, ttl, optime)
        return self._write_leader(entry.version, value, (started, refresh), done, tries)

    def _update(self, optime: int, ttl_s: float) -> tuple[records.LeaderUpdate, float]:
        ttl = self._written_ttl(ttl_s)
        wall = self.node.clock.wall()
        update = records.LeaderUpdate(
            optime=Lsn(optime), ttl_s=ttl, now_epoch_s=wall, conn=(self.name, 5432)
        )
        return update, ttl

    def _write_leader(
        self,
        expected: int,
        value: LeaderValue,
        session: tuple[float, bool],
        done: Callable[[bool], None],
        tries: int,
    ) -> bool:
        started, refresh = session
        status = StatusValue(value.name, value.optime, False, self.name)
        node = self.node

        def apply(store: Store) -> Any:
            lease_id = self._server_lease(store, refresh)
            puts = {LEADER: (value, lease_id), STATUS: (status, 0)}
            if tries == 0 and store.version(LEADER) == expected:
                self.world.checks.lock_taken(node, value, store)
                self.world.faults.lock_taken(node)
            rev = store.cas(LEADER, expected, puts)
            return rev, lease_id, store.get(LEADER), store.gone.get(LEADER, 0)

        def then(answer: Any) -> Any:
            if answer is FAILED:
                return done(False)
            rev, lease_id, current, gone = answer
            self._session_done(lease_id, started, refresh)
            if rev is not None:
                self._set(LEADER, Rec(rev, value, lease_id))
                self._set(STATUS, Rec(rev, status))
                self.last_renew_started_at = started
                self.written = (started, value.ttl)
                return done(True)
            self._read_back(LEADER, current, gone)
            if tries > 1 and current is not None and current.value.name == self.name:
                return self._renew(value.optime, value.ttl, done, tries - 1)
            return done(False)

        return self._call(apply, then)

    def _on_release(self, msg: ReleaseLock) -> bool:
        return self._lock_op(
            LockOp.RELEASE, 0.0, lambda done: self._release(msg.optime, msg.clean, done, 2)
        )

    def _release(
        self, optime: int | None, clean: bool, done: Callable[[bool], None], tries: int
    ) -> bool:
        entry, record = self.cache.leader()
        if entry is None or record is None or record.name != self.name:
            done(False)
            return True
        last = self.view().last_leader_optime if optime is None else optime
        status = StatusValue(self.name, last, clean, self.name)

        def apply(store: Store) -> Any:
            rev = store.cas(LEADER, entry.version, {STATUS: (status, 0)}, (LEADER,))
            return rev, store.get(LEADER), store.gone.get(LEADER, 0)

        def then(answer: Any) -> Any:
            if answer is FAILED:
                return done(False)
            rev, current, gone = answer
            if rev is not None:
                self._drop(LEADER, rev)
                self._set(STATUS, Rec(rev, status))
                self.last_renew_started_at = None
                return done(True)
            self._read_back(LEADER, current, gone)
            if tries > 1 and current is not None and current.value.name == self.name:
                return self._release(optime, clean, done, tries - 1)
            return done(False)

        return self._call(apply, then)

    # -- initialisation ---------------------------------------------------------------------

    def _on_claim(self, msg: ClaimInitialize) -> bool:
        def body(done: Callable[[bool], None]) -> bool:
            def apply(store: Store) -> Any:
                rev = store.cas(INITIALIZE, 0, {INITIALIZE: ("", 0)})
                return rev, store.get(INITIALIZE)

            def then(answer: Any) -> Any:
                if answer is FAILED:
                    return done(False)
                rev, current = answer
                if rev is not None:
                    self._set(INITIALIZE, Rec(rev, ""))
                elif current is not None:
                    self._read_back(INITIALIZE, current, 0)
                return done(rev is not None)

            return self._call(apply, then)

        return self._lock_op(LockOp.CLAIM_INIT, 0.0, body)

    def _on_cancel(self, msg: CancelInitialize) -> bool:
        def body(done: Callable[[bool], None]) -> bool:
            def then(answer: Any) -> Any:
                if answer is not FAILED:
                    self._drop(INITIALIZE, answer)
                return done(answer is not FAILED)

            return self._call(lambda store: store.write({}, (INITIALIZE,)), then)

        return self._lock_op(LockOp.CANCEL_INIT, 0.0, body)

    def _put(self, key: str, value: object, lease_id: int = 0) -> bool:
        def then(answer: Any) -> None:
            if answer is not FAILED:
                self._set(key, Rec(answer, value, lease_id))

        return self._call(lambda store: store.write({key: (value, lease_id)}), then)

    def _delete(self, key: str) -> bool:
        def then(answer: Any) -> None:
            if answer is not FAILED:
                self._drop(key, answer)

        return self._call(lambda store: store.write({}, (key,)), then)

    def _on_initialized(self, msg: SetInitialized) -> bool:
        return self._put(INITIALIZE, msg.system_identifier)

    def _on_bootstrap_config(self, msg: SetBootstrapConfig) -> bool:
        if self.view().config is not None:
            return True

        def then(answer: Any) -> None:
            if answer is not FAILED and answer[0] is not None:
                self._set(CONFIG, Rec(answer[0], msg.config))

        def apply(store: Store) -> Any:
            return store.cas(CONFIG, 0, {CONFIG: (msg.config, 0)}), None

        return self._call(apply, then)

    # -- other records ---------------------------------------------------------------------

    def _on_touch(self, msg: TouchMember) -> bool:
        if msg.ttl_s > 0 and msg.retry_timeout_s > 0:
            self._adopt(msg.ttl_s, msg.retry_timeout_s)  # a replica's timing follows the config
        key = MEMBERS + self.name
        started, refresh = self._session()
        cached = self.records.get(key)
        leases = self.world.store.server_leases
        if (
            not refresh
            and cached is not None
            and cached.value == msg.status
            and (not leases or cached.lease == self.session_id)
        ):
            return True  # answered from the cache: proves nothing about the store
        status: MemberStatus = msg.status

        def apply(store: Store) -> Any:
            lease_id = self._server_lease(store, refresh)
            return store.write({key: (status, lease_id)}), lease_id

        def then(answer: Any) -> None:
            if answer is not FAILED:
                rev, lease_id = answer
                self._session_done(lease_id, started, refresh)
                self._set(key, Rec(rev, status, lease_id))

        return self._call(apply, then)

    def _on_history(self, msg: SetHistory) -> bool:
        return self._put(HISTORY, msg.entries)

    def _on_set_failover(self, msg: SetFailover) -> bool:
        return self._put(FAILOVER, msg.request)

    def _on_clear_failover(self, msg: ClearFailover) -> bool:
        return self._delete(FAILOVER)

    def _on_set_config(self, msg: SetConfig) -> bool:
        rec = self.records.get(CONFIG)
        if msg.expected is not None and (rec is None or rec.value != msg.expected):
            return True
        version = 0 if rec is None else rec.version
        return self._call(
            lambda store: store.cas(CONFIG, version, {CONFIG: (msg.config, 0)}), _ignore
        )

    def _on_sync(self, msg: WriteSyncState | DeleteSyncState) -> bool:
        rec = self.records.get(SYNC)
        before = _NO_SYNC if rec is None else rec.value
        if before != msg.expected:
            self._sync_answer(msg, WriteOutcome.REJECTED)
            return True
        version = 0 if rec is None else rec.version
        state = msg.state if isinstance(msg, WriteSyncState) else None
        node = self.node

        def apply(store: Store) -> Any:
            if state is None:
                rev = store.cas(SYNC, version, {}, (SYNC,))
            else:
                rev = store.cas(SYNC, version, {SYNC: (state, 0)})
            if rev is not None:
                self.world.checks.sync_written(node, state)
            return rev, store.get(SYNC), store.gone.get(SYNC, 0)

        def then(answer: Any) -> None:
            if answer is FAILED:
                return self._sync_answer(msg, WriteOutcome.UNKNOWN)
            rev, current, gone = answer
            if rev is None:
                self._read_back(SYNC, current, gone)
                return self._sync_answer(msg, WriteOutcome.REJECTED)
            if state is None:
                self._drop(SYNC, rev)
            else:
                self._set(SYNC, Rec(rev, state))
            return self._sync_answer(msg, WriteOutcome.APPLIED)

        return self._call(apply, then)

    def _sync_answer(self, msg: WriteSyncState | DeleteSyncState, outcome: WriteOutcome) -> None:
        self._prove()
        view = self.view()
        self.node.publish(
            names.DCS_VIEW, DcsView(view=view, reachable=self.reachable, detail=self.detail)
        )
        reply = SyncStateWritten(
            request_id=msg.request_id, outcome=outcome, current=view.sync, detail=self.detail
        )
        self.node.to_sync(reply)

    def _on_resend(self, msg: Resend) -> bool:
        self._publish()
        return True

    def _on_retry(self, msg: _Retry) -> bool:
        """A full read: the first one at start, then every second while unreachable."""

        def then(answer: Any) -> None:
            if answer is not FAILED:
                self._apply(*answer)
            elif not self.retry_armed:
                self.retry_armed = True
                self.node.act(self._retry_tick, delay=RETRY_EVERY_S)
            self._publish()

        return self._call(lambda store: (dict(store.keys), dict(store.gone)), then)


class _Retry:
    """The actor's own retry tick (a full read)."""


_NO_SYNC = SyncState()


def _ignore(answer: Any) -> None:
    return None


_KEEPS_CONN = "last_leader_host" in ClusterView.__dataclass_fields__
"""The view carries where the last leader listened (afe765a; absent on older code)."""


def _where(last: StatusValue | None) -> dict[str, Any]:
    if not _KEEPS_CONN or last is None or not last.host:
        return {}
    return {"last_leader_host": last.host, "last_leader_port": 5432}


def _last_leader(
    status: StatusValue | None, leader: LeaderRecord | None, seen: StatusValue | None
) -> StatusValue | None:
    """What a view reports as the last leader (the contract's versioned_snapshot)."""
    if not STATUS_IN_STORE:
        return seen  # the process's memory: gone at a restart, never clean
    if leader is None:
        return status
    optime = max(leader.optime, status.optime if status is not None else 0)
    host = status.host if status is not None and status.name == leader.name else ""
    return StatusValue(leader.name, optime, False, host)


_HANDLERS: dict[type, Callable[[LockActor, Any], bool]] = {
    AcquireLock: LockActor._on_acquire,
    RenewLock: LockActor._on_renew,
    ReleaseLock: LockActor._on_release,
    ClaimInitialize: LockActor._on_claim,
    CancelInitialize: LockActor._on_cancel,
    SetInitialized: LockActor._on_initialized,
    SetBootstrapConfig: LockActor._on_bootstrap_config,
    TouchMember: LockActor._on_touch,
    SetHistory: LockActor._on_history,
    SetFailover: LockActor._on_set_failover,
    ClearFailover: LockActor._on_clear_failover,
    SetConfig: LockActor._on_set_config,
    WriteSyncState: LockActor._on_sync,
    DeleteSyncState: LockActor._on_sync,
    Resend: LockActor._on_resend,
    _Retry: LockActor._on_retry,
}
