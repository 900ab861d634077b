"""One node's PostmasterActor (and BootstrapActor): PostgreSQL's actions and reports.

As the real actor behaves:

* One action at a time; another while one runs is refused ("busy"), except a
  stop, which interrupts it (the interrupted action is reported failed at
  once -- but what it set going in PostgreSQL goes on: a promotion signalled
  completes unless the stop gets there first).  A stop as strong as the one
  running is ignored.
* Actions take time: a stop ends the backends a moment after it begins (no
  commit is acknowledged from then on) and the postmaster exits later (fast
  ~0.1-2 s, immediate ~0.05-0.2 s); a start 0.3-4 s (crash recovery longer),
  a promotion 0.2-3 s (longer on a slow-promote fault).  The PostgreSQL side
  of an action runs on whether the agent is frozen or not; its ActionDone
  waits for the agent.
* Reports: the actor looks every 0.5 s (its liveness tick, on a grid from its
  start) and sends a full status only when the postmaster appeared or
  vanished, every 5 s, and on every tick for 3 s after an action, a
  walsender change or a synchronous_standby_names change -- and only if the
  status differs from the last one sent.  So a crash, a killed server or a
  WAL position reaches the agent late.  The ticks are computed, not run: the
  next one that can matter is scheduled, which is the same behaviour.
* A probe of the former primary answers within a round-trip when it can
  connect, after 1-3 s of connection timeouts when it cannot.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from typing import TYPE_CHECKING, Any

from actors.runtime import names
from messages.base import Lsn, MemberName, Timeline
from messages.cluster import HistoryEntry, Role
from messages.config import StopMode
from messages.dcs import ReleaseLock
from messages.ha import ActionDone, ActionKind
from messages.postgres import (
    Bootstrap,
    CreateReplica,
    Follow,
    PostgresStatus,
    PrimaryProbed,
    ProbePrimary,
    Promote,
    Rewind,
    SetSynchronousStandbyNames,
    StartPostgres,
    StopPostgres,
)
from messages.runtime import Resend

from .lockactor import SHUTDOWN
from .pg import DOWN_STATES, RUNNING_STATES

if TYPE_CHECKING:
    from .node import Node

ALIVE_INTERVAL_S = 0.5
STATUS_INTERVAL_S = 5.0
BURST_S = 3.0
SYSID = "7300000000000000001"
_STRENGTH = {StopMode.SMART: 0, StopMode.FAST: 1, StopMode.IMMEDIATE: 2}
INTERRUPTED = "interrupted by a stop"
_CLEAN_FIELD = "shut_down_cleanly" in PostgresStatus.__dataclass_fields__
"""PostgresStatus reports a clean shutdown (since 0fb7783); older code has no such field."""
REPLICA_RELEASES_CLEAN = hasattr(
    importlib.import_module("actors.postgres.actor"), "_CLEAN_REPLICA_STATE"
)
"""The PostmasterActor releases cleanly after a replica's clean stop (since 0fb7783)."""
_KINDS: dict[type, ActionKind] = {
    StartPostgres: ActionKind.START,
    StopPostgres: ActionKind.STOP,
    Promote: ActionKind.PROMOTE,
    Follow: ActionKind.FOLLOW,
    Bootstrap: ActionKind.BOOTSTRAP,
    CreateReplica: ActionKind.CREATE_REPLICA,
    Rewind: ActionKind.REWIND,
}


@dataclasses.dataclass(slots=True, eq=False)
class Job:
    kind: ActionKind
    action: Any
    stop_mode: StopMode | None = None
    result: tuple[bool, bool] | None = None
    """(ok, data_dir_removed) once PostgreSQL's side finished."""


class Postmaster:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.world = node.world
        self.job: Job | None = None
        self.last_status: PostgresStatus | None = None
        self.last_full = -math.inf
        self.burst_until = -math.inf
        self.alive: bool | None = None
        self.walsenders: frozenset[str] = frozenset()
        self.origin = 0.0
        self.tick_gen = 0
        self.tick_due = math.inf
        self.probing: set[str] = set()

    def start(self) -> None:
        self.origin = self.node.clock.now()
        self.node.act(self._started)

    def _started(self) -> None:
        self._report()
        self._schedule()

    # -- reports ---------------------------------------------------------------------

    def _grid(self, reading: float) -> float:
        """The first liveness tick at or after `reading`."""
        steps = math.ceil((reading - self.origin) / ALIVE_INTERVAL_S - 1e-9)
        return self.origin + max(1, steps) * ALIVE_INTERVAL_S

    def _schedule(self, soon: bool = False) -> None:
        """Queue the next tick that can send a report (the ticks between do nothing)."""
        now = self.node.clock.now()
        due = self._grid(now + 1e-9) if soon or now < self.burst_until else math.inf
        full = max(self.last_full, now - STATUS_INTERVAL_S)  # none yet: at the next tick
        due = min(due, self._grid(full + STATUS_INTERVAL_S))
        if due >= self.tick_due and self.tick_due > now:
            return
        self.tick_due = due
        self.tick_gen += 1
        self.node.act(self._tick, self.tick_gen, delay=due - now)

    def changed(self) -> None:
        """Something a liveness tick notices happened (a crash, a walsender came or went)."""
        if self.node.agent_up:
            self._schedule(soon=True)

    def _tick(self, gen: int) -> None:
        if gen != self.tick_gen:
            return
        self.tick_due = math.inf
        now = self.node.clock.now()
        pg = self.node.pg
        alive = pg.state in RUNNING_STATES
        if alive and self.last_status is not None and self.last_status.role is Role.PRIMARY:
            senders = self.world.repl.walsenders(self.node)
            if senders != self.walsenders:
                self.walsenders = senders
                self.burst_until = now + BURST_S
        due = now - self.last_full >= STATUS_INTERVAL_S - 1e-9 or now < self.burst_until
        if alive != self.alive or due:
            self._report()
        self._schedule()

    def _report(self) -> None:
        status = self.status()
        pg = self.node.pg
        self.alive = pg.state in RUNNING_STATES
        self.last_full = self.node.clock.now()
        if status != self.last_status:
            self.last_status = status
            self.node.publish(names.PG_STATUS, status)

    def status(self) -> PostgresStatus:
        node, pg = self.node, self.node.pg
        down = pg.state not in RUNNING_STATES
        repl = self.world.repl
        primary = not down and pg.role is Role.PRIMARY
        upstream = repl.upstream_of(node)
        return PostgresStatus(
            state=pg.state,
            role=Role.UNKNOWN if down else pg.role,
            timeline=Timeline(pg.timeline),
            wal_position=Lsn(len(pg.wal)),
            streaming_from=pg.upstream if upstream is not None else None,
            replication=repl.rows(node) if primary and self.world.params.sync_actor else (),
            system_identifier=None if pg.data_empty else SYSID,
            data_dir_empty=pg.data_empty,
            synchronous_standby_names=pg.names,
            shutdown_role=pg.data_role if down else Role.UNKNOWN,
            checkpoint_lsn=Lsn(pg.checkpoint) if down and not pg.data_empty else None,
            history=_history(pg.history) if primary else (),
            **({"shut_down_cleanly": down and pg.clean} if _CLEAN_FIELD else {}),
        )

    # -- a clean node stop -------------------------------------------------------------------

    def on_stop(self) -> None:
        """PostmasterActor.on_stop: PostgreSQL stops (fast) with the node, then the lock is
        handed over -- clean, at the shutdown checkpoint, when a primary shut down cleanly."""
        self.job = None  # an action still running is abandoned: nobody waits for it
        lock = self.node.lock
        assert lock is not None
        if self.node.pg.state not in RUNNING_STATES:
            lock.enqueue(SHUTDOWN)
            return
        was_primary = self.last_status is not None and self.last_status.role is Role.PRIMARY
        job = Job(ActionKind.STOP, StopPostgres(mode=StopMode.FAST), stop_mode=StopMode.FAST)
        self.job = job

        def finished(done: Job) -> None:
            if self.node.postmaster is self:
                self.node.act(self._stopped_with_node, done, was_primary)

        self.world.pgops.begin(self.node, job, finished)

    def _stopped_with_node(self, job: Job, was_primary: bool) -> None:
        self.job = None
        pg, lock = self.node.pg, self.node.lock
        assert lock is not None
        if job.result is not None and job.result[0] and pg.state not in RUNNING_STATES:
            lock.enqueue(_release(pg, was_primary=was_primary))
        lock.enqueue(SHUTDOWN)

    # -- messages ------------------------------------------------------------------------

    def handle(self, msg: Any) -> None:
        if isinstance(msg, Resend):
            self.last_status = None
            self._report()
        elif isinstance(msg, StopPostgres):
            self._stop(msg)
        elif isinstance(msg, ProbePrimary):
            self._probe(msg)
        elif isinstance(msg, SetSynchronousStandbyNames):
            self.world.set_names(self.node, msg.value)
            self.burst_until = self.node.clock.now() + BURST_S
            self._report()
            self._schedule()
        else:
            kind = _KINDS.get(type(msg))
            if kind is None:
                return
            if self.job is not None:
                self.node.to_ha(ActionDone(kind=kind, ok=False, detail="busy"))
                return
            self._launch(Job(kind, msg))

    def _stop(self, msg: StopPostgres) -> None:
        running = self.job
        if running is not None:
            if (
                running.stop_mode is not None
                and _STRENGTH[msg.mode] <= _STRENGTH[running.stop_mode]
            ):
                return  # a stop as strong runs already: its ActionDone answers this one too
            self.job = None
            self.node.to_ha(ActionDone(kind=running.kind, ok=False, detail=INTERRUPTED))
        self._launch(Job(ActionKind.STOP, msg, stop_mode=msg.mode))

    def _launch(self, job: Job) -> None:
        self.job = job
        self.world.pgops.begin(self.node, job, self._finished)

    def _finished(self, job: Job) -> None:
        """PostgreSQL's side is over: the actor collects it when the agent runs."""
        if self.node.postmaster is self:  # else the agent that asked is gone
            self.node.act(self._collect, job)

    def _collect(self, job: Job) -> None:
        if self.job is not job:
            return  # interrupted: reported already
        self.job = None
        assert job.result is not None
        ok, removed = job.result
        self.burst_until = self.node.clock.now() + BURST_S
        self._report()
        self._schedule()
        self.node.to_ha(ActionDone(kind=job.kind, ok=ok, data_dir_removed=removed))

    # -- the former primary -----------------------------------------------------------------

    def _probe(self, msg: ProbePrimary) -> None:
        name = msg.upstream.name
        if name in self.probing:
            return
        self.probing.add(name)
        world = self.world
        target = world.by_name.get(name)
        reach = target is not None and target.up and world.net.peer_up(self.node.name, name)
        if reach and target is not None and not target.pg.frozen:
            delay = 2 * world.net.peer_latency()
            world.loop.at(world.loop.t + delay, self._probed_now, name)
        else:
            self.node.act(self._answer, name, False, delay=world.rng.uniform(1.0, 3.0))

    def _probed_now(self, name: str) -> None:
        if self.node.postmaster is not self:
            return
        target = self.world.by_name[name]
        self.node.act(self._answer, name, target.pg.writes_open)

    def _answer(self, name: str, writable: bool) -> None:
        self.probing.discard(name)
        self.node.to_ha(PrimaryProbed(name=MemberName(name), writable=writable))


def _release(pg: Any, *, was_primary: bool) -> ReleaseLock:
    """PostmasterActor._release: a clean stop hands over cleanly -- a primary at its shutdown
    checkpoint; a replica holding the lock, not promoted yet, at the position it published.
    (Before 0fb7783 a replica's clean stop released without `clean`: known bug A.)"""
    if was_primary and pg.clean:
        return ReleaseLock(optime=Lsn(pg.checkpoint), clean=True)
    if not was_primary and pg.clean and REPLICA_RELEASES_CLEAN:
        return ReleaseLock(clean=True)
    return ReleaseLock()


def _history(history: tuple[tuple[int, int], ...]) -> tuple[HistoryEntry, ...]:
    return tuple(HistoryEntry(timeline=Timeline(t), lsn=Lsn(lsn)) for t, lsn in history)


__all__ = ["DOWN_STATES", "Job", "Postmaster"]
