"""The simulated world: a clock, a network, a DCS, PostgreSQL servers, clients.

One `tick()` is one unit of simulated monotonic time, the same on every node
(per-node skew is not needed: leases are judged on each node's own monotonic
clock, and all of them advance at the same rate).  Within a tick, in order:
faults start or end, the DCS expires keys and applies requests that arrive,
PostgreSQL jobs finish, replicas stream, clients write, the invariants are
checked, and every agent that is up and not paused takes one step.
"""

from __future__ import annotations

import dataclasses
import random

from actors.runtime import names
from messages.base import ActorName, Message
from messages.cluster import PgState, Role
from messages.config import StopMode, SyncMode
from messages.dcs import (
    AcquireLock,
    CancelInitialize,
    ClaimInitialize,
    ClearFailover,
    LockOp,
    LockResult,
    ReleaseLock,
    RenewLock,
    SetBootstrapConfig,
    SetInitialized,
    TouchMember,
)
from messages.ha import Action, ActionDone, ActionKind, Reason
from messages.postgres import (
    ArmWatchdog,
    Bootstrap,
    CreateReplica,
    Follow,
    PrimaryProbed,
    ProbePrimary,
    Promote,
    Rewind,
    StartPostgres,
    StopPostgres,
)
from messages.runtime import Resend

from . import faults
from .node import Node
from .pg import RUNNING_STATES, Pg, common_prefix, is_prefix
from .schedule import Params, RunState
from .trace import Trace

LOCK_OPS: dict[type, LockOp] = {
    AcquireLock: LockOp.ACQUIRE,
    RenewLock: LockOp.RENEW,
    ReleaseLock: LockOp.RELEASE,
    ClaimInitialize: LockOp.CLAIM_INIT,
    CancelInitialize: LockOp.CANCEL_INIT,
}
PG_KINDS: dict[type, ActionKind] = {
    StartPostgres: ActionKind.START,
    StopPostgres: ActionKind.STOP,
    Promote: ActionKind.PROMOTE,
    Follow: ActionKind.FOLLOW,
    Bootstrap: ActionKind.BOOTSTRAP,
    CreateReplica: ActionKind.CREATE_REPLICA,
    Rewind: ActionKind.REWIND,
}


class Violation(Exception):
    """An invariant broke; the message says which and how."""


@dataclasses.dataclass(slots=True)
class Request:
    """A request to the DCS on its way: applied at `apply_at` unless partitioned then."""

    node: Node
    action: Message
    started: int
    apply_at: int
    incarnation: int
    expected: int | None = None
    reason: Reason | None = None


@dataclasses.dataclass(slots=True)
class Job:
    """A PostgreSQL action in progress; its ActionDone reaches the agent that asked."""

    kind: ActionKind
    action: Action
    done_at: int
    incarnation: int


@dataclasses.dataclass(slots=True)
class Stats:
    ticks: int = 0
    decisions: int = 0
    promotions: int = 0
    acked_writes: int = 0
    zombie_ticks: int = 0
    fenced: int = 0
    stuck_by_design: int = 0


class World:
    def __init__(self, params: Params) -> None:
        from .dcs import Dcs

        self.params = params
        self.rng = random.Random(params.seed)
        self.config = params.config
        self.sync_mode = params.config.synchronous_mode is not SyncMode.OFF
        self.strict = params.config.synchronous_mode_strict
        self.t = 0
        self.dcs = Dcs(params.config.ttl_s, params.server_lease)
        self.nodes = [
            Node(
                f"n{i}",
                params.tags[i],
                params.config,
                params.wall_offsets[i],
                params.watchdog_margin,
            )
            for i in range(params.n)
        ]
        self.by_name = {n.name: n for n in self.nodes}
        self.net = faults.Network()
        self.requests: list[Request] = []
        self.jobs: dict[str, Job] = {}
        self.pending: dict[str, list[tuple[int, int]]] = {n.name: [] for n in self.nodes}
        self.acked: list[tuple[int, int]] = []
        self.lease_start: dict[str, int] = {}
        self.bootstrap_failures = params.bootstrap_failures
        self.next_write = 1
        self.max_timeline = 1
        self.trace = Trace(self)
        self.stats = Stats()
        self.run_state: RunState | None = None

    # -- the network -------------------------------------------------------------

    def dcs_reachable(self, node: Node) -> bool:
        return node.up and not self.net.dcs_cut(node.name, self.t)

    def link(self, a: Node, b: Node) -> bool:
        return a.up and b.up and not self.net.peers_cut(a.name, b.name, self.t)

    def connected(self, replica: Node, upstream: Node) -> bool:
        """The replica's walreceiver is attached to `upstream` and their histories agree."""
        return (
            replica.pg.upstream == upstream.name
            and self.link(replica, upstream)
            and is_prefix(replica.pg.wal, upstream.pg.wal)
        )

    def streams_from(self, replica: Node, upstream: Node) -> bool:
        return replica.pg.is_replica and upstream.pg.running and self.connected(replica, upstream)

    def streaming(self, node: Node) -> bool:
        up = self.by_name.get(node.pg.upstream) if node.pg.upstream else None
        return up is not None and self.streams_from(node, up)

    def watch_p(self, node: Node) -> float:
        return self.net.watch_p(node.name, self.t)

    # -- one tick ------------------------------------------------------------------

    def tick(self) -> None:
        faults.apply(self)
        self._fence()
        self.dcs.expire(self.t)
        self._apply_requests()
        self._finish_jobs()
        self._stream()
        self._clients()
        self._check_writers()
        for node in self.nodes:
            if node.agent_runs(self.t):
                node.step(self)
        self.stats.ticks += 1
        self.t += 1

    # -- DCS requests -----------------------------------------------------------

    def _fence(self) -> None:
        """Each member's fence process fires on its own, whether its agent runs or not,
        and kills whatever PostgreSQL runs there: a standby may be promoting."""
        for node in self.nodes:
            if node.up and node.fence_at is not None and self.t >= node.fence_at:
                node.fence_at = None
                if node.pg.state in RUNNING_STATES:
                    node.pg.crash()
                    self.stats.fenced += 1
                    self.trace.note(node.name, "fenced: the fence killed PostgreSQL")

    def route(self, node: Node, to: ActorName, msg: Message) -> None:
        """Carry out what the agent's outbox sends, as the actor named `to` would."""
        if to == names.WATCHDOG:
            if node.watchdog_margin is not None:
                node.fence_at = msg.fire_at if isinstance(msg, ArmWatchdog) else None
        elif isinstance(msg, Resend):
            node.fed_status = None  # the postmaster actor reports again
        elif isinstance(msg, ProbePrimary):
            self._probe(node, msg)
        elif to == names.LEADER_LOCK:
            self._request(node, msg)
        elif to in (names.POSTMASTER, names.BOOTSTRAP):
            kind = PG_KINDS.get(type(msg))
            if kind is not None:
                assert isinstance(msg, Action)
                self._start_job(node, kind, msg)

    def _probe(self, node: Node, probe: ProbePrimary) -> None:
        """The postmaster actor connects to the former primary: does it take writes?"""
        target = self.by_name.get(probe.upstream.name)
        writable = target is not None and self.link(node, target) and target.pg.accepts_writes
        answer = PrimaryProbed(name=probe.upstream.name, writable=writable)
        node.inbox.append((self.t + 1, answer))

    def _request(self, node: Node, msg: Message) -> None:
        request = Request(
            node=node,
            action=msg,
            started=self.t,
            apply_at=self.t + self.net.dcs_latency(node.name, self.t, self.rng),
            incarnation=node.incarnation,
            reason=node.agent.last_reason,
        )
        if isinstance(msg, AcquireLock):
            may, request.expected = node.expired_lock_version(float(self.t))
            if not may:
                self._answer(request, ok=False, at=self.t + 1)
                return
        self.requests.append(request)

    def _apply_requests(self) -> None:
        due = [r for r in self.requests if r.apply_at <= self.t]
        if not due:
            return
        self.requests = [r for r in self.requests if r.apply_at > self.t]
        for request in due:
            self._arrive(request)

    def _arrive(self, request: Request) -> None:
        node = request.node
        retry_at = request.started + int(self.config.retry_timeout_s)
        if self.net.dcs_cut(node.name, self.t):
            self._answer(request, ok=False, at=retry_at, unreachable=True)
            return
        ok = self._apply(request)
        lost = self.rng.random() < self.net.drop_p(node.name, self.t)
        answer_at = self.t + self.net.dcs_latency(node.name, self.t, self.rng)
        if lost or answer_at > retry_at:
            self._answer(request, ok=False, at=retry_at, unreachable=True)
        else:
            self._answer(request, ok=ok, at=answer_at)

    def _answer(self, request: Request, ok: bool, at: int, unreachable: bool = False) -> None:
        op = LOCK_OPS.get(type(request.action))
        node = request.node
        if op is None or node.incarnation != request.incarnation:
            return
        detail = "unreachable" if unreachable else ""
        ttl = getattr(request.action, "ttl_s", 0.0) if ok else 0.0
        result = LockResult(
            op=op, ok=ok, started_at=float(request.started), detail=detail, ttl_s=ttl
        )
        node.inbox.append((at, result))

    def _apply(self, request: Request) -> bool:
        action, name, dcs = request.action, request.node.name, self.dcs
        if isinstance(action, AcquireLock):
            return self._acquire(request, action)
        if isinstance(action, RenewLock):
            ok = dcs.renew(name, action.optime, self.t, action.ttl_s)
            if ok:
                self.lease_start[name] = request.started
                dcs.set_history(request.node.pg.history)
            return ok
        if isinstance(action, ReleaseLock):
            return dcs.release(name, action.optime, clean=action.clean)
        if isinstance(action, TouchMember):
            dcs.touch(action.status, self.t)
            return True
        return self._apply_record(action)

    def _acquire(self, request: Request, action: AcquireLock) -> bool:
        before = self.dcs.last_leader_optime
        name, optime, expected = request.node.name, action.optime, request.expected
        if not self.dcs.acquire(name, optime, expected, self.t, action.ttl_s):
            return False
        self.lease_start[request.node.name] = request.started
        faults.new_leader(self, request.node.name)
        if request.reason is not Reason.BOOTSTRAP_TAKE_LOCK:
            lag = before - action.optime
            if lag > self.config.maximum_lag_on_failover:
                raise Violation(
                    f"{request.node.name} took the lock {lag} behind the last leader's"
                    f" position {before} (maximum_lag_on_failover"
                    f" {self.config.maximum_lag_on_failover})"
                )
        return True

    def _apply_record(self, action: Message) -> bool:
        dcs = self.dcs
        if isinstance(action, ClaimInitialize):
            return dcs.claim_initialize()
        if isinstance(action, CancelInitialize):
            dcs.set_initialize(None)
        elif isinstance(action, SetInitialized):
            dcs.set_initialize(action.system_identifier)
        elif isinstance(action, SetBootstrapConfig):
            dcs.set_config(action.config)
        elif isinstance(action, ClearFailover):
            dcs.set_failover(None)
        return True

    # -- PostgreSQL jobs --------------------------------------------------------

    def _start_job(self, node: Node, kind: ActionKind, action: Action) -> None:
        """A new action supersedes the one running (only a stop ever cuts in)."""
        pg = node.pg
        running = self.jobs.get(node.name)
        if running is not None and running.kind is ActionKind.STOP and kind is not ActionKind.STOP:
            assert isinstance(running.action, StopPostgres)
            self._stopped(node, running.action)  # the postmaster finishes stopping first
        delay = self._job_delay(node, kind, action)
        if kind is ActionKind.STOP:
            pg.stop_writes()
        elif kind is ActionKind.START and pg.state not in (PgState.RUNNING, PgState.STOPPING):
            if not pg.data_empty:
                pg.state = PgState.STARTING
                assert isinstance(action, StartPostgres)
                pg.role = action.role
                pg.changed()
        elif kind is ActionKind.BOOTSTRAP and pg.data_empty:
            pg.state = PgState.INITIALIZING
            pg.changed()
        elif kind is ActionKind.CREATE_REPLICA:
            pg.state = PgState.CREATING_REPLICA
            pg.changed()
        self.jobs[node.name] = Job(kind, action, self.t + delay, node.incarnation)

    def _job_delay(self, node: Node, kind: ActionKind, action: Action) -> int:
        rng = self.rng
        if kind is ActionKind.START:
            crashed = node.pg.state is PgState.CRASHED
            return self.params.start_ticks[int(node.name[1:])] + (2 if crashed else 0)
        if kind is ActionKind.STOP:
            fast = isinstance(action, StopPostgres) and action.mode is not StopMode.IMMEDIATE
            return 1 + (rng.randint(0, 1) if fast else 0)
        if kind in (ActionKind.CREATE_REPLICA, ActionKind.BOOTSTRAP):
            return rng.randint(2, 4)
        return rng.randint(1, 2)

    def cancel_job(self, node: Node) -> None:
        self.jobs.pop(node.name, None)

    def _finish_jobs(self) -> None:
        for name in [n for n, j in self.jobs.items() if j.done_at <= self.t]:
            job = self.jobs.pop(name)
            node = self.by_name[name]
            if not node.up:
                continue
            ok, removed = self._complete(node, job)
            self.trace.pg(node.name, job.kind, ok)
            if job.incarnation == node.incarnation:
                done = ActionDone(kind=job.kind, ok=ok, data_dir_removed=removed)
                node.inbox.append((self.t, done))

    def _complete(self, node: Node, job: Job) -> tuple[bool, bool]:
        action = job.action
        if isinstance(action, StartPostgres):
            return self._started(node, action), False
        if isinstance(action, StopPostgres):
            self._stopped(node, action)
            return True, False
        if isinstance(action, Promote):
            if not node.pg.is_replica:
                return False, False
            self._promote(node)
            return True, False
        if isinstance(action, Follow):
            if not node.pg.is_replica:
                return False, False
            node.pg.upstream = action.upstream.name
            node.pg.changed()
            return True, False
        if isinstance(action, Bootstrap):
            return self._bootstrapped(node)
        if isinstance(action, CreateReplica):
            return self._cloned(node, action), False
        if isinstance(action, Rewind):
            return self._rewound(node, action), False
        return False, False

    def _started(self, node: Node, action: StartPostgres) -> bool:
        pg = node.pg
        if pg.state is PgState.RUNNING:
            return True
        if pg.state is not PgState.STARTING or pg.data_empty:
            return False
        if self.rng.random() < self.params.start_fail_p:
            pg.state = PgState.START_FAILED
            pg.role = Role.UNKNOWN
            pg.changed()
            return False
        upstream = action.upstream.name if action.upstream is not None else None
        if action.role is Role.PRIMARY and pg.data_role is not Role.PRIMARY:
            pg.run_as(Role.REPLICA, None)
            self._promote(node)
        else:
            pg.run_as(action.role, upstream)
            if action.role is Role.PRIMARY:
                self._became_primary(node)
        return True

    def _stopped(self, node: Node, action: StopPostgres) -> None:
        pg = node.pg
        if action.mode is not StopMode.IMMEDIATE and pg.role is Role.PRIMARY:
            for replica in self.nodes:
                if replica is not node and replica.pg.is_replica and self.connected(replica, node):
                    _receive(replica.pg, pg, len(pg.wal))
        if pg.state is not PgState.CRASHED:
            pg.stopped()

    def _promote(self, node: Node) -> None:
        self.max_timeline += 1
        node.pg.promote(self.max_timeline)
        self._became_primary(node)

    def _became_primary(self, node: Node) -> None:
        """Invariant (b): in synchronous mode the new primary has every acknowledged write."""
        self.stats.promotions += 1
        self.trace.note(node.name, f"became primary on timeline {node.pg.timeline}")
        if not self.sync_mode:
            return
        wal = node.pg.wal
        for index, write in self.acked:
            if index >= len(wal) or wal[index] != write:
                raise Violation(
                    f"{node.name} became primary without acknowledged write #{write}"
                    f" (position {index}; its WAL ends at {len(wal)})"
                )

    def _bootstrapped(self, node: Node) -> tuple[bool, bool]:
        if not node.pg.data_empty:
            return False, False
        if self.bootstrap_failures > 0:
            self.bootstrap_failures -= 1
            node.pg.wipe()
            return False, True
        node.pg.initdb()
        self._became_primary(node)
        return True, False

    def _source(self, node: Node, names: list[str]) -> Node | None:
        for name in names:
            source = self.by_name.get(name)
            if source is not None and source.pg.running and self.link(node, source):
                return source
        return None

    def _cloned(self, node: Node, action: CreateReplica) -> bool:
        source = self._source(node, [u.name for u in action.sources])
        if source is None:
            node.pg.wipe()
            return False
        node.pg.copy_from(source.pg)
        return True

    def _rewound(self, node: Node, action: Rewind) -> bool:
        source = self._source(node, [action.source.name])
        pg = node.pg
        if source is None or pg.state not in (
            PgState.STOPPED,
            PgState.CRASHED,
            PgState.START_FAILED,
        ):
            return False
        pg.copy_from(source.pg, upto=common_prefix(pg.wal, source.pg.wal))
        return True

    # -- replication and clients ---------------------------------------------------

    def _stream(self) -> None:
        for replica in self.nodes:
            pg = replica.pg
            upstream = self.by_name.get(pg.upstream) if pg.upstream else None
            if upstream is None or not self.streams_from(replica, upstream):
                continue
            take = self.rng.randint(0, self.params.stream_rate)
            _receive(pg, upstream.pg, len(pg.wal) + take)

    def _clients(self) -> None:
        for node in self.nodes:
            if node.up and node.pg.accepts_writes and self.rng.random() < self.params.write_p:
                node.pg.wal.append(self.next_write)
                self.pending[node.name].append((len(node.pg.wal) - 1, self.next_write))
                self.next_write += 1
        for node in self.nodes:
            self._acknowledge(node)

    def _acknowledge(self, node: Node) -> None:
        pending = self.pending[node.name]
        if not pending:
            return
        if not (node.up and node.pg.accepts_writes):
            pending.clear()
            return
        reach = self._durable_upto(node)
        acked = [p for p in pending if p[0] < reach]
        if acked:
            self.acked.extend(acked)
            self.stats.acked_writes += len(acked)
            self.pending[node.name] = [p for p in pending if p[0] >= reach]

    def _durable_upto(self, node: Node) -> int:
        """How far a client may be told "committed": all (async), else what the sync standby has."""
        if not self.sync_mode:
            return len(node.pg.wal)
        standby = self.by_name.get(node.pg.ssn) if node.pg.ssn else None
        if standby is None:
            return 0 if self.strict else len(node.pg.wal)
        return len(standby.pg.wal) if self.streams_from(standby, node) else 0

    def can_acknowledge(self, node: Node) -> bool:
        if not (node.up and node.pg.accepts_writes):
            return False
        if not self.sync_mode:
            return True
        standby = self.by_name.get(node.pg.ssn) if node.pg.ssn else None
        if standby is None:
            return not self.strict
        return self.streams_from(standby, node)

    # -- invariants ----------------------------------------------------------------

    def _check_writers(self) -> None:
        """Invariant (a): never two members that can acknowledge writes at one instant."""
        writers = [n for n in self.nodes if self.can_acknowledge(n)]
        if len(writers) < 2:
            return
        if not self.sync_mode:
            alive = [n for n in writers if not self._zombie(n)]
            if len(alive) < 2:
                self.stats.zombie_ticks += 1
                return
            writers = alive
        names = ", ".join(f"{n.name} (timeline {n.pg.timeline})" for n in writers)
        raise Violation(f"two members can acknowledge writes at once: {names}")

    def _zombie(self, node: Node) -> bool:
        """A primary whose agent was paused or restarting (no step last tick) past its lease's
        demotion point.

        No rule can act for an agent that does not run; Patroni needs a watchdog
        for this case.  Only asynchronous mode needs the exemption (see README).
        """
        if node.stepped_at >= self.t - 1 or node.watchdog_margin is not None:
            return False  # with a fence, no exemption: it must have killed the server
        start = self.lease_start.get(node.name)
        margin = self.config.ttl_s - self.config.retry_timeout_s
        return start is None or self.t >= start + margin

    def promotable(self) -> list[str]:
        """Who the spec lets take a free lock, judged from the DCS's own records.

        May be promoted (tags), and either the last leader, or within
        maximum_lag_on_failover of the last leader's position and -- in
        synchronous mode -- published as a synchronous standby.  When nobody
        is, staying without a primary is the specified outcome, not a bug.
        """
        dcs, cfg = self.dcs, self.config
        names = []
        for node in self.nodes:
            tags = node.tags
            if not node.up or tags.nofailover or tags.failover_priority <= 0:
                continue
            within = dcs.last_leader_optime - len(node.pg.wal) <= cfg.maximum_lag_on_failover
            synced = not self.sync_mode or node.name in dcs.sync.sync_standbys
            if node.name == dcs.last_leader_name or (within and synced):
                names.append(node.name)
        return names

    def converged(self) -> bool:
        """Invariant (c)'s goal: one primary holding the lock, all others streaming from it."""
        lock = self.dcs.leader
        if lock is None:
            return False
        primary = self.by_name[lock.name]
        if not (primary.up and primary.pg.accepts_writes):
            return False
        return all(
            n is primary or (n.agent_runs(self.t) and self.streams_from(n, primary))
            for n in self.nodes
        )


def _receive(replica: Pg, source: Pg, upto: int) -> None:
    """A standby receives the source's WAL up to `upto`, following it onto its timeline."""
    replica.wal.extend(source.wal[len(replica.wal) : upto])
    replica.follow_timeline(source)
