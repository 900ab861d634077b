"""Run schedules: one (family, seed) at a time, or many across worker processes.

A run bootstraps the cluster, lets the schedule's faults happen, heals
everything, and then requires convergence within a bound.  Any invariant
violation ends the run with a report: the schedule and the trace of the last
seconds, enough to replay it with `scripts/sim.py --family F --seed S`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import gc
import itertools
import multiprocessing
import time
import traceback
from collections.abc import Callable, Iterable, Iterator

from . import mutations
from .checks import Violation
from .schedule import Params, make_params
from .world import Stats, World

BOOTSTRAP_BOUND_S = 90.0
"""Seconds for an empty cluster to bootstrap, elect, clone and stream (initdb failures too)."""


def converge_bound(params: Params) -> float:
    """Seconds after the heal for one primary and everyone streaming from it.

    A lease (the old one must run out) plus a primary start timeout, a clone,
    a rewind, and the catch-up of a lagging standby; see README for measures.
    """
    cfg = params.config
    edits = [f.extra.get("ttl_s", 0.0) for f in params.faults if isinstance(f.extra, dict)]
    ttl = max([cfg.ttl_s, *edits])
    return 4 * ttl + 2 * cfg.primary_start_timeout_s + 60.0


@dataclasses.dataclass(slots=True)
class Outcome:
    seed: int
    family: str
    violation: str | None
    report: str
    stats: Stats
    converge_s: float = -1.0
    baseline_failed: bool = False
    """With a mutation: the schedule fails without it too, so it proves nothing."""

    @property
    def ok(self) -> bool:
        return self.violation is None


def run_schedule(
    seed: int, family: str | None = None, trace_s: float = 0.0, *, fence: bool | None = None
) -> Outcome:
    """One schedule; `trace_s` > 0 also reports the trace of a passing run (replay).

    `fence=False` runs every member without the fence process, so that a broken
    demotion rule is not masked by the fence killing the server in its place.
    """
    params = make_params(seed, family)
    if fence is False:
        params = dataclasses.replace(params, watchdog_margin=None)
    return run_params(params, trace_s)


def run_params(params: Params, trace_s: float = 0.0) -> Outcome:
    world = World(params)
    began = time.perf_counter()
    try:
        converge = _run(world)
    except Exception as error:  # a bug of the model shows up as a failure too, replayable
        violation = (
            error
            if isinstance(error, Violation)
            else Violation(f"SIMULATOR ERROR {type(error).__name__}: {error}")
        )
        world.stats.seconds = time.perf_counter() - began
        report = f"{params.describe()}\nVIOLATION at t={world.loop.t:.4f}: {violation}\n"
        report += f"last seconds:\n{world.trace.render(trace_s or 25.0)}\n"
        report += f"replay: scripts/sim.py --family {params.family} --seed {params.seed} -v"
        if not isinstance(error, Violation):
            report += "\n" + traceback.format_exc()
        return Outcome(params.seed, params.family, str(violation), report, world.stats)
    world.stats.seconds = time.perf_counter() - began
    report = ""
    if trace_s:
        report = f"{params.describe()}\nok, converged {converge:.2f}s after the heal\n"
        report += world.trace.render(trace_s)
    return Outcome(params.seed, params.family, None, report, world.stats, converge)


def _run(world: World) -> float:
    world.start()
    if not _until_converged(world, BOOTSTRAP_BOUND_S, "bootstrap", need_init=True):
        return -1.0
    params = world.params
    base = world.loop.t + 0.5
    world.faults.schedule(params.faults, base)
    heal_at = base + params.window
    world.loop.at(heal_at, world.faults.heal)
    world.loop.run_until(heal_at)
    if not _until_converged(world, converge_bound(params), "after the heal"):
        return -1.0
    return world.loop.t - heal_at


def _until_converged(world: World, bound: float, phase: str, need_init: bool = False) -> bool:
    store = world.store

    def done() -> bool:
        if not world.moved:
            return False
        world.moved = False
        return world.converged() and (not need_init or bool(store.value("initialize")))

    if done() or world.loop.run_until(world.loop.t + bound, done):
        return True
    if store.leader is None and store.value("initialize") and not world.promotable():
        world.stats.stuck_by_design += 1
        return False
    raise Violation(f"(g) no convergence within {bound:.0f}s {phase}: {roles(world)}")


def roles(world: World) -> str:
    lock = world.store.leader
    parts = [f"lock={lock.name if lock else None}"]
    for node in world.nodes:
        pg = node.pg
        parts.append(
            f"{node.name}:{pg.state.value}/{pg.role.value} tl{pg.timeline} wal{len(pg.wal)}"
            f" up={pg.upstream} streams={world.repl.connected_to[node.name]}"
            f" agent={'frozen' if node.frozen else 'up' if node.agent_up else 'down'}"
        )
    return "; ".join(parts)


# -- many runs ----------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Summary:
    runs: int = 0
    failures: list[Outcome] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    totals: Stats = dataclasses.field(default_factory=Stats)
    by_family: dict[str, int] = dataclasses.field(default_factory=dict)
    etcd: int = 0
    max_converge: float = 0.0

    @property
    def rate(self) -> float:
        return self.runs / self.seconds if self.seconds else 0.0

    def add(self, outcome: Outcome, server_leases: bool) -> None:
        self.runs += 1
        self.etcd += server_leases
        self.by_family[outcome.family] = self.by_family.get(outcome.family, 0) + 1
        for field in dataclasses.fields(Stats):
            mine, theirs = getattr(self.totals, field.name), getattr(outcome.stats, field.name)
            if isinstance(mine, dict):
                for key, count in theirs.items():
                    mine[key] = mine.get(key, 0) + count
            else:
                setattr(self.totals, field.name, mine + theirs)
        self.max_converge = max(self.max_converge, outcome.converge_s)
        if not outcome.ok:
            self.failures.append(outcome)

    def describe(self) -> str:
        t = self.totals
        return (
            f"{self.runs} schedules in {self.seconds:.1f}s ({self.rate:.0f}/s):"
            f" {len(self.failures)} failed; {self.etcd} on etcd, {self.runs - self.etcd} on"
            f" Kubernetes; {t.steps} agent steps, {t.decisions} decisions, {t.promotions}"
            f" promotions, {t.takeovers} takeovers, {t.acked_writes} acknowledged writes"
            f" ({t.lost_writes} lost at a leader's death), {t.fenced} fenced,"
            f" {t.zombie_events} zombie-primary events (async, no fence, agent stopped),"
            f" {t.stuck_by_design} left without a primary by design, {t.forced_takeovers}"
            f" forced failovers ({t.forced_losses} writes given up); slowest convergence"
            f" after the heal {self.max_converge:.1f}s"
            + (f"; known HA bugs hit (checks.KNOWN_BUGS) {t.known_bugs}" if t.known_bugs else "")
        )


Job = tuple[int, int, str | None, str | None, bool | None]


def _chunk(job: Job) -> list[tuple[Outcome, bool]]:
    start, count, family, mutation, fence = job
    out = []
    if fence is None and mutation is not None:
        fence = mutations.MUTATIONS[mutation].fence
    for seed in range(start, start + count):
        params = make_params(seed, family)
        if fence is False:
            params = dataclasses.replace(params, watchdog_margin=None)
        with _collected_after(), mutations.applied(mutation):
            outcome = run_params(params)
        if mutation is not None and not outcome.ok and not run_params(params).ok:
            # the real rules fail this schedule too (a bug of their own): no catch
            outcome.violation = None
            outcome.baseline_failed = True
        out.append((outcome, params.server_leases))
    return out


@contextlib.contextmanager
def _collected_after() -> Iterator[None]:
    """No garbage collection during a run, one of the young objects after it.

    A run allocates millions of short-lived frozen messages and holds few cycles
    (the world and its parts, freed together at the end); the collector's
    passes over them cost about a tenth of the run.  Everything the run made is
    still in the youngest generation afterwards, so collecting that one frees
    the world without a walk over every object the process holds.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect(0)
        if enabled:
            gc.enable()


def run_many(
    start: int,
    count: int,
    workers: int = 2,
    *,
    family: str | None = None,
    mutation: str | None = None,
    fence: bool | None = None,
    chunk: int = 100,
    stop_at_first: bool = False,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """Run seeds start..start+count-1 over `workers` processes.

    With a mutation, members run with or without the fence as the mutation says
    (the fence would mask a broken demotion rule), unless `fence` says otherwise.
    """
    summary = Summary()
    began = time.perf_counter()
    jobs: list[Job] = [
        (s, min(chunk, start + count - s), family, mutation, fence)
        for s in range(start, start + count, chunk)
    ]
    for outcomes in _map(jobs, workers):
        for outcome, etcd in outcomes:
            summary.add(outcome, etcd)
        summary.seconds = time.perf_counter() - began
        if progress is not None:
            progress(summary)
        if stop_at_first and summary.failures:
            break
    summary.failures.sort(key=lambda o: o.seed)
    summary.seconds = time.perf_counter() - began
    return summary


def _map(jobs: list[Job], workers: int) -> Iterable[list[tuple[Outcome, bool]]]:
    """Results in job order; at most a few jobs per worker in flight, so a million
    schedules hold no more memory than a few thousand."""
    if workers <= 1:
        yield from (_chunk(job) for job in jobs)
        return
    # Not multiprocessing.Pool: terminating it with tasks still queued (a caller that
    # stops at the first failure) can hang for good joining its task thread.
    context = multiprocessing.get_context("fork")
    pending: collections.deque[concurrent.futures.Future[list[tuple[Outcome, bool]]]]
    pending = collections.deque()
    queue = iter(jobs)
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        try:
            for job in itertools.islice(queue, workers * 4):
                pending.append(pool.submit(_chunk, job))
            while pending:
                result = pending.popleft().result()
                job_next = next(queue, None)
                if job_next is not None:
                    pending.append(pool.submit(_chunk, job_next))
                yield result
        finally:
            pool.shutdown(cancel_futures=True)
