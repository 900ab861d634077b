"""LeaderLockActor: the one owner of this node's DCS client.

It turns HA commands into compare-and-set calls on the backend and reports
each outcome (LockResult) and every change of the cluster (DcsView).  A DCS
error never kills it: the call's result says it failed, and the view it
publishes says the DCS is unreachable, so the HA core decides what that means.

Timing comes from the HA core: each AcquireLock/RenewLock carries the ttl to
write and the retry budget of that call, the backend writes exactly that ttl,
and the LockResult says which ttl the record carries -- the holder judges its
lease by the very number observers read.

Reachability is what the last real round-trip said.  The DCS is reachable once
a call got an answer from the server (the backend counts them,
``answered_requests``), unreachable once a call raised DcsUnreachable, and a
call answered from the cache (an identical member record) leaves it as it was.
Watch traffic never counts (see the contract).  While unreachable the actor
re-reads everything every second, so a store that came back is noticed even
when nothing else would send a request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Unpack

from actors.leader_lock.contract import Dcs, DcsError, DcsUnreachable
from actors.runtime import names
from actors.runtime.actor import ActorArgs, BaseActor, handles
from messages.base import ActorName
from messages.cluster import ClusterView
from messages.dcs import (
    AcquireLock,
    CancelInitialize,
    ClaimInitialize,
    ClearFailover,
    ConfigOutcome,
    ConfigResult,
    DcsConfig,
    DcsView,
    FailoverResult,
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
from messages.metrics import Sample, Samples
from messages.runtime import Resend, Tick
from messages.sync import DeleteSyncState, SyncStateWritten, WriteOutcome, WriteSyncState

_CHANGED = Tick(timer="dcs-changed")
_RETRY = Tick(timer="dcs-retry")
_RETRY_EVERY_S = 1.0
"""While the DCS is unreachable, a full read this often proves it back."""


class LeaderLockActor(BaseActor):
    def __init__(
        self,
        *,
        backend_factory: Callable[[], Dcs],
        conn: tuple[str, int],
        ha_actor: ActorName = ActorName("ha"),
        metrics_actor: ActorName = ActorName("metrics"),
        **base: Unpack[ActorArgs],
    ) -> None:
        """`backend_factory` must build its backend on this runtime's clock (node/tree.py)."""
        super().__init__(**base)
        self.backend_factory = backend_factory
        self.metrics_actor = metrics_actor
        self.backend: Dcs | None = None
        self.conn = conn
        self.ha_actor = ha_actor
        self.timers = self.runtime.timers(self.name)
        self.reachable = False
        self.detail = ""
        self.change_pending = threading.Event()
        self.published: ClusterView | None = None
        self.config_published = False
        """Whether the DcsConfig topic has heard self.published's config (or a later one)."""

    def started(self) -> None:
        """Actor thread: build the client and start its watch; the first read follows."""
        self.backend = self.backend_factory()
        self.backend.watch(self._changed_from_watch)
        self.tell_self(_RETRY)

    def stopping(self) -> None:
        self.timers.cancel_all()
        if self.backend is not None:
            self.backend.close()

    def _changed_from_watch(self) -> None:
        """Watch thread: coalesce bursts of changes into one message."""
        if not self.change_pending.is_set():
            self.change_pending.set()
            self.tell_self(_CHANGED)

    @property
    def dcs(self) -> Dcs:
        assert self.backend is not None, "used before started()"
        return self.backend

    # -- reads -----------------------------------------------------------------------

    @handles(Tick)
    def handle_tick(self, msg: Tick) -> None:
        if msg.timer == _RETRY.timer:
            self._call(self.dcs.refresh, op="refresh")
            if not self.reachable:
                self.timers.once("retry", _RETRY_EVERY_S, _RETRY)
        self.change_pending.clear()
        self._publish()

    @handles(Resend)
    def handle_resend(self, msg: Resend) -> None:
        self.config_published = False  # whoever asks may be a restarted config subscriber
        self._publish()

    def _publish(self, view: ClusterView | None = None) -> None:
        view = self.dcs.snapshot() if view is None else view
        previous, self.published = self.published, view
        # The config before the view: its subscribers apply parameters before the HA
        # actor, hearing the view, orders a start.  Only on a change: most views are
        # renewals and member records, and the config's readers would wake for nothing.
        if not self.config_published or previous is None or view.config != previous.config:
            self.publish(names.DCS_CONFIG, DcsConfig(config=view.config))
            self.config_published = True
        self.publish(
            names.DCS_VIEW, DcsView(view=view, reachable=self.reachable, detail=self.detail)
        )

    def _write(self, fn: Callable[[], object], op: str) -> object | None:
        """A record write of our own, published if it changed the view.

        The backend keeps its own writes in the cache, so the watch reports
        them as nothing new: unpublished, the HA core would not see a failover
        request it carried itself until something else changed.
        """
        result = self._call(fn, op=op)
        view = self.dcs.snapshot()
        if view != self.published:
            self._publish(view)
        return result

    def _call(self, fn: Callable[[], object], op: str = "other") -> object | None:
        """Run one backend call, tracking reachability and its metrics; None when it failed.

        Only an answer from the server proves the DCS reachable: a call that
        made no request (answered from the cache) changes nothing.
        """
        started = self.runtime.clock()
        answered = self.dcs.answered_requests
        try:
            result = fn()
        except DcsUnreachable as exc:
            self._measure(op, started, failure="unreachable")
            self._set_reachable(False, str(exc))
            return None
        except DcsError as exc:  # a refusal: the server may well have answered it
            self._measure(op, started, failure="error")
            self.log.warning("DCS error: %s", exc)
            self._answered_since(answered)
            return None
        self._measure(op, started)
        self._answered_since(answered)
        return result

    def _answered_since(self, answered: int) -> None:
        if self.dcs.answered_requests > answered:
            self._set_reachable(True, "")

    def _measure(self, op: str, started: float, failure: str | None = None) -> None:
        labels = (("op", op),)
        took = Sample(
            name="pgactor_dcs_request_duration_seconds",
            value=max(0.0, self.runtime.clock() - started),
            labels=labels,
        )
        items = [took]
        if failure is not None:
            kind = (*labels, ("kind", failure))
            items.append(Sample(name="pgactor_dcs_errors_total", value=1.0, labels=kind))
        self.send(self.metrics_actor, Samples(items=tuple(items)))

    def _set_reachable(self, reachable: bool, detail: str) -> None:
        if reachable != self.reachable:
            self.log.warning("DCS %s %s", "reachable" if reachable else "unreachable:", detail)
            self.reachable, self.detail = reachable, detail
            if not reachable:
                self.timers.once("retry", _RETRY_EVERY_S, _RETRY)
            self._publish()

    # -- lock operations ------------------------------------------------------------------

    def _lock_op(self, op: LockOp, fn: Callable[[], bool], ttl_s: float = 0.0) -> None:
        """Run a lock call and report it; ``ttl_s`` is the ttl the call writes (0: none).

        The result carries that ttl whatever the outcome: after a failure
        whose outcome is unknown (unreachable) the record may carry it too.
        """
        started = self.runtime.clock()
        ok = self._call(fn, op=op.value) is True
        if op in (LockOp.ACQUIRE, LockOp.RENEW) and ok:
            started = self.dcs.last_renew_started_at or started
        result = LockResult(op=op, ok=ok, started_at=started, detail=self.detail, ttl_s=ttl_s)
        self.send(self.ha_actor, result)
        self._publish()

    @handles(AcquireLock)
    def handle_acquire(self, msg: AcquireLock) -> None:
        def acquire() -> bool:
            return self.dcs.attempt_to_acquire_leader(
                msg.optime, self.conn, ttl_s=msg.ttl_s, retry_timeout_s=msg.retry_timeout_s
            )

        self._lock_op(LockOp.ACQUIRE, acquire, msg.ttl_s)

    @handles(RenewLock)
    def handle_renew(self, msg: RenewLock) -> None:
        def renew() -> bool:
            return self.dcs.update_leader(
                msg.optime,
                msg.slots,
                self.conn,
                ttl_s=msg.ttl_s,
                retry_timeout_s=msg.retry_timeout_s,
            )

        self._lock_op(LockOp.RENEW, renew, msg.ttl_s)

    @handles(ReleaseLock)
    def handle_release(self, msg: ReleaseLock) -> None:
        self._lock_op(LockOp.RELEASE, lambda: self.dcs.delete_leader(msg.optime, clean=msg.clean))

    @handles(ClaimInitialize)
    def handle_claim(self, msg: ClaimInitialize) -> None:
        self._lock_op(LockOp.CLAIM_INIT, lambda: self.dcs.initialize(create_new=True))

    @handles(CancelInitialize)
    def handle_cancel(self, msg: CancelInitialize) -> None:
        self._lock_op(LockOp.CANCEL_INIT, self.dcs.cancel_initialization)

    # -- other records ------------------------------------------------------------------------

    @handles(SetHistory)
    def handle_history(self, msg: SetHistory) -> None:
        self._write(lambda: self.dcs.set_history(msg.entries), op="set_history")

    @handles(SetInitialized)
    def handle_initialized(self, msg: SetInitialized) -> None:
        self._write(
            lambda: self.dcs.initialize(msg.system_identifier, create_new=False), op="initialize"
        )

    @handles(SetBootstrapConfig)
    def handle_bootstrap_config(self, msg: SetBootstrapConfig) -> None:
        if self.dcs.snapshot().config is None:
            self._write(
                lambda: self.dcs.set_config(msg.config, only_if_version=None), op="set_config"
            )

    def _unstored(self) -> tuple[ConfigOutcome, str]:
        """A write that raised: refused (nothing changed) or unanswered (it may land)."""
        if not self.reachable:  # etcd applies a buffered request when it thaws
            return ConfigOutcome.UNKNOWN, (
                f"the DCS did not answer ({self.detail}): the change may still take "
                "effect; read it back (show-config, list) before acting on it"
            )
        return ConfigOutcome.FAILED, "the DCS refused the write"

    @handles(SetFailover)
    def handle_set_failover(self, msg: SetFailover) -> None:
        stored = self._write(lambda: self.dcs.set_failover(msg.request), op="set_failover")
        if msg.reply_to is None:
            return
        outcome, detail = (ConfigOutcome.STORED, "") if stored is True else self._unstored()
        result = FailoverResult(request_id=msg.request_id, outcome=outcome, detail=detail)
        self.send(msg.reply_to, result)

    @handles(ClearFailover)
    def handle_clear_failover(self, msg: ClearFailover) -> None:
        self._write(self.dcs.delete_failover, op="delete_failover")

    @handles(TouchMember)
    def handle_touch(self, msg: TouchMember) -> None:
        if msg.ttl_s > 0 and msg.retry_timeout_s > 0:
            try:  # a replica's record and retry budget follow the live config too
                self.dcs.adopt_timing(msg.ttl_s, msg.retry_timeout_s)
            except DcsError as exc:
                self.log.warning("touch with unusable timing: %s", exc)
                return
        self._write(lambda: self.dcs.touch_member(msg.status), op="touch_member")

    @handles(SetConfig)
    def handle_set_config(self, msg: SetConfig) -> None:
        """An operator's config edit, compare-and-set; the outcome goes to `msg.reply_to`."""
        before = self.dcs.versioned_snapshot()
        outcome, detail = ConfigOutcome.CONFLICT, "the config changed meanwhile; read it again"
        if msg.expected is None or before.view.config == msg.expected:
            version, config = before.config_version, msg.config
            stored = self._call(
                lambda: self.dcs.set_config(config, only_if_version=version), op="set_config"
            )
            if stored is True:
                outcome, detail = ConfigOutcome.STORED, ""
            elif stored is None:
                outcome, detail = self._unstored()
        self._publish()
        if msg.reply_to is not None:
            now = msg.config if outcome is ConfigOutcome.STORED else self.dcs.snapshot().config
            result = ConfigResult(
                request_id=msg.request_id, outcome=outcome, config=now, detail=detail
            )
            self.send(msg.reply_to, result)

    @handles(WriteSyncState, DeleteSyncState)
    def handle_sync_state(self, msg: WriteSyncState | DeleteSyncState) -> None:
        """Compare-and-set the sync key on `msg.expected`; always answer `msg.reply_to`."""
        before = self.dcs.versioned_snapshot()
        outcome = WriteOutcome.REJECTED
        if before.view.sync == msg.expected:
            version = before.sync_version
            if isinstance(msg, WriteSyncState):
                state = msg.state
                result = self._call(lambda: self.dcs.set_sync_state(state, only_if_version=version))
            else:
                result = self._call(lambda: self.dcs.delete_sync_state(only_if_version=version))
            if result is None:  # unreachable or an error: it may have landed
                outcome = WriteOutcome.UNKNOWN
            elif result is True:
                outcome = WriteOutcome.APPLIED
        view = self.dcs.snapshot()  # one snapshot for both, so the reply and the view agree
        self._publish(view)
        reply = SyncStateWritten(
            request_id=msg.request_id, outcome=outcome, current=view.sync, detail=self.detail
        )
        self.send(msg.reply_to, reply)
