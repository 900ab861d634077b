"""PostmasterActor: a thin shell over the PostgreSQL control code (control.py).

It owns the running server: start, stop, promote, follow, restart, reload,
and a health watch (a cheap liveness check every 500 ms, so a killed
postmaster is reported within a second, and a full status every few seconds).

Long actions run in a worker thread, one at a time, so the actor's thread
stays free: liveness ticks and status reports go on during a slow start
(crash recovery can take minutes), and a StopPostgres is heard at once.  A
stop interrupts the action running (its waits end, see interrupt.py), which
is reported at once as failed, "interrupted by a stop", before the stop's own
outcome; any other action meanwhile is answered "busy".  A stop that finds a
stop running either leaves it be (it is as strong) or takes over from it (an
immediate stop over a fast one): either way one ActionDone(STOP) answers
both, so a STOP reported failed always means the server may still run.  The
worker tells the
actor's thread when it is done, and the actor reports status, outcome,
metrics and callbacks from there, as one sequence.

It hears the DCS view for one thing: the cluster's ``postgresql.parameters``,
applied as Patroni does (dynamic.py), never while an action runs.  Asked, it
describes the parameters its server knows (the REST API checks a config edit
against them).

The BootstrapActor (bootstrap_actor.py) owns the data directory's creation
and repair.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Unpack

import pykka

from actors.postgres.bootstrap_actor import BootstrapActor
from actors.postgres.callbacks import CallbackAction, CallbackRunner, callback_for
from actors.postgres.control import Postmaster
from actors.postgres.controldata import STATE, checkpoint_lsn
from actors.postgres.deathwatch import DeathWatch
from actors.postgres.dynamic import ClusterParameters
from actors.postgres.interrupt import INTERRUPTED, Interrupt
from actors.postgres.probe import probe_primary
from actors.postgres.result import Result
from actors.runtime import names
from actors.runtime.actor import ActorArgs, BaseActor, handles
from messages.base import ActorName
from messages.cluster import PgState, Role
from messages.config import PostgresSettings, StopMode, SyncMode
from messages.dcs import DcsConfig, ReleaseLock
from messages.ha import ActionDone, ActionKind
from messages.metrics import Sample, Samples
from messages.postgres import (
    DescribeParameters,
    Follow,
    ParameterCatalogue,
    PostgresStatus,
    PrimaryProbed,
    ProbePrimary,
    Promote,
    ReloadPostgres,
    RestartPostgres,
    SetSynchronousStandbyNames,
    StartPostgres,
    StopPostgres,
    Upstream,
)
from messages.runtime import Resend, Tick

__all__ = ["BootstrapActor", "PostmasterActor"]

# A killed postmaster is seen at once through its pidfd (deathwatch.py), or within
# ALIVE_INTERVAL_S where there is none (a /proc read, ~0.2 ms).  The primary also
# checks its WAL senders that often (see BURST_S).  The full status (two queries)
# runs every STATUS_INTERVAL_S: idle CPU is a target, and WAL positions only need
# to be as fresh as the HA loop that reads them.
ALIVE_INTERVAL_S = 0.5
STATUS_INTERVAL_S = 5.0
# After a standby connects or leaves, and after every action, the full status runs
# on each liveness tick for a while: the synchronous-replication rules act on
# pg_stat_replication, and commits may wait on a standby that is gone until they do.
BURST_S = 3.0
_ALIVE = Tick(timer="alive")
_DIED = Tick(timer="died")
_DUE_SLACK = 0.9
"""A full status is due a little early: the ticks that bring it keep their own pace."""
_ACTION_ENDED = Tick(timer="action-ended")
_STRENGTH = {StopMode.SMART: 0, StopMode.FAST: 1, StopMode.IMMEDIATE: 2}
_CLEAN_PRIMARY_STATE = "shut down"
_CLEAN_REPLICA_STATE = "shut down in recovery"
"""pg_controldata's state after a primary's clean shutdown (a replica's says "in recovery")."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Job:
    """The action the worker thread runs."""

    seq: int
    kind: ActionKind
    interrupt: Interrupt
    started: float
    before: Role
    stop_mode: StopMode | None = None


class PostmasterActor(BaseActor):
    def __init__(  # noqa: PLR0913 - dependencies, all keyword-only
        self,
        *,
        settings: PostgresSettings,
        member: str,
        scope: str,
        dynamic_parameters: Mapping[str, str] | None = None,
        ha_actor: ActorName = ActorName("ha"),
        leader_lock: ActorName = ActorName("leader_lock"),
        metrics_actor: ActorName = ActorName("metrics"),
        status_interval_s: float = STATUS_INTERVAL_S,
        **base: Unpack[ActorArgs],
    ) -> None:
        super().__init__(**base)
        self.settings = settings
        self.leader_lock = leader_lock
        self.callbacks = CallbackRunner(settings.callbacks, scope)
        self.metrics_actor = metrics_actor
        self.pm = Postmaster(
            settings, name=member, scope=scope, dynamic_parameters=dynamic_parameters or {}
        )
        self.timers = self.runtime.timers(self.name)
        self.ha_actor = ha_actor
        self.alive: bool | None = None
        self.last_status: PostgresStatus | None = None
        self.last_full = 0.0
        self.status_interval_s = status_interval_s
        self.walsenders: frozenset[int] = frozenset()
        self.burst_until = 0.0
        self.pace: float | None = None
        self.senders_matter = True
        """Synchronous mode is on (or unknown yet): a standby's WAL sender coming or
        going must reach the sync rules at once, so the primary watches them closely."""
        self.deathwatch = DeathWatch(self._died, f"{self.name}-death")
        self.job: _Job | None = None
        self.jobs = itertools.count(1)
        self.ended: queue.SimpleQueue[tuple[int, Result]] = queue.SimpleQueue()
        self.probing: set[Upstream] = set()
        self.probing_lock = threading.Lock()
        self.parameters = ClusterParameters(self.pm)

    def started(self) -> None:
        """Actor thread: report at once, then watch; ask for the config sent before us."""
        self.send(self.leader_lock, Resend())
        self._report()
        self._pace_ticks(self.pm.postmaster_pid())

    def on_stop(self) -> None:
        """Actor thread, clean node shutdown only: PostgreSQL stops with its agent."""
        if self.job is not None:  # the node goes down: nobody waits for that answer
            self.job.interrupt.fire()
            self.job = None
        if self.pm.is_alive():
            self.log.info("stopping PostgreSQL with the node")
            was_primary = self._role() is Role.PRIMARY
            result = self.pm.stop(
                StopMode.FAST, checkpoint_first=False, timeout_s=self.settings.pg_ctl_timeout_s
            )
            if result.ok and not self.pm.is_alive():
                # Nothing takes writes here any more: hand the lock over now rather than
                # make the others wait out its ttl.  The lock actor stops after us, so
                # this reaches it; it releases only a lock that still names us.
                self.send(self.leader_lock, self._release(was_primary=was_primary))
        super().on_stop()

    def _release(self, *, was_primary: bool) -> ReleaseLock:
        """A clean stop hands over cleanly (the leader-lock actor releases only a lock
        that names us).  A primary: its shutdown checkpoint is its final position,
        nothing after it was written, no successor may be behind it.  A replica (it
        took the lock and had not promoted yet) wrote nothing: the position it
        published when it took the lock stands, and the stop is no failure either."""
        control = self.pm.controldata()
        if was_primary and control.get(STATE) == _CLEAN_PRIMARY_STATE:
            return ReleaseLock(optime=checkpoint_lsn(control), clean=True)
        if not was_primary and control.get(STATE) == _CLEAN_REPLICA_STATE:
            return ReleaseLock(clean=True)
        return ReleaseLock()

    def stopping(self) -> None:
        """Actor thread: after a clean stop or a failure; a running action is abandoned."""
        self.timers.cancel_all()
        self.deathwatch.close()
        if self.job is not None:
            self.job.interrupt.fire()
        self.pm.close()

    # -- watching ---------------------------------------------------------------

    @handles(Tick)
    def handle_tick(self, msg: Tick) -> None:
        if msg.timer == _ACTION_ENDED.timer:
            self._collect()
        else:
            self._watch()

    def _watch(self) -> None:
        pid = self.pm.postmaster_pid()
        alive = pid is not None
        now = self.runtime.clock()
        if pid is not None and self._watches_senders():
            senders = self.pm.walsenders(pid)
            if senders != self.walsenders:
                self.walsenders = senders
                self._burst()
        due = now - self.last_full >= self.status_interval_s * _DUE_SLACK
        if alive != self.alive or due or now < self.burst_until:
            self._report()
        self._pace_ticks(pid)

    def _died(self, pid: int) -> None:
        """Deathwatch thread: look now (the tick's handler finds out what died)."""
        try:
            self.tell_self(_DIED)
        except pykka.ActorDeadError:  # we stopped meanwhile: nobody to tell
            self.log.debug("postmaster %d ended after this actor stopped", pid)

    def _burst(self) -> None:
        self.burst_until = self.runtime.clock() + BURST_S
        self._pace_ticks(self.deathwatch.pid)

    def _pace_ticks(self, pid: int | None = None) -> None:
        """Tick every ALIVE_INTERVAL_S while something needs watching that closely (the
        primary's WAL senders, a burst, no pidfd for the postmaster), else only for the
        full status: an idle replica wakes every STATUS_INTERVAL_S."""
        watched = self.deathwatch.watch(pid)
        busy = self._watches_senders() or self.runtime.clock() < self.burst_until
        pace = ALIVE_INTERVAL_S if busy or not watched else self.status_interval_s
        if pace != self.pace:
            self.pace = pace
            self.timers.every("alive", pace, _ALIVE)

    def _watches_senders(self) -> bool:
        return self.senders_matter and self._leads()

    def _leads(self) -> bool:
        return self.last_status is not None and self.last_status.role is Role.PRIMARY

    def _role(self) -> Role:
        return self.last_status.role if self.last_status is not None else Role.UNKNOWN

    @handles(Resend)
    def handle_resend(self, msg: Resend) -> None:
        self.last_status = None
        self._report()

    def _report(self) -> None:
        status = self.pm.status()
        self.alive = status.state not in (PgState.STOPPED, PgState.CRASHED, PgState.UNINITIALIZED)
        self.last_full = self.runtime.clock()
        if status != self.last_status:
            self.log.debug(
                "status changed: %s %s from %s",
                status.state.value,
                status.role.value,
                status.streaming_from,
            )
            self.last_status = status
            self.publish(names.PG_STATUS, status)
            if self.pace is not None:
                # The server may be new, started by another actor (the BootstrapActor's
                # initdb or clone; the HA actor then asks for a Resend): watch its death
                # from now on, not from the next tick, which may be a full status away.
                # A primary also watches closer.
                self._pace_ticks(self.pm.postmaster_pid())

    # -- actions ----------------------------------------------------------------

    def _begin(self, kind: ActionKind, action: Callable[[], Result]) -> None:
        if self.job is not None:
            self.log.warning("%s refused: %s is running", kind.value, self.job.kind.value)
            self.send(self.ha_actor, ActionDone(kind=kind, ok=False, detail="busy"))
            return
        self._launch(kind, action)

    def _launch(
        self, kind: ActionKind, action: Callable[[], Result], stop_mode: StopMode | None = None
    ) -> None:
        started = self.runtime.clock()
        job = _Job(next(self.jobs), kind, Interrupt(), started, self._role(), stop_mode)
        self.job = job
        worker = threading.Thread(
            target=self._work, args=(job, action), name=f"{self.name}-{kind.value}", daemon=True
        )
        worker.start()

    def _work(self, job: _Job, action: Callable[[], Result]) -> None:
        """Worker thread: run the action on a session of its own, hand the outcome over."""
        with self.pm.session(job.interrupt):
            try:
                result = action()
            except Exception as exc:
                self.log.exception("%s failed", job.kind.value)
                result = Result.failure(f"{type(exc).__name__}: {exc}")
        self.ended.put((job.seq, result))
        with contextlib.suppress(pykka.ActorDeadError):  # stopped while the action ran
            self.tell_self(_ACTION_ENDED)

    def _collect(self) -> None:
        """Report the actions that ended; an interrupted one was reported already."""
        while True:
            try:
                seq, result = self.ended.get_nowait()
            except queue.Empty:
                return
            job = self.job
            if job is None or job.seq != seq:
                self.log.info("an interrupted action ended: %s", result.detail)
                continue
            self.job = None
            self._done(job, result)

    def _done(self, job: _Job, result: Result) -> None:
        """Report the status and the outcome, how long it took, and run the callback."""
        self._measure(job, "ok" if result.ok else "failed")
        self._burst()
        self._report()
        self.send(self.ha_actor, ActionDone(kind=job.kind, ok=result.ok, detail=result.detail))
        if result.ok:
            self._callback(job.kind, job.before)
        if self.parameters.apply_queued():  # a change that came during the action
            self._report()

    def _measure(self, job: _Job, outcome: str) -> None:
        took = Sample(
            name="pgactor_postgres_action_duration_seconds",
            value=self.runtime.clock() - job.started,
            labels=(("action", job.kind.value), ("outcome", outcome)),
        )
        self.send(self.metrics_actor, Samples(items=(took,)))

    def _interrupt(self, job: _Job) -> None:
        """End ``job`` for a stop: its waits end, and it is reported failed now."""
        self.log.warning("a stop interrupts the running %s", job.kind.value)
        job.interrupt.fire()  # returns once no spawn is in progress: the stop sees any child
        self.job = None
        self._measure(job, "interrupted")
        self.send(self.ha_actor, ActionDone(kind=job.kind, ok=False, detail=INTERRUPTED))

    def _callback(self, kind: ActionKind, before: Role) -> None:
        after = self._role()
        callback = callback_for(kind, before, after)
        if callback is not None:  # runs in its own thread, killed past its timeout
            self.callbacks.run(callback, after if after is not Role.UNKNOWN else before)

    @handles(StartPostgres)
    def handle_start(self, msg: StartPostgres) -> None:
        self._begin(ActionKind.START, lambda: self.pm.start(msg.role, msg.upstream, msg.timeout_s))

    @handles(StopPostgres)
    def handle_stop(self, msg: StopPostgres) -> None:
        running = self.job
        if running is not None and running.stop_mode is not None:
            if _STRENGTH[msg.mode] <= _STRENGTH[running.stop_mode]:
                # a stop as strong runs already: its ActionDone answers this one too
                self.log.info("already stopping (%s)", running.stop_mode.value)
                return
            self.log.warning(
                "%s stop takes over from a %s one", msg.mode.value, running.stop_mode.value
            )
            running.interrupt.fire()  # the new stop's ActionDone answers both
            self._measure(running, "interrupted")
        elif running is not None:
            self._interrupt(running)
        self._launch(
            ActionKind.STOP,
            lambda: self.pm.stop(
                msg.mode, checkpoint_first=msg.checkpoint_first, timeout_s=msg.timeout_s
            ),
            stop_mode=msg.mode,
        )

    @handles(RestartPostgres)
    def handle_restart(self, msg: RestartPostgres) -> None:
        self._begin(ActionKind.RESTART, lambda: self.pm.restart(msg.timeout_s))

    @handles(Promote)
    def handle_promote(self, msg: Promote) -> None:
        self._begin(ActionKind.PROMOTE, lambda: self.pm.promote(msg.timeout_s))

    @handles(Follow)
    def handle_follow(self, msg: Follow) -> None:
        self._begin(ActionKind.FOLLOW, lambda: self.pm.follow(msg.upstream, msg.timeout_s))

    # -- quick commands, on the actor's thread ---------------------------------

    @handles(ReloadPostgres)
    def handle_reload(self, msg: ReloadPostgres) -> None:
        needs_restart = self.pm.reload()
        if needs_restart:
            self.log.info("parameters changed that need a restart: %s", ", ".join(needs_restart))
        self._report()
        self.callbacks.run(CallbackAction.ON_RELOAD, self._role())

    @handles(SetSynchronousStandbyNames)
    def handle_sync_names(self, msg: SetSynchronousStandbyNames) -> None:
        self.pm.set_synchronous_standby_names(msg.value)
        self._burst()
        self._report()

    # -- the cluster's parameters (see dynamic.py) ----------------------------------

    @handles(DcsConfig)
    def handle_dcs_config(self, msg: DcsConfig) -> None:
        """A new set of postgresql.parameters is applied now, or when the action running
        in the worker ends (it may be writing the files or starting the server)."""
        config = msg.config
        if config is not None:
            senders_matter = config.synchronous_mode is not SyncMode.OFF
            if senders_matter != self.senders_matter:
                self.senders_matter = senders_matter
                self._pace_ticks(self.deathwatch.pid)
        if config is None or not self.parameters.offer(config.postgresql_parameters):
            return
        if self.job is not None:
            self.log.info(
                "postgresql.parameters changed: applied once %s ends", self.job.kind.value
            )
        elif self.parameters.apply_queued():
            self._report()

    @handles(DescribeParameters)
    def handle_describe(self, msg: DescribeParameters) -> ParameterCatalogue:
        return self.parameters.describe()

    # -- the former primary -------------------------------------------------------

    @handles(ProbePrimary)
    def handle_probe(self, msg: ProbePrimary) -> None:
        """Ask the former primary in a thread of its own (a second, up to three, if it
        does not answer); one probe per upstream at a time, whose answer serves all."""
        with self.probing_lock:
            if msg.upstream in self.probing:
                return
            self.probing.add(msg.upstream)
        threading.Thread(
            target=self._probe, args=(msg.upstream,), name=f"{self.name}-probe", daemon=True
        ).start()

    def _probe(self, upstream: Upstream) -> None:
        """Probe thread: one answer to the HA actor, whatever happens."""
        try:
            probed = probe_primary(self.settings, upstream)
        except Exception as exc:  # a bug here must not leave the HA actor waiting
            self.log.exception("probing %s failed", upstream.name)
            probed = PrimaryProbed(name=upstream.name, writable=False, detail=f"probe: {exc}")
        with self.probing_lock:  # before the answer: the HA actor may ask again at once
            self.probing.discard(upstream)
        self.send(self.ha_actor, probed)
