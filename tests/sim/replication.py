"""Streaming replication, clients' commits and their acknowledgements.

A replica streams from its upstream while both run, the link between them is
up, neither host is frozen, and its WAL is a prefix of the upstream's.  It
receives each record `lag` seconds after it was written (its own lag; a
lagging member's is seconds), and counts as caught up ('streaming' in
pg_stat_replication, rather than 'catchup') once it has all of it.

Clients write to every server that takes writes (so a split brain shows up
as writes on two timelines).  A commit is acknowledged as PostgreSQL would:
at once with synchronous_standby_names empty; else when the standbys it names
have flushed it -- FIRST k: the first k named standbys that stream caught up
from this primary; ANY k: any k of them.  With too few of them, commits wait.
Emptying synchronous_standby_names releases every waiting commit.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from actors.sync_replication.names import Method, NamesSyntaxError, StandbyNames, parse
from messages.base import Lsn
from messages.postgres import StandbyReplication

from .pg import is_prefix

if TYPE_CHECKING:
    from .node import Node
    from .world import World

_PARSED: dict[str, StandbyNames | None] = {}


def parsed_names(text: str) -> StandbyNames | None:
    """The parsed value; None when off or unparseable (the server would keep it off)."""
    if text not in _PARSED:
        try:
            value: StandbyNames | None = parse(text)
        except NamesSyntaxError:
            value = None
        _PARSED[text] = None if value is None or value.is_off else value
    return _PARSED[text]


class Replication:
    def __init__(self, world: World) -> None:
        self.world = world
        self.write_time: list[float] = [0.0]
        """Index = write id: when it was committed locally."""
        self.pending: dict[str, list[tuple[int, int]]] = {n: [] for n in world.by_name}
        self.acked: list[tuple[int, int, str, float]] = []
        """(position, write id, acknowledging primary, time)."""
        self.pumping: set[str] = set()
        self.connected_to: dict[str, str | None] = dict.fromkeys(world.by_name)

    # -- topology ---------------------------------------------------------------------

    def streams(self, replica: Node, upstream: Node) -> bool:
        rpg, upg = replica.pg, upstream.pg
        return (
            rpg.upstream == upstream.name
            and rpg.is_replica
            and (upg.running or upg.draining)
            and not rpg.frozen
            and not upg.frozen
            and self.world.net.peer_up(replica.name, upstream.name)
            and is_prefix(rpg.wal, upg.wal)
        )

    def upstream_of(self, replica: Node) -> Node | None:
        name = replica.pg.upstream
        up = self.world.by_name.get(name) if name is not None else None
        return up if up is not None and self.streams(replica, up) else None

    def walsenders(self, primary: Node) -> frozenset[str]:
        return frozenset(n for n, up in self.connected_to.items() if up == primary.name)

    def refresh(self) -> None:
        """Links, states or upstreams changed: who streams from whom now."""
        for node in self.world.nodes:
            up = self.upstream_of(node)
            was = self.connected_to[node.name]
            now = None if up is None else up.name
            if now == was:
                if up is not None:
                    self._pump_soon(node, up)
                continue
            self.connected_to[node.name] = now
            node.pg.caught_up = False
            for name in (was, now):
                other = self.world.by_name.get(name) if name else None
                if other is not None and other.postmaster is not None:
                    other.postmaster.changed()  # a walsender came or went
            if up is not None:
                self._pump_soon(node, up, connect=True)
            if was is not None:
                self.release(self.world.by_name[was])

    # -- streaming ------------------------------------------------------------------------

    def _pump_soon(self, replica: Node, upstream: Node, connect: bool = False) -> None:
        if replica.name in self.pumping:
            return
        rwal, uwal = replica.pg.wal, upstream.pg.wal
        if len(rwal) >= len(uwal):
            if not replica.pg.caught_up:
                replica.pg.caught_up = True
                self.release(upstream)
            return
        lag = self.world.lags[replica.index]
        first = self.write_time[uwal[len(rwal)]] + lag
        loop = self.world.loop
        when = max(first, loop.t + (0.02 if connect else 0.0))
        self.pumping.add(replica.name)
        loop.at(when, self._pump, replica)

    def _pump(self, replica: Node) -> None:
        self.pumping.discard(replica.name)
        upstream = self.upstream_of(replica)
        if upstream is None:
            return
        rpg, upg = replica.pg, upstream.pg
        horizon = self.world.loop.t - self.world.lags[replica.index] + 1e-9
        times, uwal = self.write_time, upg.wal
        end = len(rpg.wal)
        while end < len(uwal) and times[uwal[end]] <= horizon:
            end += 1
        if end > len(rpg.wal):
            self.receive(replica, upstream, end)
        self._pump_soon(replica, upstream)

    def receive(self, replica: Node, upstream: Node, upto: int) -> None:
        rpg, upg = replica.pg, upstream.pg
        rpg.wal.extend(upg.wal[len(rpg.wal) : upto])
        rpg.follow_timeline(upg)
        if len(rpg.wal) >= len(upg.wal):
            rpg.caught_up = True
        self.release(upstream)
        self.kick(replica)

    def kick(self, source: Node) -> None:
        """`source` has new WAL: its streaming replicas will receive it after their lag."""
        for node in self.world.nodes:
            if self.connected_to[node.name] == source.name and node.name not in self.pumping:
                self._pump_soon(node, source)

    def ship_all(self, primary: Node) -> None:
        """A clean shutdown: every connected walsender sends everything first."""
        for node in self.world.nodes:
            if node is not primary and self.streams(node, primary):
                self.receive(node, primary, len(primary.pg.wal))

    # -- clients ----------------------------------------------------------------------------

    def client_write(self) -> None:
        world = self.world
        for node in world.nodes:
            pg = node.pg
            if not (node.up and pg.writes_open):
                continue
            write_id = len(self.write_time)
            self.write_time.append(world.loop.t)
            pg.wal.append(write_id)
            self.pending[node.name].append((len(pg.wal) - 1, write_id))
            self.release(node)
            self.kick(node)

    def drop_pending(self, node: Node) -> None:
        """The server stopped taking writes: waiting commits get an error, not an ack."""
        self.pending[node.name].clear()

    def release(self, primary: Node) -> None:
        pending = self.pending[primary.name]
        if not pending or not primary.pg.writes_open:
            return
        reach = self.durable_upto(primary)
        if reach <= pending[0][0]:
            return
        cut = bisect.bisect_left(pending, (reach, -1))
        now = self.world.loop.t
        self.acked.extend((pos, wid, primary.name, now) for pos, wid in pending[:cut])
        self.world.stats.acked_writes += cut
        del pending[:cut]

    def durable_upto(self, primary: Node) -> int:
        """How far commits are acknowledged: all of them, or what the sync standbys flushed."""
        names = parsed_names(primary.pg.names)
        if names is None:
            return len(primary.pg.wal)
        flushes = self._sync_flushes(primary, names)
        if flushes is None:
            return 0
        return min(flushes) if names.method is Method.FIRST else flushes[-1]

    def _sync_flushes(self, primary: Node, names: StandbyNames) -> list[int] | None:
        """FIRST k: the flush positions of the k standbys acting as synchronous (None: too
        few); ANY k: the k highest, in descending order."""
        ready = self._ready(primary)
        k = max(1, names.num)
        if names.method is Method.FIRST:
            chosen: list[Node] = []
            for name in names.names:
                for node in ready:
                    if node not in chosen and (
                        name == "*" or node.name.casefold() == name.casefold()
                    ):
                        chosen.append(node)
                        break
                if len(chosen) >= k:
                    return [len(n.pg.wal) for n in chosen]
            return None
        named = names.named
        flushes = sorted(
            (len(n.pg.wal) for n in ready if names.wildcard or n.name.casefold() in named),
            reverse=True,
        )
        return flushes[:k] if len(flushes) >= k else None

    def _ready(self, primary: Node) -> list[Node]:
        """Standbys streaming caught up from `primary` (the only ones a commit can wait on)."""
        return [
            n
            for n in self.world.nodes
            if self.connected_to[n.name] == primary.name and n.pg.caught_up
        ]

    def can_acknowledge(self, node: Node) -> bool:
        pg = node.pg
        if not (node.up and pg.writes_open):
            return False
        names = parsed_names(pg.names)
        return names is None or self._sync_flushes(node, names) is not None

    def rows(self, primary: Node) -> tuple[StandbyReplication, ...]:
        """pg_stat_replication as the primary reports it."""
        names = parsed_names(primary.pg.names)
        sync: set[str] = set()
        if names is not None and names.method is Method.FIRST:
            flushes_of = self._first_sync(primary, names)
            sync = {n.name for n in flushes_of}
        rows = []
        for node in self.world.nodes:
            if self.connected_to[node.name] != primary.name:
                continue
            state = "streaming" if node.pg.caught_up else "catchup"
            rows.append(
                StandbyReplication(
                    application_name=node.name,
                    state=state,
                    sync_state=_sync_state(node, names, sync),
                    flush_lsn=Lsn(len(node.pg.wal)),
                    replay_lsn=Lsn(len(node.pg.wal)),
                )
            )
        return tuple(rows)

    def _first_sync(self, primary: Node, names: StandbyNames) -> list[Node]:
        ready = self._ready(primary)
        chosen: list[Node] = []
        for name in names.names:
            for node in ready:
                if node not in chosen and (name == "*" or node.name.casefold() == name.casefold()):
                    chosen.append(node)
                    break
            if len(chosen) >= max(1, names.num):
                break
        return chosen


def _sync_state(node: Node, names: StandbyNames | None, sync: set[str]) -> str:
    if names is None or not node.pg.caught_up:
        return "async"
    listed = names.wildcard or node.name.casefold() in names.named
    if not listed:
        return "async"
    if names.method is Method.ANY:
        return "quorum"
    return "sync" if node.name in sync else "potential"
