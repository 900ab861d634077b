"""plan(): one row per rule, then a property over every sequence of steps.

Rows read: the picture (sync key, postgresql.conf, pg_stat_replication,
config) and the single step the rule takes next.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sync_builders import (
    OFF_CONFIG,
    ON,
    QUORUM,
    B,
    config,
    key,
    member,
    pg,
    row,
    view,
)

from actors.sync_replication.names import parse
from actors.sync_replication.rules import StepKind, SyncPlan, SyncReason, candidates, plan
from messages.base import MemberName
from messages.cluster import ClusterView, PgState, Role, SyncState
from messages.config import DynamicConfig, SyncMode
from messages.postgres import PostgresStatus

P = MemberName("p")
NOTHING, SET, SHRINK, PUBLISH, DELETE = (
    StepKind.NOTHING,
    StepKind.SET_NAMES,
    StepKind.SHRINK,
    StepKind.PUBLISH,
    StepKind.DELETE_KEY,
)
R = SyncReason


def step(kind: StepKind, reason: SyncReason, arg: Any = None) -> SyncPlan:
    if kind is SET:
        return SyncPlan(kind=kind, reason=reason, names=arg)
    return SyncPlan(kind=kind, reason=reason, state=arg)


FIRST_A = 'FIRST 1 ("a")'
CASES: list[tuple[str, PostgresStatus, ClusterView, SyncPlan, int]] = [
    # -- who acts
    ("a replica does nothing", pg(role=Role.REPLICA), view(), step(NOTHING, R.NOT_LEADING), 0),
    (
        "a primary without the lock does nothing",
        pg(),
        view(leader="a"),
        step(NOTHING, R.NOT_LEADING),
        0,
    ),
    (
        "a primary still starting does nothing",
        pg(state=PgState.STARTING),
        view(),
        step(NOTHING, R.NOT_LEADING),
        0,
    ),
    ("no config yet: nothing", pg(), view(cfg=None), step(NOTHING, R.NO_CONFIG), 0),
    # -- synchronous mode off
    (
        "off: the sync key goes first",
        pg(FIRST_A),
        view(key("a"), cfg=OFF_CONFIG),
        step(DELETE, R.OFF_DELETE_KEY),
        0,
    ),
    (
        "off: then the names",
        pg(FIRST_A),
        view(key(leader=None), cfg=OFF_CONFIG),
        step(SET, R.OFF_CLEAR_NAMES, ""),
        0,
    ),
    (
        "off and clear: nothing",
        pg(""),
        view(key(leader=None), cfg=OFF_CONFIG),
        step(NOTHING, R.OFF),
        0,
    ),
    # -- the key is this leader's before anything else
    (
        "no key: claim it",
        pg("", row("a")),
        view(key(leader=None)),
        step(SHRINK, R.CLAIM_KEY, key()),
        0,
    ),
    (
        "the previous leader's key: claim it with nobody",
        pg(FIRST_A, row("a", "sync")),
        view(key("p", "a", leader="old")),
        step(SHRINK, R.CLAIM_KEY, key()),
        0,
    ),
    # -- adding: names first, then publish once acknowledged and caught up
    (
        "a streaming standby is named first",
        pg("", row("a")),
        view(key()),
        step(SET, R.SET_NAMES, FIRST_A),
        0,
    ),
    (
        "named and acknowledged sync: publish",
        pg(FIRST_A, row("a", "sync")),
        view(key()),
        step(PUBLISH, R.PUBLISH, key("a")),
        1000,
    ),
    (
        "named but not yet sync: wait",
        pg(FIRST_A, row("a", "async")),
        view(key()),
        step(NOTHING, R.WAIT_FOR_STANDBYS),
        0,
    ),
    (
        "sync but behind the LSN the names took effect at: wait",
        pg(FIRST_A, row("a", "sync", flush=900)),
        view(key()),
        step(NOTHING, R.WAIT_FOR_STANDBYS),
        1000,
    ),
    (
        "published and named: in sync",
        pg(FIRST_A, row("a", "sync")),
        view(key("a")),
        step(NOTHING, R.IN_SYNC),
        0,
    ),
    # -- removing: unpublish first, then the names
    (
        "the sync standby left: unpublish it first",
        pg(FIRST_A, row("b")),
        view(key("a")),
        step(SHRINK, R.REVOKE, key()),
        0,
    ),
    (
        "then name the next one",
        pg(FIRST_A, row("b")),
        view(key()),
        step(SET, R.SET_NAMES, 'FIRST 1 ("b")'),
        0,
    ),
    (
        "a sync standby tagged nosync is unpublished",
        pg(FIRST_A, row("a", "sync")),
        view(key("a"), members=(member("a", nosync=True),)),
        step(SHRINK, R.REVOKE, key()),
        0,
    ),
    (
        "a published standby the names lack is unpublished at once",
        pg('FIRST 1 ("b")', row("a"), row("b", "sync")),
        view(key("a", "b")),
        step(SHRINK, R.REVOKE, key("b")),
        0,
    ),
    (
        "names we cannot parse name nobody: unpublish",
        pg("FIRST 1 (a", row("a")),
        view(key("a")),
        step(SHRINK, R.REVOKE, key()),
        0,
    ),
    (
        "then replace them",
        pg("FIRST 1 (a", row("a")),
        view(key()),
        step(SET, R.SET_NAMES, FIRST_A),
        0,
    ),
    # -- who is chosen
    (
        "nosync standbys are never named",
        pg("", row("a", flush=900), row("b")),
        view(key(), members=(member("a"), member("b", nosync=True))),
        step(SET, R.SET_NAMES, FIRST_A),
        0,
    ),
    (
        "the most advanced is chosen",
        pg("", row("a", flush=900), row("b")),
        view(key()),
        step(SET, R.SET_NAMES, 'FIRST 1 ("b")'),
        0,
    ),
    ("equals by name", pg("", row("b"), row("a")), view(key()), step(SET, R.SET_NAMES, FIRST_A), 0),
    (
        "a published standby keeps its place",
        pg(FIRST_A, row("a", "sync", flush=900), row("b")),
        view(key("a")),
        step(NOTHING, R.IN_SYNC),
        0,
    ),
    (
        "a non-member walsender is ignored",
        pg("", row("pg_basebackup")),
        view(key()),
        step(NOTHING, R.IN_SYNC),
        0,
    ),
    (
        "not streaming is not a candidate",
        pg("", row("a", state="catchup")),
        view(key()),
        step(NOTHING, R.IN_SYNC),
        0,
    ),
    # -- strict mode
    (
        "strict without a standby: every commit waits for any one",
        pg("", row("a", state="catchup")),
        view(key(), cfg=config(ON, synchronous_mode_strict=True)),
        step(SET, R.SET_NAMES, "*"),
        0,
    ),
    (
        "strict: the lost standby is unpublished before '*'",
        pg(FIRST_A),
        view(key("a"), cfg=config(ON, synchronous_mode_strict=True)),
        step(SHRINK, R.REVOKE, key()),
        0,
    ),
    (
        "strict with '*' publishes nobody",
        pg("*", row("x", "sync")),
        view(key(), cfg=config(ON, synchronous_mode_strict=True)),
        step(NOTHING, R.IN_SYNC),
        0,
    ),
    (
        "strict: '*' gives way to a standby that streams",
        pg("*", row("a", "sync")),
        view(key(), cfg=config(ON, synchronous_mode_strict=True)),
        step(SET, R.SET_NAMES, FIRST_A),
        0,
    ),
    (
        "non-strict without a standby: names cleared",
        pg(FIRST_A),
        view(key()),
        step(SET, R.SET_NAMES, ""),
        0,
    ),
    # -- synchronous_node_count
    (
        "two synchronous standbys",
        pg("", row("a"), row("b"), row("c", flush=10)),
        view(key(), cfg=config(ON, synchronous_node_count=2)),
        step(SET, R.SET_NAMES, 'FIRST 2 ("a", "b")'),
        0,
    ),
    (
        "publishes both when both are sync",
        pg('FIRST 2 ("a", "b")', row("a", "sync"), row("b", "sync")),
        view(key(), cfg=config(ON, synchronous_node_count=2)),
        step(PUBLISH, R.PUBLISH, key("a", "b")),
        0,
    ),
    # -- quorum
    (
        "quorum names every candidate",
        pg("", row("a"), row("b", flush=2000), row("c")),
        view(key(), cfg=QUORUM),
        step(SET, R.SET_NAMES, 'ANY 1 ("b", "a", "c")'),
        0,
    ),
    (
        "quorum publishes with how many to consult",
        pg('ANY 1 ("a", "b", "c")', row("a", "quorum"), row("b", "quorum"), row("c", "quorum")),
        view(key(), cfg=QUORUM),
        step(PUBLISH, R.PUBLISH, key("a", "b", "c", quorum=2)),
        0,
    ),
    (
        "quorum: raise the quorum before the names grow",
        pg('ANY 1 ("a", "b")', row("a", "quorum"), row("b", "quorum"), row("c")),
        view(key("a", "b", quorum=1), cfg=QUORUM),
        step(SHRINK, R.REVOKE, key("a", "b", quorum=2)),
        0,
    ),
    (
        "quorum: then the names grow",
        pg('ANY 1 ("a", "b")', row("a", "quorum"), row("b", "quorum"), row("c")),
        view(key("a", "b", quorum=2), cfg=QUORUM),
        step(SET, R.SET_NAMES, 'ANY 1 ("a", "b", "c")'),
        0,
    ),
    (
        "quorum: a lower quorum waits for the names to be confirmed",
        pg('ANY 1 ("a", "b")', row("a", "quorum", flush=900), row("b", "quorum", flush=900)),
        view(key("a", "b", quorum=2), cfg=QUORUM),
        step(NOTHING, R.WAIT_FOR_STANDBYS),
        1000,
    ),
    (
        "quorum: and is written once one standby caught up",
        pg('ANY 1 ("a", "b")', row("a", "quorum"), row("b", "quorum", flush=900)),
        view(key("a", "b", quorum=2), cfg=QUORUM),
        step(PUBLISH, R.PUBLISH, key("a", "b", quorum=1)),
        1000,
    ),
    (
        "on -> quorum: the quorum rises first",
        pg(FIRST_A, row("a", "sync"), row("b")),
        view(key("a"), cfg=QUORUM),
        step(SHRINK, R.REVOKE, key("a", quorum=1)),
        0,
    ),
    (
        "quorum -> on: keep one, consult all until confirmed",
        pg('ANY 1 ("a", "b")', row("a", "quorum"), row("b", "quorum")),
        view(key("a", "b", quorum=1), cfg=ON),
        step(SHRINK, R.REVOKE, key("a", quorum=1)),
        0,
    ),
]


@pytest.mark.parametrize(
    ("status", "cluster", "expected", "names_lsn"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_plan_takes_the_one_next_step(
    status: PostgresStatus, cluster: ClusterView, expected: SyncPlan, names_lsn: int
) -> None:
    got = plan(
        P, status, cluster, cluster.config, status.synchronous_standby_names, names_lsn=names_lsn
    )
    assert got == expected


def test_candidates_are_streaming_members_most_advanced_first() -> None:
    status = pg(
        "",
        row("c", flush=500),
        row("a", flush=900),
        row("b", flush=900),
        row("d", state="catchup"),
        row("stranger"),
    )
    assert candidates(status, view()) == ("a", "b", "c")


# -- the property: rule 3 holds across any sequence of steps -----------------------------------

STANDBYS = ("a", "b", "c")


@dataclasses.dataclass
class World:
    """One primary "p": its postgresql.conf, the DCS key, and the standbys' connections."""

    names: str = ""
    key: SyncState = dataclasses.field(default_factory=SyncState)
    connected: set[str] = dataclasses.field(default_factory=set)
    nosync: set[str] = dataclasses.field(default_factory=set)
    flush: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(STANDBYS, 100))
    wal: int = 100
    names_lsn: int = 100
    acked_lsn: int = 0
    """The last commit acknowledged synchronously."""
    config: DynamicConfig = ON

    def status(self) -> PostgresStatus:
        parsed = parse(self.names)
        rows = []
        for name in STANDBYS:
            if name not in self.connected:
                continue
            if parsed.is_off or not (parsed.wildcard or name in parsed.named):
                sync = "async"
            elif parsed.method.value == "ANY":
                sync = "quorum"
            else:  # FIRST: the first `num` connected in list order (or any, for '*')
                order = [n for n in parsed.names if n in self.connected or n == "*"]
                sync = "sync" if name in order[: parsed.num] or "*" in order else "potential"
            rows.append(row(name, sync, flush=self.flush[name]))
        return pg(self.names, *rows, wal=self.wal)

    def view(self) -> ClusterView:
        members = tuple(member(n, nosync=n in self.nosync) for n in ("p", *STANDBYS))
        return view(self.key, cfg=self.config, members=members)

    def commit(self, size: int, turn: int = 0) -> None:
        """A commit, acknowledged by the standbys the names need (for ANY: whichever, by `turn`)."""
        self.wal += size
        parsed = parse(self.names)
        if parsed.is_off or parsed.wildcard:
            return  # not a synchronous commit: nothing to keep findable
        rows = self.status().replication
        if parsed.method.value == "FIRST":
            ackers = [r.application_name for r in rows if r.sync_state == "sync"]
        else:
            quorum = [r.application_name for r in rows if r.sync_state == "quorum"]
            turn %= max(1, len(quorum))
            ackers = quorum[turn:] + quorum[:turn]
        if len(ackers) < parsed.num:
            return  # the commit waits; it is not acknowledged
        for name in ackers[: parsed.num]:
            self.flush[name] = self.wal
        self.acked_lsn = self.wal

    def check(self) -> None:
        """Rule 3; and a candidate consulting quorum+1 published standbys finds every commit."""
        parsed = parse(self.names)
        if self.key.leader != "p" or not self.key.sync_standbys:
            return
        assert {s.casefold() for s in self.key.sync_standbys} <= parsed.named, (
            self.key,
            self.names,
        )
        needed = parsed.quorum_needed()
        assert needed is not None and self.key.quorum >= needed, (self.key, self.names)
        lagging = [s for s in self.key.sync_standbys if self.flush[s] < self.acked_lsn]
        assert len(lagging) <= self.key.quorum, (self.key, self.names, self.flush, self.acked_lsn)


def apply(world: World, step_: SyncPlan) -> None:
    """Apply a step as the postmaster or the DCS would, checking publish-time acknowledgement."""
    if step_.kind is StepKind.SET_NAMES:
        assert step_.names is not None
        if not parse(world.names).equivalent(parse(step_.names)):
            world.names_lsn = world.wal
        world.names = step_.names
    elif step_.kind is StepKind.DELETE_KEY:
        world.key = SyncState()
    elif step_.state is not None:
        added = step_.state.sync_standbys - world.key.sync_standbys
        acked = {
            r.application_name
            for r in world.status().replication
            if r.sync_state in ("sync", "quorum")
        }
        assert added <= acked, f"published {added} not acknowledged synchronous ({acked})"
        assert all(world.flush[s] >= world.names_lsn for s in added), "published before caught up"
        world.key = step_.state


events = st.one_of(
    st.tuples(st.just("connect"), st.sampled_from(STANDBYS)),
    st.tuples(st.just("disconnect"), st.sampled_from(STANDBYS)),
    st.tuples(st.just("nosync"), st.sampled_from(STANDBYS)),
    st.tuples(st.just("catch_up"), st.sampled_from(STANDBYS)),
    st.tuples(st.just("write"), st.tuples(st.integers(1, 50), st.integers(0, 2))),
    st.tuples(st.just("mode"), st.sampled_from(SyncMode)),
    st.tuples(st.just("strict"), st.booleans()),
    st.tuples(st.just("count"), st.integers(1, 3)),
)


def world_event(world: World, event: tuple[str, Any]) -> None:
    kind, arg = event
    if kind == "connect":
        world.connected.add(arg)
    elif kind == "disconnect":
        world.connected.discard(arg)
    elif kind == "nosync":
        world.nosync ^= {arg}
    elif kind == "catch_up":
        world.flush[arg] = world.wal if arg in world.connected else world.flush[arg]
    elif kind == "write":
        world.commit(*arg)
    elif kind == "mode":
        world.config = dataclasses.replace(world.config, synchronous_mode=arg)
    elif kind == "strict":
        world.config = dataclasses.replace(world.config, synchronous_mode_strict=arg)
    elif kind == "count":
        world.config = dataclasses.replace(world.config, synchronous_node_count=arg)


def run_steps(world: World, count: int) -> None:
    for _ in range(count):
        status, cluster = world.status(), world.view()
        got = plan(P, status, cluster, cluster.config, world.names, names_lsn=world.names_lsn)
        if got.kind is StepKind.NOTHING:
            return
        apply(world, got)
        world.check()


@settings(max_examples=1500, deadline=None)
@given(
    st.sampled_from([ON, QUORUM]),
    st.sets(st.sampled_from(STANDBYS)),
    st.lists(st.tuples(events, st.integers(0, 4)), max_size=30),
)
def test_rule_3_holds_for_any_sequence_of_steps(
    start: DynamicConfig, connected: set[str], script: list[tuple[tuple[str, Any], int]]
) -> None:
    """After each change in the world the rule takes up to `steps` steps (it may lag)."""
    world = World(config=start, connected=connected)
    for event, steps in script:
        world_event(world, event)
        world.check()
        run_steps(world, steps)


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=30))
def test_steps_converge_to_the_wanted_standbys(script: list[tuple[str, Any]]) -> None:
    world = World()
    for event in script:
        world_event(world, event)
    for name in world.connected:
        world.flush[name] = world.wal
    run_steps(world, 20)
    final = plan(
        P, world.status(), world.view(), world.config, world.names, names_lsn=world.names_lsn
    )
    assert final.kind is StepKind.NOTHING
    if world.config.synchronous_mode is not SyncMode.OFF:
        eligible = world.connected - world.nosync
        published = set(world.key.sync_standbys)
        assert published <= eligible
        assert bool(published) == bool(eligible)
    else:
        assert world.names == "" and world.key == SyncState()


def test_the_world_model_names_b_after_a_leaves() -> None:
    world = World(connected={"a", "b"})
    world.flush.update(a=100, b=100)
    run_steps(world, 10)
    assert world.key.sync_standbys == {"a"}
    world.connected.discard("a")
    run_steps(world, 10)
    assert world.key.sync_standbys == {B}
    assert world.names == 'FIRST 1 ("b")'


def test_a_lower_quorum_waits_until_the_last_commit_is_on_enough_named_standbys() -> None:
    world = World(connected={"a", "b", "c"}, config=QUORUM)
    world.flush.update(a=100, b=100, c=100)
    run_steps(world, 10)
    assert world.key == key("a", "b", "c", quorum=2)
    world.commit(10, turn=2)  # only c has it
    world.connected.discard("c")
    run_steps(world, 10)
    world.check()
    assert world.names == 'ANY 1 ("a", "b")'
    assert world.key == key("a", "b", quorum=2)  # both must be consulted until one catches up
    world.flush["a"] = world.wal
    run_steps(world, 10)
    assert world.key == key("a", "b", quorum=1)
