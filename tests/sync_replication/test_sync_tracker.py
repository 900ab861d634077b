"""The tracker: steps in flight, stale views, unknown outcomes, fences; then a world of mailboxes.

The property at the end runs the real tracker against a model of the other
actors -- the postmaster's and the leader-lock actor's mailboxes, the HA
actor forwarding statuses and views, writes with unknown outcomes, restarts of
any actor -- delivering messages in any order the mailboxes allow, and checks
safety rule 3 on the server's and the DCS's real state after every move.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sync_builders import QUORUM, config, key, member, pg, row, view

from actors.sync_replication import tracker as tr
from actors.sync_replication.names import parse
from actors.sync_replication.rules import NO_KEY, StepKind
from messages.base import ActorName, Lsn, MemberName, Message
from messages.cluster import ClusterView, SyncState
from messages.config import DynamicConfig, SyncMode
from messages.dcs import DcsView
from messages.postgres import PostgresStatus, SetSynchronousStandbyNames
from messages.sync import DeleteSyncState, SyncStateWritten, WriteOutcome, WriteSyncState

ME = ActorName("sync_replication")
FIRST_A = 'FIRST 1 ("a")'
PM, LL = tr.Target.POSTMASTER, tr.Target.LEADER_LOCK


def fresh() -> tr.Tracker:
    return tr.Tracker(member=MemberName("p"), reply_to=ME)


def feed(t: tr.Tracker, *msgs: Message, now: float = 0.0) -> tuple[tr.Tracker, tr.Step]:
    step = tr.Step(plan=None)
    for msg in msgs:
        if isinstance(msg, PostgresStatus):
            t = tr.on_pg(t, msg)
        elif isinstance(msg, DcsView):
            t = tr.on_view(t, msg)
        elif isinstance(msg, SyncStateWritten):
            t = tr.on_written(t, msg)
        t, step = tr.next_step(t, now, 10.0)
    return t, step


def dcs(sync: SyncState, cfg: DynamicConfig | None = None) -> DcsView:
    return DcsView(view=view(sync, cfg=cfg or config()))


def answer(step: tr.Step, outcome: WriteOutcome, current: SyncState) -> SyncStateWritten:
    ((_, msg),) = step.sends
    assert isinstance(msg, WriteSyncState | DeleteSyncState)
    return SyncStateWritten(request_id=msg.request_id, outcome=outcome, current=current)


def proven(t: tr.Tracker) -> tr.Tracker:
    return dataclasses.replace(t, key_proven=True, names_proven=True)


# -- one behaviour each ------------------------------------------------------------------


def test_nothing_is_sent_before_both_a_status_and_a_view_arrived() -> None:
    _, step = feed(fresh(), pg("", row("a")))
    assert step.sends == () and step.waiting is not None


def test_a_names_step_is_done_only_when_a_status_shows_exactly_its_text() -> None:
    t, step = feed(proven(fresh()), dcs(key()), pg("", row("a")))
    assert step.sends == ((PM, SetSynchronousStandbyNames(value=FIRST_A)),)
    t, step = feed(t, pg("", row("a")))  # an older status: still in flight, nothing resent
    assert step.sends == () and t.names is not None
    t, step = feed(t, pg('first 1 ("a")', row("a", "sync")))  # equivalent is not enough
    assert t.names is not None
    t, step = feed(t, pg(FIRST_A, row("a", "sync")))
    assert t.names is None
    assert step.sends[0][0] is LL and isinstance(step.sends[0][1], WriteSyncState)


def test_a_names_step_not_seen_is_sent_again_after_a_while() -> None:
    t, _ = feed(proven(fresh()), dcs(key()), pg("", row("a")), now=0.0)
    _, step = feed(t, pg("", row("a")), now=11.0)
    assert step.sends == ((PM, SetSynchronousStandbyNames(value=FIRST_A)),)


def test_publishing_waits_while_a_names_step_is_in_flight_but_unpublishing_does_not() -> None:
    t, _ = feed(proven(fresh()), dcs(key()), pg("", row("a")))
    assert t.names is not None
    # a standby published earlier, now gone: unpublishing is always safe
    t, step = feed(t, dcs(key("b")))
    assert isinstance(step.sends[0][1], WriteSyncState)
    assert step.sends[0][1].state == key()


def test_nothing_else_goes_out_while_a_write_is_in_flight() -> None:
    t, step = feed(proven(fresh()), dcs(key(leader=None)), pg(""))
    assert step.plan is not None and step.plan.kind is StepKind.SHRINK
    _, step = feed(t, pg("", row("a")), dcs(key(leader=None)))
    assert step.sends == () and step.waiting == "a sync key write is in flight"


def test_views_older_than_our_write_are_not_believed() -> None:
    t, step = feed(proven(fresh()), dcs(key()), pg(FIRST_A, row("a", "sync")))
    assert step.plan is not None and step.plan.kind is StepKind.PUBLISH
    t, _ = feed(t, answer(step, WriteOutcome.APPLIED, key("a")))
    assert t.key == key("a")
    # a view the leader-lock actor published before the write, forwarded late
    t, step = feed(t, dcs(key()), pg("", row("a")))
    assert t.key == key("a")
    assert step.plan is not None and step.plan.kind is StepKind.SHRINK  # not SET_NAMES("")
    t, _ = feed(t, answer(step, WriteOutcome.APPLIED, key()), dcs(key("a")), dcs(key()))
    assert t.key == key() and t.believe is None


def test_a_write_with_an_unknown_outcome_is_proven_before_names_change() -> None:
    t, publish = feed(proven(fresh()), dcs(key()), pg(FIRST_A, row("a", "sync")))
    t, _ = feed(t, pg(FIRST_A))  # "a" left: the names would drop it
    t, step = feed(t, answer(publish, WriteOutcome.UNKNOWN, key()))  # key("a") may have landed
    assert not t.key_proven
    ((target, msg),) = step.sends
    assert target is LL and isinstance(msg, WriteSyncState)
    assert (msg.state, msg.expected) == (key(), key())  # compare-and-set the key on itself
    t, step = feed(t, answer(step, WriteOutcome.APPLIED, key()))
    assert step.sends == ((PM, SetSynchronousStandbyNames(value="")),)


def test_a_fresh_start_restates_the_names_before_the_first_publish() -> None:
    t, step = feed(fresh(), dcs(key()), pg(FIRST_A, row("a", "sync")))
    assert step.sends == ((PM, SetSynchronousStandbyNames(value='first 1 ("a")')),)
    t, step = feed(t, pg('first 1 ("a")', row("a", "sync")))
    assert t.names_proven
    assert isinstance(step.sends[0][1], WriteSyncState) and step.sends[0][1].state == key("a")


def test_a_fresh_start_proves_an_absent_key_by_deleting_it_before_setting_names() -> None:
    t, step = feed(fresh(), dcs(NO_KEY, cfg=config(synchronous_mode=SyncMode.OFF)), pg(FIRST_A))
    ((target, msg),) = step.sends
    assert target is LL and msg == DeleteSyncState(request_id=1, expected=NO_KEY, reply_to=ME)
    _, step = feed(t, answer(step, WriteOutcome.APPLIED, NO_KEY))
    assert step.sends == ((PM, SetSynchronousStandbyNames(value="")),)


def test_an_answer_to_another_request_is_ignored() -> None:
    t, _ = feed(proven(fresh()), dcs(key(leader=None)), pg(""))
    stale = SyncStateWritten(request_id=99, outcome=WriteOutcome.APPLIED, current=key())
    t2, _ = feed(t, stale)
    assert t2.write == t.write


def test_a_restarted_target_takes_our_step_with_its_mailbox() -> None:
    t, _ = feed(proven(fresh()), dcs(key()), pg("", row("a")))
    assert tr.on_lost(t, PM).names is None
    t, _ = feed(proven(fresh()), dcs(key(leader=None)), pg(""))
    lost = tr.on_lost(t, LL)
    assert lost.write is None and not lost.key_proven


def test_the_names_lsn_is_where_the_names_took_effect_on_this_primary() -> None:
    t = tr.on_pg(fresh(), pg(FIRST_A, wal=500))
    t = tr.on_pg(t, pg('first 1 ("a")', wal=700))  # same meaning
    assert t.names_lsn == Lsn(500)
    t = tr.on_pg(t, pg('FIRST 1 ("b")', wal=900))
    assert t.names_lsn == Lsn(900)


# -- the world of mailboxes ----------------------------------------------------------------

STANDBYS = ("a", "b", "c")


@dataclasses.dataclass
class World:
    names: str = ""
    server_key: SyncState = dataclasses.field(default_factory=SyncState)
    cache_key: SyncState = dataclasses.field(default_factory=SyncState)
    connected: set[str] = dataclasses.field(default_factory=lambda: set(STANDBYS))
    nosync: set[str] = dataclasses.field(default_factory=set)
    flush: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(STANDBYS, 100))
    wal: int = 100
    names_lsn: int = 100
    acked_lsn: int = 0
    config: DynamicConfig = dataclasses.field(default_factory=config)
    now: float = 0.0
    pm_inbox: deque[Message] = dataclasses.field(default_factory=deque)
    ll_inbox: deque[Message] = dataclasses.field(default_factory=deque)
    ha_queue: deque[Message] = dataclasses.field(default_factory=deque)
    answers: deque[SyncStateWritten] = dataclasses.field(default_factory=deque)
    tracker: tr.Tracker = dataclasses.field(default_factory=fresh)

    # the server and the DCS

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
            else:
                order = [n for n in parsed.names if n in self.connected or n == "*"]
                sync = "sync" if name in order[: parsed.num] or "*" in order else "potential"
            rows.append(row(name, sync, flush=self.flush[name]))
        return pg(self.names, *rows, wal=self.wal)

    def cluster(self) -> ClusterView:
        members = tuple(member(n, nosync=n in self.nosync) for n in ("p", *STANDBYS))
        return view(self.cache_key, cfg=self.config, members=members)

    def commit(self, size: int, turn: int) -> None:
        self.wal += size
        parsed = parse(self.names)
        if parsed.is_off or parsed.wildcard:
            return
        rows = self.status().replication
        wanted = "sync" if parsed.method.value == "FIRST" else "quorum"
        ackers = [r.application_name for r in rows if r.sync_state == wanted]
        turn %= max(1, len(ackers))
        ackers = ackers[turn:] + ackers[:turn]
        if len(ackers) < parsed.num:
            return
        for name in ackers[: parsed.num]:
            self.flush[name] = self.wal
        self.acked_lsn = self.wal

    def check(self) -> None:
        parsed = parse(self.names)
        k = self.server_key
        if k.leader != "p" or not k.sync_standbys:
            return
        assert {s.casefold() for s in k.sync_standbys} <= parsed.named, (k, self.names)
        needed = parsed.quorum_needed()
        assert needed is not None and k.quorum >= needed, (k, self.names)
        lagging = [s for s in k.sync_standbys if self.flush[s] < self.acked_lsn]
        assert len(lagging) <= k.quorum, (k, self.names, self.flush, self.acked_lsn)

    # the other actors

    def postmaster(self) -> None:
        msg = self.pm_inbox.popleft()
        assert isinstance(msg, SetSynchronousStandbyNames)
        if not parse(self.names).equivalent(parse(msg.value)):
            self.names_lsn = self.wal
        self.names = msg.value
        self.ha_queue.append(self.status())

    def leader_lock(self, fault: int) -> None:
        msg = self.ll_inbox.popleft()
        assert isinstance(msg, WriteSyncState | DeleteSyncState)
        new = msg.state if isinstance(msg, WriteSyncState) else SyncState()
        outcome = WriteOutcome.REJECTED
        if self.cache_key == msg.expected and self.server_key == self.cache_key:
            if fault == 0:
                self._apply(new)
                self.cache_key, outcome = new, WriteOutcome.APPLIED
            else:  # no answer in time; fault 1: it landed all the same
                if fault == 1:
                    self._apply(new)
                outcome = WriteOutcome.UNKNOWN
        self.ha_queue.append(DcsView(view=self.cluster()))
        self.answers.append(
            SyncStateWritten(request_id=msg.request_id, outcome=outcome, current=self.cache_key)
        )

    def _apply(self, new: SyncState) -> None:
        added = new.sync_standbys - self.server_key.sync_standbys
        assert all(s.casefold() in parse(self.names).named for s in added), "published unnamed"
        assert all(self.flush[s] >= self.names_lsn for s in added), "published before caught up"
        self.server_key = new

    # the sync actor

    def deliver(self, msg: Message) -> None:
        t = self.tracker
        if isinstance(msg, PostgresStatus):
            t = tr.on_pg(t, msg)
        elif isinstance(msg, DcsView):
            t = tr.on_view(t, msg)
        elif isinstance(msg, SyncStateWritten):
            t = tr.on_written(t, msg)
        self.tracker, step = tr.next_step(t, self.now, 10.0)
        for target, out in step.sends:
            (self.pm_inbox if target is PM else self.ll_inbox).append(out)


changes = st.one_of(
    st.tuples(st.just("connect"), st.sampled_from(STANDBYS)),
    st.tuples(st.just("disconnect"), st.sampled_from(STANDBYS)),
    st.tuples(st.just("nosync"), st.sampled_from(STANDBYS)),
    st.tuples(st.just("catch_up"), st.sampled_from(STANDBYS)),
    st.tuples(st.just("commit"), st.tuples(st.integers(1, 50), st.integers(0, 2))),
    st.tuples(st.just("mode"), st.sampled_from(SyncMode)),
    st.tuples(st.just("strict"), st.booleans()),
    st.tuples(st.just("count"), st.integers(1, 3)),
    st.tuples(st.just("report_pg"), st.none()),
    st.tuples(st.just("refresh"), st.none()),
    st.tuples(st.just("tick"), st.floats(0, 20)),
    st.tuples(st.just("restart"), st.sampled_from(["sync", "postmaster", "leader_lock", "ha"])),
)
moves = st.one_of(
    st.tuples(st.just("run_postmaster"), st.none()),
    st.tuples(st.just("run_leader_lock"), st.sampled_from([0, 0, 0, 1, 2])),
    st.tuples(st.just("forward"), st.integers(1, 3)),
    st.tuples(st.just("answer"), st.none()),
)
world_events = st.one_of(changes, moves, moves)
"""Messages move twice as often as the world changes."""


def act(w: World, event: tuple[str, Any]) -> None:
    kind, arg = event
    if kind in ("connect", "disconnect", "nosync", "catch_up"):
        if kind == "connect":
            w.connected.add(arg)
        elif kind == "disconnect":
            w.connected.discard(arg)
        elif kind == "nosync":
            w.nosync ^= {arg}
        elif arg in w.connected:
            w.flush[arg] = w.wal
        w.ha_queue.append(w.status() if kind != "nosync" else DcsView(view=w.cluster()))
    elif kind == "commit":
        w.commit(*arg)
    elif kind in ("mode", "strict", "count"):
        field = {"mode": "synchronous_mode", "strict": "synchronous_mode_strict"}.get(
            kind, "synchronous_node_count"
        )
        w.config = dataclasses.replace(w.config, **{field: arg})
        w.ha_queue.append(DcsView(view=w.cluster()))
    elif kind == "report_pg":
        w.ha_queue.append(w.status())
    elif kind == "refresh":
        w.cache_key = w.server_key
        w.ha_queue.append(DcsView(view=w.cluster()))
    elif kind == "tick":
        w.now += arg
    elif kind == "run_postmaster" and w.pm_inbox:
        w.postmaster()
    elif kind == "run_leader_lock" and w.ll_inbox:
        w.leader_lock(arg)
    elif kind == "forward":
        for _ in range(arg):
            if w.ha_queue:
                w.deliver(w.ha_queue.popleft())
    elif kind == "answer" and w.answers:
        w.deliver(w.answers.popleft())
    elif kind == "restart":
        restart(w, arg)


def restart(w: World, who: str) -> None:
    """An actor restarts: its mailbox is gone; the sync actor learns of the others' restarts."""
    if who == "sync":
        w.tracker, w.answers = fresh(), deque()
    elif who == "postmaster":
        w.pm_inbox.clear()
        w.tracker = tr.on_lost(w.tracker, PM)
        w.ha_queue.append(w.status())
    elif who == "leader_lock":
        w.ll_inbox.clear()
        w.tracker = tr.on_lost(w.tracker, LL)
        w.ha_queue.append(DcsView(view=w.cluster()))
    else:
        w.ha_queue.clear()
        w.ha_queue.extend([w.status(), DcsView(view=w.cluster())])


def settle(w: World) -> None:
    """No more faults: run every mailbox until nothing moves."""
    for _ in range(60):
        w.cache_key = w.server_key
        w.now += 11.0
        w.ha_queue.extend([w.status(), DcsView(view=w.cluster())])
        while w.ha_queue or w.pm_inbox or w.ll_inbox or w.answers:
            if w.pm_inbox:
                w.postmaster()
            elif w.ll_inbox:
                w.leader_lock(0)
            elif w.answers:
                w.deliver(w.answers.popleft())
            else:
                w.deliver(w.ha_queue.popleft())
            w.check()
        for name in w.connected:
            w.flush[name] = w.wal


def play(script: list[tuple[str, Any]], start: DynamicConfig | None = None) -> World:
    """Run `script` checking rule 3 after every move, then let everything settle."""
    w = World(config=start or config())
    w.ha_queue.extend([w.status(), DcsView(view=w.cluster())])
    for event in script:
        act(w, event)
        w.check()
    settle(w)
    return w


CLAIM_AND_NAME_A = [("forward", 2), ("run_leader_lock", 0), ("answer", None)]


def test_a_publish_waits_for_a_names_step_still_in_the_postmasters_mailbox() -> None:
    play(
        [
            ("commit", (10, 0)),  # WAL moves on before "a" is named: "a" is behind
            *CLAIM_AND_NAME_A,
            ("run_postmaster", None),
            ("forward", 3),  # FIRST 1 ("a") seen; "a" not caught up yet
            ("disconnect", "a"),
            ("forward", 3),  # FIRST 1 ("b") goes out
            ("connect", "a"),
            ("catch_up", "a"),
            ("forward", 3),  # the old names, "a" caught up: publishing "a" must wait
            ("run_leader_lock", 0),
            ("run_postmaster", None),
        ]
    )


def test_a_fresh_actor_fences_names_steps_its_predecessor_left_in_flight() -> None:
    play(
        [
            ("commit", (10, 0)),
            *CLAIM_AND_NAME_A,
            ("run_postmaster", None),
            ("forward", 3),
            ("disconnect", "a"),
            ("forward", 3),  # FIRST 1 ("b") left in the postmaster's mailbox ...
            ("restart", "sync"),  # ... by an actor that is gone
            ("connect", "a"),
            ("catch_up", "a"),
            ("refresh", None),
            ("forward", 5),
            ("run_leader_lock", 0),
            ("run_postmaster", None),
            ("run_postmaster", None),
        ]
    )


def test_a_write_that_may_have_landed_is_proven_before_the_names_shrink() -> None:
    play(
        [
            *CLAIM_AND_NAME_A,
            ("run_postmaster", None),
            ("forward", 3),  # publishing "a" ...
            ("run_leader_lock", 1),  # ... lands, but the answer says unknown
            ("answer", None),  # the stale cache says no "a": publish again
            ("disconnect", "a"),
            ("forward", 5),
            ("run_leader_lock", 0),  # rejected: the DCS is not what the cache says
            ("answer", None),  # "a" is gone and the key unproven: names must not drop it yet
            ("run_postmaster", None),
            ("run_leader_lock", 0),
            ("answer", None),
            ("run_postmaster", None),
        ]
    )


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([config(), QUORUM, config(synchronous_mode_strict=True)]),
    st.lists(world_events, max_size=80),
)
def test_rule_3_holds_whatever_order_the_mailboxes_deliver_in(
    start: DynamicConfig, script: list[tuple[str, Any]]
) -> None:
    w = play(script, start)
    _, step = tr.next_step(w.tracker, w.now, 10.0)
    assert step.sends == (), step
    assert step.plan is not None and step.plan.kind is StepKind.NOTHING
    if w.config.synchronous_mode is SyncMode.OFF:
        assert (w.names, w.server_key) == ("", SyncState())
    else:
        eligible = w.connected - w.nosync
        assert set(w.server_key.sync_standbys) <= eligible
        assert bool(w.server_key.sync_standbys) == bool(eligible)
