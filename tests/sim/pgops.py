"""What PostgreSQL does when told: the server side of each action, with its duration.

These run at host level: they go on while the agent is frozen, and their
outcome is handed to the postmaster model (`finished`), which reports it when
the agent runs.  Each server lifetime has a generation (a start, a crash, a
kill, an exit begin a new one); an action that finds a newer generation at
its end was overtaken (the server it acted on is gone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from messages.cluster import PgState, Role
from messages.config import StopMode
from messages.ha import ActionKind
from messages.postgres import CreateReplica, Follow, Rewind, StartPostgres, StopPostgres

from .pg import RUNNING_STATES, common_prefix
from .postmaster import Job

if TYPE_CHECKING:
    from .node import Node
    from .world import World

Finished = Callable[[Job], None]


class PgOps:
    def __init__(self, world: World) -> None:
        self.world = world
        self.gen: dict[str, int] = {}

    def bump(self, node: Node) -> int:
        self.gen[node.name] = self.gen.get(node.name, 0) + 1
        return self.gen[node.name]

    def _current(self, node: Node, gen: int) -> bool:
        return self.gen.get(node.name, 0) == gen and node.up

    def begin(self, node: Node, job: Job, finished: Finished) -> None:
        begin = _BEGIN[job.kind]
        begin(self, node, job, finished)

    def _later(self, delay: float, fn: Callable[..., None], *args: object) -> None:
        loop = self.world.loop
        loop.at(loop.t + delay, fn, *args)

    def _done(self, job: Job, finished: Finished, ok: bool, removed: bool = False) -> None:
        job.result = (ok, removed)
        finished(job)

    def _quick(self, job: Job, finished: Finished, ok: bool) -> None:
        self._later(self.world.rng.uniform(0.005, 0.05), self._done, job, finished, ok)

    # -- stop -----------------------------------------------------------------------

    def _stop(self, node: Node, job: Job, finished: Finished) -> None:
        pg, rng, world = node.pg, self.world.rng, self.world
        if pg.state not in RUNNING_STATES:
            return self._quick(job, finished, True)
        action = job.action
        assert isinstance(action, StopPostgres)
        gen = self.gen.get(node.name, 0)
        writes_end = rng.uniform(0.002, 0.03)
        if action.mode is StopMode.IMMEDIATE:
            exit_at = writes_end + rng.uniform(0.05, 0.2)
        else:
            if action.checkpoint_first:
                writes_end += rng.uniform(0.1, 1.0)
            exit_at = writes_end + rng.uniform(0.1, 2.0) * world.params.timing
        draining = action.mode is not StopMode.IMMEDIATE
        self._later(writes_end, self._writes_end, node, gen, draining)
        self._later(exit_at, self._exit, node, job, finished, gen)
        return None

    def _writes_end(self, node: Node, gen: int, draining: bool) -> None:
        if self._current(node, gen):
            node.pg.stop_writes()
            node.pg.draining = draining and node.pg.state is PgState.STOPPING
            self.world.pg_changed(node)

    def _exit(self, node: Node, job: Job, finished: Finished, gen: int) -> None:
        if not self._current(node, gen):
            return self._done(job, finished, True)
        action = job.action
        assert isinstance(action, StopPostgres)
        pg = node.pg
        pg.stop_writes()
        if action.mode is StopMode.IMMEDIATE:
            pg.stopped_immediate()
        else:
            if pg.role is Role.PRIMARY:
                self.world.repl.ship_all(node)  # the shutdown checkpoint reaches every walsender
            pg.stopped()
        self.bump(node)
        self.world.pg_changed(node)
        return self._done(job, finished, True)

    # -- start ----------------------------------------------------------------------

    def _start(self, node: Node, job: Job, finished: Finished) -> None:
        pg, rng = node.pg, self.world.rng
        action = job.action
        assert isinstance(action, StartPostgres)
        if pg.state is PgState.RUNNING:
            return self._quick(job, finished, True)
        if pg.data_empty or pg.state not in _DOWN:
            return self._quick(job, finished, False)
        crashed = pg.state is PgState.CRASHED
        gen = self.bump(node)
        pg.state = PgState.STARTING
        pg.role = action.role
        self.world.pg_changed(node)
        delay = (
            rng.uniform(1.0, 4.0) if crashed else rng.uniform(0.3, 2.0)
        ) * self.world.params.timing
        self._later(delay, self._started, node, job, finished, gen)
        return None

    def _started(self, node: Node, job: Job, finished: Finished, gen: int) -> None:
        pg, world = node.pg, self.world
        action = job.action
        assert isinstance(action, StartPostgres)
        if not self._current(node, gen) or pg.state is not PgState.STARTING:
            return self._done(job, finished, False)
        if world.rng.random() < world.params.start_fail_p:
            pg.state = PgState.START_FAILED
            pg.role = Role.UNKNOWN
            self.bump(node)
            world.pg_changed(node)
            return self._done(job, finished, False)
        upstream = action.upstream.name if action.upstream is not None else None
        if action.role is Role.PRIMARY and pg.data_role is not Role.PRIMARY:
            pg.run_as(Role.REPLICA, None)
            world.promote(node)  # a standby's data started as primary: a promotion
        else:
            pg.run_as(action.role, upstream)
            if action.role is Role.PRIMARY:
                world.became_primary(node)
        world.pg_changed(node)
        return self._done(job, finished, True)

    # -- promote, follow ----------------------------------------------------------------

    def _promote(self, node: Node, job: Job, finished: Finished) -> None:
        pg = node.pg
        if not pg.is_replica:
            return self._quick(job, finished, False)
        pg.promoting = True
        gen = self.gen.get(node.name, 0)
        delay = self.world.rng.uniform(0.2, 3.0) * self.world.params.timing
        delay = self.world.faults.promote_delay(node, delay)
        self._later(delay, self._promoted, node, job, finished, gen)
        return None

    def _promoted(self, node: Node, job: Job, finished: Finished, gen: int) -> None:
        pg = node.pg
        if not self._current(node, gen) or not pg.is_replica or not pg.promoting:
            return self._done(job, finished, False)
        self.world.promote(node)
        self.world.pg_changed(node)
        return self._done(job, finished, True)

    def _follow(self, node: Node, job: Job, finished: Finished) -> None:
        if not node.pg.is_replica:
            return self._quick(job, finished, False)
        gen = self.gen.get(node.name, 0)
        self._later(self.world.rng.uniform(0.2, 1.5), self._followed, node, job, finished, gen)
        return None

    def _followed(self, node: Node, job: Job, finished: Finished, gen: int) -> None:
        action = job.action
        assert isinstance(action, Follow)
        if not self._current(node, gen) or not node.pg.is_replica:
            return self._done(job, finished, False)
        node.pg.upstream = action.upstream.name
        self.world.pg_changed(node)
        return self._done(job, finished, True)

    # -- data directory jobs ------------------------------------------------------------------

    def _bootstrap(self, node: Node, job: Job, finished: Finished) -> None:
        pg = node.pg
        if not pg.data_empty or pg.state in RUNNING_STATES:
            return self._quick(job, finished, False)
        gen = self.bump(node)
        pg.state = PgState.INITIALIZING
        self.world.pg_changed(node)
        self._later(self.world.rng.uniform(1.0, 3.0), self._bootstrapped, node, job, finished, gen)
        return None

    def _bootstrapped(self, node: Node, job: Job, finished: Finished, gen: int) -> None:
        world = self.world
        if not self._current(node, gen):
            return self._done(job, finished, False)
        if world.bootstrap_failures > 0:
            world.bootstrap_failures -= 1
            node.pg.wipe()
            world.pg_changed(node)
            return self._done(job, finished, False, removed=True)
        node.pg.initdb()
        world.became_primary(node)
        world.pg_changed(node)
        return self._done(job, finished, True)

    def _clone(self, node: Node, job: Job, finished: Finished) -> None:
        pg = node.pg
        if pg.state in RUNNING_STATES:
            return self._quick(job, finished, False)
        gen = self.bump(node)
        pg.state = PgState.CREATING_REPLICA
        self.world.pg_changed(node)
        self._later(self.world.rng.uniform(0.5, 2.5), self._cloned, node, job, finished, gen)
        return None

    def _cloned(self, node: Node, job: Job, finished: Finished, gen: int) -> None:
        action = job.action
        assert isinstance(action, CreateReplica)
        if not self._current(node, gen):
            return self._done(job, finished, False)
        source = self.world.source(node, [u.name for u in action.sources])
        if source is None:
            node.pg.wipe()
            self.world.pg_changed(node)
            return self._done(job, finished, False)
        node.pg.copy_from(source.pg)
        self.world.pg_changed(node)
        return self._done(job, finished, True)

    def _rewind(self, node: Node, job: Job, finished: Finished) -> None:
        gen = self.gen.get(node.name, 0)
        self._later(self.world.rng.uniform(0.5, 3.0), self._rewound, node, job, finished, gen)

    def _rewound(self, node: Node, job: Job, finished: Finished, gen: int) -> None:
        action = job.action
        assert isinstance(action, Rewind)
        pg = node.pg
        source = self.world.source(node, [action.source.name])
        if not self._current(node, gen) or source is None or pg.state not in _DOWN:
            return self._done(job, finished, False)
        pg.copy_from(source.pg, upto=common_prefix(pg.wal, source.pg.wal))
        self.world.pg_changed(node)
        return self._done(job, finished, True)


_DOWN = (PgState.STOPPED, PgState.CRASHED, PgState.START_FAILED)
_BEGIN: dict[ActionKind, Callable[[PgOps, Node, Job, Finished], None]] = {
    ActionKind.STOP: PgOps._stop,
    ActionKind.START: PgOps._start,
    ActionKind.PROMOTE: PgOps._promote,
    ActionKind.FOLLOW: PgOps._follow,
    ActionKind.BOOTSTRAP: PgOps._bootstrap,
    ActionKind.CREATE_REPLICA: PgOps._clone,
    ActionKind.REWIND: PgOps._rewind,
}
