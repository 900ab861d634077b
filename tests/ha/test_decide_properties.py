"""Properties of decide() over arbitrary views: the safety-relevant promises, whatever the input.

The table in test_decide.py shows each rule once; these check that no
combination of facts makes decide() break the promises the safety rules
rest on.
"""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.ha.decide import decide
from messages.base import Lsn, MemberName, Timeline
from messages.cluster import ClusterView, LeaderRecord, PgState, Role, SyncState
from messages.config import DynamicConfig, StopMode, SyncMode, Tags
from messages.dcs import AcquireLock
from messages.ha import ActionKind, Decision, LocalView
from messages.postgres import Promote, StartPostgres, StopPostgres

from .builders import CONFIG, NOW, SYSID, member, pg

NAMES = ("a", "b", "c")

configs = st.builds(
    lambda pause, failsafe, mode: dataclasses.replace(
        CONFIG, pause=pause, failsafe_mode=failsafe, synchronous_mode=mode
    ),
    st.booleans(),
    st.booleans(),
    st.sampled_from(SyncMode),
)
statuses = st.builds(
    lambda state, role, wal, tl, shutdown, empty: pg(
        state, role, wal=wal, timeline=tl, shutdown_role=shutdown, data_dir_empty=empty
    ),
    st.sampled_from(PgState),
    st.sampled_from(Role),
    st.integers(0, 3000),
    st.integers(0, 3),
    st.sampled_from(Role),
    st.booleans(),
)
leaders = st.one_of(
    st.none(),
    st.builds(
        lambda n, age: LeaderRecord(name=MemberName(n), ttl_s=30.0, observed_change_at=NOW - age),
        st.sampled_from(NAMES),
        st.floats(0, 60),
    ),
)
members = st.lists(
    st.builds(
        lambda n, role, wal, nofailover: member(n, role, wal=wal, tags=Tags(nofailover=nofailover)),
        st.sampled_from(NAMES[1:]),
        st.sampled_from(Role),
        st.integers(0, 3000),
        st.booleans(),
    ),
    max_size=2,
    unique_by=lambda m: m.name,
)
clusters = st.builds(
    lambda leader, ms, init, sync, last: ClusterView(
        initialize=init,
        config=CONFIG,
        leader=leader,
        members=tuple(ms),
        sync=SyncState(leader=MemberName("b"), sync_standbys=frozenset(map(MemberName, sync))),
        last_leader_optime=Lsn(1000),
        last_leader_name=MemberName(last) if last else None,
    ),
    leaders,
    members,
    st.sampled_from((None, "", SYSID)),
    st.lists(st.sampled_from(NAMES), max_size=2),
    st.sampled_from((None, *NAMES)),
)
locals_ = st.builds(
    lambda status, renewed, reachable, claimed, inflight, action, confirmed: LocalView(
        name=MemberName("a"),
        pg=status,
        lease_renewed_at=renewed,
        dcs_reachable=reachable,
        init_claimed=claimed,
        lock_op_in_flight=inflight,
        action=action,
        failsafe_until=confirmed,
    ),
    statuses,
    st.one_of(st.none(), st.floats(NOW - 60, NOW)),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.one_of(st.none(), st.sampled_from(ActionKind)),
    st.one_of(st.none(), st.floats(NOW - 30, NOW + 60)),
)


def holds(view: ClusterView) -> bool:
    return view.leader is not None and view.leader.name == "a"


def live_other(view: ClusterView) -> bool:
    leader = view.leader
    return leader is not None and leader.name != "a" and NOW - leader.observed_change_at < 30.0


def stops(decision: Decision) -> bool:
    return any(
        isinstance(a, StopPostgres) and a.mode is StopMode.IMMEDIATE for a in decision.actions
    )


@settings(max_examples=400, deadline=None)
@given(clusters, locals_, configs)
def test_a_primary_without_the_lock_is_stopped_at_once(
    view: ClusterView, me: LocalView, cfg: DynamicConfig
) -> None:
    """Unless bootstrapping it (init claimed, nobody leads) or paused, or already stopping.

    Or the DCS holds no cluster at all (wiped): then only a running primary may
    claim the initialise key, nobody may take the lock without it, and the
    claim re-creates the cluster around the data that has every commit.
    Or it leads by failsafe, every member's promise still running: it takes the
    free lock back instead.
    """
    running_primary = me.pg.state is PgState.RUNNING and me.pg.role is Role.PRIMARY
    wiped = view.initialize is None and view.leader is None and me.dcs_reachable
    bootstrapping = (me.init_claimed and view.leader is None) or wiped
    promised = me.failsafe_until is not None and me.failsafe_until - cfg.retry_timeout_s > NOW
    back_from_failsafe = cfg.failsafe_mode and view.leader is None and promised
    if not running_primary or holds(view) or bootstrapping or cfg.pause or back_from_failsafe:
        return
    if me.action is ActionKind.STOP:
        return
    assert stops(decide(view, me, cfg, NOW))


@settings(max_examples=400, deadline=None)
@given(clusters, locals_, configs)
def test_nobody_races_for_a_lock_that_is_live_by_its_own_clock(
    view: ClusterView, me: LocalView, cfg: DynamicConfig
) -> None:
    decision = decide(view, me, cfg, NOW)
    if live_other(view):
        assert not any(isinstance(a, AcquireLock) for a in decision.actions)


@settings(max_examples=400, deadline=None)
@given(clusters, locals_, configs)
def test_only_the_lock_holder_or_the_bootstrapper_makes_a_primary(
    view: ClusterView, me: LocalView, cfg: DynamicConfig
) -> None:
    decision = decide(view, me, cfg, NOW)
    makes_primary = any(
        isinstance(a, Promote) or (isinstance(a, StartPostgres) and a.role is Role.PRIMARY)
        for a in decision.actions
    )
    if makes_primary:
        assert holds(view) or (me.init_claimed and view.leader is None)


@settings(max_examples=400, deadline=None)
@given(clusters, locals_, configs)
def test_a_lease_near_its_end_never_keeps_the_goal_primary(
    view: ClusterView, me: LocalView, cfg: DynamicConfig
) -> None:
    """The lease is the one the renewal wrote (the leader record's, here); in failsafe it
    runs while the members' promises do; in pause mode keeping the goal is the point."""
    if not holds(view) or me.lease_renewed_at is None:
        return
    assert view.leader is not None
    deadline = me.lease_renewed_at + view.leader.ttl_s
    if cfg.failsafe_mode and me.failsafe_until is not None:
        deadline = max(deadline, me.failsafe_until)
    if deadline - cfg.retry_timeout_s > NOW:
        return
    decision = decide(view, me, cfg, NOW)
    if not cfg.pause:
        assert decision.goal is Role.REPLICA
        assert not any(isinstance(a, Promote | StartPostgres) for a in decision.actions)


def test_timelines_are_what_the_strategies_say() -> None:
    """A guard for the strategies above: pg() passes timeline and WAL through unchanged."""
    status = pg(PgState.RUNNING, Role.REPLICA, wal=7, timeline=2)
    assert (status.timeline, status.wal_position) == (Timeline(2), Lsn(7))
