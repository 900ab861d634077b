"""The simulated world: hosts, their clocks, a network, the store, clients, and the checks.

Everything happens as events on one queue (loop.py).  The World wires the
parts together and carries out what crosses them: a server's state changed
(who streams, whose commits wait, the one-writer check), a promotion (the
new-primary checks), a write to synchronous_standby_names (rule 3).
"""

from __future__ import annotations

import dataclasses
import random

from messages.base import MemberName

from .checks import Checks, Violation
from .clock import Clock
from .dcs import Store
from .faults import Faults, Network
from .loop import Loop
from .node import Node
from .pgops import PgOps
from .replication import Replication
from .schedule import Params
from .trace import Trace

__all__ = ["Stats", "Violation", "World"]


@dataclasses.dataclass(slots=True)
class Stats:
    decisions: int = 0
    steps: int = 0
    promotions: int = 0
    takeovers: int = 0
    acked_writes: int = 0
    lost_writes: int = 0
    zombie_events: int = 0
    fenced: int = 0
    stuck_by_design: int = 0
    forced_takeovers: int = 0
    """Locks taken as an operator's forced failover named the taker (checks l)."""
    forced_losses: int = 0
    """Acknowledged writes such a takeover gave up, by the operator's choice."""
    seconds: float = 0.0
    known_bugs: dict[str, int] = dataclasses.field(default_factory=dict)
    """How often each known bug of the HA code happened (checks.KNOWN_BUGS)."""


class World:
    def __init__(self, params: Params) -> None:
        self.params = params
        self.rng = random.Random(params.seed)
        self.loop = Loop()
        self.loop.after_event = self._after_event
        self.stats = Stats()
        self.trace = Trace(self)
        server_clock = Clock(self.loop, origin=0.0, rate=params.server_rate, wall_origin=0.0)
        self.store = Store(self.loop, server_leases=params.server_leases, server_clock=server_clock)
        self.store.on_change = self._store_changed
        self.watchers: list = []  # the nodes' lock actors whose watch is open
        self.nodes = [
            Node(
                self,
                i,
                tags=params.tags[i],
                config=params.config,
                clock=Clock(
                    self.loop,
                    origin=params.clock_origins[i],
                    rate=params.clock_rates[i],
                    wall_origin=params.wall_origins[i],
                    quantum=params.quantum,
                ),
                fence_margin=params.watchdog_margin,
            )
            for i in range(params.n)
        ]
        self.by_name = {n.name: n for n in self.nodes}
        self.net = Network(self)
        self.repl = Replication(self)
        self.pgops = PgOps(self)
        self.checks = Checks(self)
        self.store.on_expire = self.checks.record_expired
        self.faults = Faults(self)
        self.bootstrap_failures = params.bootstrap_failures
        self.max_timeline = 1
        self.dirty = False
        """A server, a link or synchronous_standby_names changed: check one-writer."""
        self.moved = True
        """Something convergence depends on may have changed since it was last judged."""
        self.writes_on = True
        self.lags = list(params.lags)

    # -- running -----------------------------------------------------------------------

    def start(self) -> None:
        for node, delay in zip(self.nodes, self.params.start_delays, strict=True):
            self.loop.at(delay, node.start_agent)
        self._next_write()

    def _next_write(self) -> None:
        rate = self.params.write_rate
        if rate > 0:
            self.loop.at(self.loop.t + self.rng.expovariate(rate), self._write)

    def _write(self) -> None:
        if self.writes_on:
            self.repl.client_write()
        self._next_write()

    def _after_event(self) -> None:
        if self.dirty:
            self.dirty = False
            self.moved = True
            self.checks.writers()

    # -- what crosses the parts ---------------------------------------------------------

    def _store_changed(self) -> None:
        self.moved = True
        for lock in self.watchers:
            lock.on_store_change()

    def pg_changed(self, node: Node) -> None:
        self.dirty = True
        if not node.pg.writes_open:
            self.repl.drop_pending(node)
            if node.catching_up == "stopping":
                node.catching_up = False
        self.repl.refresh()

    def links_changed(self) -> None:
        self.dirty = True
        self.repl.refresh()

    def dcs_link_healed(self, node: Node) -> None:
        """The watch reconnects (after a backoff) and delivers what it missed."""
        if node.lock is not None:
            lock = node.lock
            self.loop.at(self.loop.t + self.rng.uniform(0.05, 1.0), lock.on_store_change)

    def pg_killed(self, node: Node, why: str) -> None:
        self.checks.pg_killed(node, why)
        node.pg.crash()
        self.pgops.bump(node)
        self.pg_changed(node)
        if node.postmaster is not None:
            node.postmaster.changed()

    def promote(self, node: Node) -> None:
        self.max_timeline += 1
        node.pg.promote(self.max_timeline)
        self.became_primary(node)

    def became_primary(self, node: Node) -> None:
        self.stats.promotions += 1
        self.trace.note(node.name, f"became primary on timeline {node.pg.timeline}")
        self.checks.became_primary(node)

    def set_names(self, node: Node, value: str) -> None:
        node.pg.names = value
        self.trace.note(node.name, f"synchronous_standby_names = {value!r}")
        self.checks.names_changed(node)
        self.repl.release(node)
        self.dirty = True

    def source(self, node: Node, names: list[str]) -> Node | None:
        for name in names:
            source = self.by_name.get(name)
            if (
                source is not None
                and source.up
                and source.pg.running
                and not source.pg.frozen
                and self.net.peer_up(node.name, name)
            ):
                return source
        return None

    # -- the goal ------------------------------------------------------------------------------

    def converged(self) -> bool:
        """One primary holding the lock, every other member streaming from it."""
        lock = self.store.leader
        if lock is None:
            return False
        primary = self.by_name[lock.name]
        if not (primary.agent_runs and primary.pg.writes_open):
            return False
        connected = self.repl.connected_to
        return all(
            n is primary or (n.agent_runs and connected[n.name] == primary.name) for n in self.nodes
        )

    def promotable(self) -> list[str]:
        """Who the spec lets take a free lock, judged from the store's own records.

        May be promoted (tags), and either the last leader, or within
        maximum_lag_on_failover of its position (none after a clean release)
        and -- in synchronous mode -- published as a synchronous standby.
        When nobody is, staying without a primary is the specified outcome.
        """
        status = self.store.status
        sync = self.store.value("sync")
        cfg = self.params.config
        names = []
        for node in self.nodes:
            if not node.up or not _may_promote(node) or node.pg.data_empty:
                continue
            if status is None or node.name == status.name:
                names.append(node.name)
                continue
            allowance = 0 if status.clean else cfg.maximum_lag_on_failover
            within = status.optime - len(node.pg.wal) <= allowance
            synced = not self.checks.sync_mode or (
                sync is not None and MemberName(node.name) in getattr(sync, "sync_standbys", ())
            )
            if within and synced:
                names.append(node.name)
        return names


def _may_promote(node: Node) -> bool:
    return not node.tags.nofailover and node.tags.failover_priority > 0
