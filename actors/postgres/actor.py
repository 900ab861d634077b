"""PostmasterActor and BootstrapActor: thin shells over the PostgreSQL control code.

PostmasterActor owns the running server: start, stop, promote, follow,
reload, and a health watch (a cheap liveness check every 250 ms, so a killed
postmaster is reported within a second, and a full status query every
second).  BootstrapActor owns the data directory's creation and repair
(initdb, base backup, rewind); its long jobs run in a worker thread so a
CancelWork message is heard while a base backup runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from actors.postgres import bootstrap as pgboot
from actors.postgres.callbacks import CallbackAction, CallbackRunner, callback_for
from actors.postgres.control import Postmaster
from actors.postgres.replica import create_replica
from actors.postgres.result import Result
from actors.postgres.rewind import rewind
from actors.runtime.actor import BaseActor, handles
from actors.runtime.registry import Registry
from actors.runtime.timers import Scheduler, Timers
from messages.base import ActorName
from messages.cluster import PgState, Role
from messages.config import PostgresSettings, StopMode
from messages.dcs import ReleaseLock
from messages.ha import ActionDone, ActionKind
from messages.metrics import Sample, Samples
from messages.postgres import (
    Bootstrap,
    CancelWork,
    CreateReplica,
    Follow,
    PostgresStatus,
    Promote,
    Reinitialize,
    ReloadPostgres,
    RestartPostgres,
    Rewind,
    SetSynchronousStandbyNames,
    StartPostgres,
    StopPostgres,
)
from messages.runtime import ChildExit, Resend, Tick

# A killed postmaster is seen within ALIVE_INTERVAL_S (a /proc read, ~0.2 ms); the full
# status (two queries) runs less often: idle CPU is a target, and WAL positions only
# need to be as fresh as the HA loop that reads them.
ALIVE_INTERVAL_S = 0.5
STATUS_INTERVAL_S = 5.0
# After a standby connects or leaves, and after every action, the full status runs
# on each liveness tick for a while: the synchronous-replication rules act on
# pg_stat_replication, and commits may wait on a standby that is gone until they do.
BURST_S = 3.0


class PostmasterActor(BaseActor):
    def __init__(  # noqa: PLR0913 - dependencies, all keyword-only
        self,
        *,
        name: ActorName,
        registry: Registry,
        on_exit: Callable[[ChildExit], None] | None = None,
        settings: PostgresSettings,
        member: str,
        scope: str,
        scheduler: Scheduler,
        dynamic_parameters: Mapping[str, str] | None = None,
        ha_actor: ActorName = ActorName("ha"),
        leader_lock: ActorName = ActorName("leader_lock"),
        metrics_actor: ActorName = ActorName("metrics"),
        status_interval_s: float = STATUS_INTERVAL_S,
    ) -> None:
        super().__init__(name=name, registry=registry, on_exit=on_exit)
        self.settings = settings
        self.leader_lock = leader_lock
        self.callbacks = CallbackRunner(settings.callbacks, scope)
        self.metrics_actor = metrics_actor
        self.pm = Postmaster(
            settings, name=member, scope=scope, dynamic_parameters=dynamic_parameters or {}
        )
        self.timers = Timers(scheduler, registry, name)
        self.ha_actor = ha_actor
        self.alive: bool | None = None
        self.last_status: PostgresStatus | None = None
        self.last_full = 0.0
        self.status_interval_s = status_interval_s
        self.walsenders: frozenset[int] = frozenset()
        self.burst_until = 0.0

    def started(self) -> None:
        """Actor thread: report at once, then watch."""
        self.timers.every("alive", ALIVE_INTERVAL_S, Tick(timer="alive"))
        self._report()

    def on_stop(self) -> None:
        """Actor thread, clean node shutdown only: PostgreSQL stops with its agent."""
        if self.pm.is_alive():
            self.log.info("stopping PostgreSQL with the node")
            result = self.pm.stop(
                StopMode.FAST, checkpoint_first=False, timeout_s=self.settings.pg_ctl_timeout_s
            )
            if result.ok and not self.pm.is_alive():
                # Nothing takes writes here any more: hand the lock over now rather than
                # make the others wait out its ttl.  The lock actor stops after us, so
                # this reaches it; it releases only a lock that still names us.
                self.send(self.leader_lock, ReleaseLock())
        super().on_stop()

    def stopping(self) -> None:
        self.timers.cancel_all()
        self.pm.close()

    @handles(Tick)
    def handle_tick(self, msg: Tick) -> None:
        pid = self.pm.postmaster_pid()
        alive = pid is not None
        now = time.monotonic()
        if pid is not None and self._leads():
            senders = self.pm.walsenders(pid)
            if senders != self.walsenders:
                self.walsenders = senders
                self.burst_until = now + BURST_S
        due = now - self.last_full >= self.status_interval_s or now < self.burst_until
        if alive != self.alive or due:
            self._report()

    def _leads(self) -> bool:
        return self.last_status is not None and self.last_status.role is Role.PRIMARY

    @handles(Resend)
    def handle_resend(self, msg: Resend) -> None:
        self.last_status = None
        self._report()

    def _report(self) -> None:
        status = self.pm.status()
        self.alive = status.state not in (PgState.STOPPED, PgState.CRASHED, PgState.UNINITIALIZED)
        self.last_full = time.monotonic()
        if status != self.last_status:
            self.log.debug(
                "status changed: %s %s from %s",
                status.state.value,
                status.role.value,
                status.streaming_from,
            )
            self.last_status = status
            self.send(self.ha_actor, status)

    def _done(self, kind: ActionKind, action: Callable[[], Result]) -> None:
        """Run one action, report the status and the outcome, and how long it took."""
        started = time.monotonic()
        before = self.last_status.role if self.last_status is not None else Role.UNKNOWN
        result = action()
        took = Sample(
            name="pgactor_postgres_action_duration_seconds",
            value=time.monotonic() - started,
            labels=(("action", kind.value), ("outcome", "ok" if result.ok else "failed")),
        )
        self.send(self.metrics_actor, Samples(items=(took,)))
        self.burst_until = time.monotonic() + BURST_S
        self._report()
        self.send(self.ha_actor, ActionDone(kind=kind, ok=result.ok, detail=result.detail))
        if result.ok:
            self._callback(kind, before)

    def _callback(self, kind: ActionKind, before: Role) -> None:
        after = self.last_status.role if self.last_status is not None else Role.UNKNOWN
        callback = callback_for(kind, before, after)
        if callback is not None:  # runs in its own thread, killed past its timeout
            self.callbacks.run(callback, after if after is not Role.UNKNOWN else before)

    @handles(StartPostgres)
    def handle_start(self, msg: StartPostgres) -> None:
        self._done(ActionKind.START, lambda: self.pm.start(msg.role, msg.upstream, msg.timeout_s))

    @handles(StopPostgres)
    def handle_stop(self, msg: StopPostgres) -> None:
        self._done(
            ActionKind.STOP,
            lambda: self.pm.stop(
                msg.mode, checkpoint_first=msg.checkpoint_first, timeout_s=msg.timeout_s
            ),
        )

    @handles(RestartPostgres)
    def handle_restart(self, msg: RestartPostgres) -> None:
        self._done(ActionKind.RESTART, lambda: self.pm.restart(msg.timeout_s))

    @handles(Promote)
    def handle_promote(self, msg: Promote) -> None:
        self._done(ActionKind.PROMOTE, lambda: self.pm.promote(msg.timeout_s))

    @handles(Follow)
    def handle_follow(self, msg: Follow) -> None:
        self._done(ActionKind.FOLLOW, lambda: self.pm.follow(msg.upstream, msg.timeout_s))

    @handles(ReloadPostgres)
    def handle_reload(self, msg: ReloadPostgres) -> None:
        needs_restart = self.pm.reload()
        if needs_restart:
            self.log.info("parameters changed that need a restart: %s", ", ".join(needs_restart))
        self._report()
        role = self.last_status.role if self.last_status is not None else Role.UNKNOWN
        self.callbacks.run(CallbackAction.ON_RELOAD, role)

    @handles(SetSynchronousStandbyNames)
    def handle_sync_names(self, msg: SetSynchronousStandbyNames) -> None:
        self.pm.set_synchronous_standby_names(msg.value)
        self.burst_until = time.monotonic() + BURST_S
        self._report()


class BootstrapActor(BaseActor):
    """Creates and repairs the data directory; one job at a time, in a worker thread."""

    def __init__(  # noqa: PLR0913 - dependencies, all keyword-only
        self,
        *,
        name: ActorName,
        registry: Registry,
        on_exit: Callable[[ChildExit], None] | None = None,
        settings: PostgresSettings,
        member: str,
        scope: str,
        ha_actor: ActorName = ActorName("ha"),
        metrics_actor: ActorName = ActorName("metrics"),
        status_interval_s: float = STATUS_INTERVAL_S,
    ) -> None:
        super().__init__(name=name, registry=registry, on_exit=on_exit)
        self.settings = settings
        self.member = member
        self.scope = scope
        self.ha_actor = ha_actor
        self.metrics_actor = metrics_actor
        self.cancel = threading.Event()
        self.worker: threading.Thread | None = None
        self.running: ActionKind | None = None

    def stopping(self) -> None:
        self.cancel.set()
        if self.worker is not None:
            self.worker.join(timeout=30)

    def _run(self, kind: ActionKind, job: Callable[[Postmaster], Result]) -> None:
        if self.worker is not None and self.worker.is_alive():
            if kind is self.running:
                # Asked again for the job already running (the HA actor restarted and
                # forgot it): that job's own ActionDone answers both requests.
                self.log.info("%s already running", kind.value)
                return
            self.log.warning("%s refused: %s is running", kind.value, self.running)
            self.send(self.ha_actor, ActionDone(kind=kind, ok=False, detail="busy"))
            return
        self.running = kind
        self.cancel.clear()
        self.worker = threading.Thread(
            target=self._work, args=(kind, job), name=f"{self.name}-{kind.value}", daemon=True
        )
        self.worker.start()

    def _work(self, kind: ActionKind, job: Callable[[Postmaster], Result]) -> None:
        """Worker thread: run the job, tell the HA actor how it ended."""
        pm = Postmaster(self.settings, name=self.member, scope=self.scope)
        try:
            result = job(pm)
        except Exception as exc:
            self.log.exception("%s failed", kind.value)
            result = Result.failure(f"{type(exc).__name__}: {exc}")
        finally:
            pm.close()
        done = ActionDone(
            kind=kind,
            ok=result.ok,
            detail=result.detail,
            data_dir_removed=bool(getattr(result, "data_dir_removed", False)),
        )
        self.send(self.ha_actor, done)

    @handles(Bootstrap)
    def handle_bootstrap(self, msg: Bootstrap) -> None:
        self._run(ActionKind.BOOTSTRAP, self._initialize)

    def _initialize(self, pm: Postmaster) -> Result:
        result = pgboot.initdb(self.settings)
        if result.ok:
            result = pm.start(Role.PRIMARY, None, self.settings.pg_ctl_timeout_s)
        if result.ok:
            result = pgboot.post_bootstrap(self.settings, pm)
        if not result.ok:
            self.log.error("bootstrap failed, cancelling initialisation: %s", result.detail)
            pgboot.cancel_initialization(self.settings, pm)
        return result

    @handles(CreateReplica)
    def handle_create_replica(self, msg: CreateReplica) -> None:
        self._run(ActionKind.CREATE_REPLICA, lambda pm: self._clone(msg.sources))

    @handles(Reinitialize)
    def handle_reinitialize(self, msg: Reinitialize) -> None:
        self._run(ActionKind.REINITIALIZE, lambda pm: self._clone(msg.sources))

    def _clone(self, sources: Any) -> Result:
        return create_replica(
            self.settings,
            sources,
            name=self.member,
            scope=self.scope,
            progress=self._progress,
            cancel=self.cancel,
        )

    def _progress(self, done: int, total: int) -> None:
        """Worker thread: a base backup's progress, to the log and the metrics."""
        self.log.debug("base backup: %d of %d bytes", done, total)
        progress = (
            Sample(name="pgactor_basebackup_done_bytes", value=float(done)),
            Sample(name="pgactor_basebackup_total_bytes", value=float(total)),
        )
        self.send(self.metrics_actor, Samples(items=progress))

    @handles(Rewind)
    def handle_rewind(self, msg: Rewind) -> None:
        self._run(ActionKind.REWIND, lambda pm: rewind(self.settings, pm, msg.source))

    @handles(CancelWork)
    def handle_cancel(self, msg: CancelWork) -> None:
        self.cancel.set()
