"""The HA actor's bookkeeping reducer: how each event changes what decide() sees."""

from __future__ import annotations

import dataclasses

from actors.ha import state as ha
from actors.ha.decide import decide
from messages.cluster import ClusterView, FailoverRequest, PgState, Role
from messages.dcs import DcsView, LockOp, LockResult, RenewLock
from messages.ha import ActionDone, ActionKind, Decision, Reason
from messages.postgres import Promote, StartPostgres, StopPostgres

from .builders import NOW, cluster, led_by, lock, member, name, pg, primary

A = name("a")


def holding(renewed: float | None = NOW) -> ha.HaState:
    """Member a, holding the lock (renewed at `renewed`), PostgreSQL a running primary."""
    return ha.HaState(
        name=A,
        pg=primary(),
        view=led_by("a", member("b")),
        have_view=True,
        dcs_reachable=True,
        lease_renewed_at=renewed,
        lock_op_in_flight=True,
    )


def result(op: LockOp, ok: bool, detail: str = "", at: float = NOW) -> LockResult:
    return LockResult(op=op, ok=ok, started_at=at, detail=detail)


def test_a_successful_renewal_dates_the_lease_from_when_the_request_started() -> None:
    after = ha.on_lock_result(holding(NOW - 10), result(LockOp.RENEW, True, at=NOW - 1), NOW)
    assert after.lease_renewed_at == NOW - 1
    assert not after.lock_op_in_flight


def test_a_lost_renewal_forgets_the_lease_and_the_lock_at_once() -> None:
    after = ha.on_lock_result(holding(), result(LockOp.RENEW, False), NOW)
    assert after.lease_renewed_at is None
    assert after.view.leader is None


def test_an_unanswered_renewal_keeps_the_lease_we_proved() -> None:
    after = ha.on_lock_result(holding(NOW - 5), result(LockOp.RENEW, False, ha.UNREACHABLE), NOW)
    assert after.lease_renewed_at == NOW - 5
    assert after.view.leader is not None and after.view.leader.name == A
    assert after.dcs_reachable, "only the leader-lock actor's DcsView says the store is gone"


def test_a_failed_renewal_after_the_store_went_unreachable_counts_as_unanswered() -> None:
    """The leader-lock actor publishes DcsView(reachable=False) before the LockResult."""
    st = ha.on_dcs_view(holding(NOW - 5), DcsView(view=cluster(None), reachable=False), NOW)
    after = ha.on_lock_result(st, result(LockOp.RENEW, False, "etcd: connection refused"), NOW)
    assert after.lease_renewed_at == NOW - 5


def test_an_unanswered_first_renewal_after_a_restart_counts_the_lease_as_over() -> None:
    """Without a renewal of our own we cannot bound when others' ttl started: demote, retry."""
    after = ha.on_lock_result(holding(None), result(LockOp.RENEW, False, ha.UNREACHABLE), NOW)
    assert after.view.leader is not None and after.view.leader.name == A, "the record stays"
    local = ha.local_view(dataclasses.replace(after, lock_op_in_flight=False), 0.0)
    decision = decide(after.view, local, after.config, NOW)
    assert decision.reason is Reason.LEASE_EXPIRING
    assert [type(a).__name__ for a in decision.actions] == ["StopPostgres", "RenewLock"]


def test_an_unanswered_acquire_changes_nothing_but_reachability() -> None:
    before = dataclasses.replace(holding(None), view=cluster(None))
    after = ha.on_lock_result(before, result(LockOp.ACQUIRE, False, ha.UNREACHABLE), NOW)
    assert after.view == before.view and not after.lock_op_in_flight


def test_a_late_renewal_does_not_bring_back_a_lock_the_view_no_longer_shows() -> None:
    released = dataclasses.replace(holding(NOW - 4), view=cluster(None))
    after = ha.on_lock_result(released, result(LockOp.RENEW, True, at=NOW - 1), NOW)
    assert after.view.leader is None


def test_an_acquired_lock_is_believed_before_the_watch_echoes_it() -> None:
    before = dataclasses.replace(holding(None), view=cluster(None))
    after = ha.on_lock_result(before, result(LockOp.ACQUIRE, True, at=NOW - 2), NOW)
    assert after.view.leader is not None and after.view.leader.name == A
    assert after.lease_renewed_at == NOW - 2


def test_an_unreachable_dcs_view_keeps_what_our_own_lock_writes_proved() -> None:
    stale = DcsView(view=cluster(None), reachable=False)
    after = ha.on_dcs_view(holding(NOW - 3), stale, NOW)
    assert after.view.leader is not None and after.view.leader.name == A
    assert after.lease_renewed_at == NOW - 3
    assert not after.dcs_reachable


def test_a_view_naming_another_leader_drops_our_lease() -> None:
    after = ha.on_dcs_view(holding(), DcsView(view=led_by("b")), NOW)
    assert after.lease_renewed_at is None


def test_the_init_claim_ends_when_the_view_shows_the_system_identifier() -> None:
    claimed = dataclasses.replace(holding(), init_claimed=True)
    assert ha.on_dcs_view(claimed, DcsView(view=ClusterView(initialize="")), NOW).init_claimed
    assert not ha.on_dcs_view(claimed, DcsView(view=ClusterView(initialize="7")), NOW).init_claimed


def test_a_late_report_of_a_superseded_action_is_dropped() -> None:
    stopping = dataclasses.replace(holding(), action=ActionKind.STOP, action_started_at=NOW)
    after = ha.on_action_done(stopping, ActionDone(kind=ActionKind.PROMOTE, ok=True), 1.0)
    assert after.action is ActionKind.STOP


def test_a_finished_action_is_remembered_with_its_outcome() -> None:
    rewinding = dataclasses.replace(holding(), action=ActionKind.REWIND, action_started_at=NOW)
    after = ha.on_action_done(rewinding, ActionDone(kind=ActionKind.REWIND, ok=False), 1.0)
    assert (after.action, after.last_action, after.last_action_ok) == (
        None,
        ActionKind.REWIND,
        False,
    )


def decision(*actions: StartPostgres | StopPostgres | Promote | RenewLock) -> Decision:
    return Decision(goal=Role.PRIMARY, reason=Reason.LEADER_RENEW, actions=actions)


def test_starting_as_primary_starts_the_primary_start_clock_once() -> None:
    st = ha.after_decision(holding(), decision(StartPostgres(role=Role.PRIMARY)), NOW)
    st = dataclasses.replace(st, action=None)
    st = ha.after_decision(st, decision(StartPostgres(role=Role.PRIMARY)), NOW + 5)
    assert st.primary_start_began_at == NOW


def test_a_primary_found_starting_is_timed_from_the_first_decision_that_saw_it() -> None:
    starting = dataclasses.replace(holding(), pg=pg(PgState.STARTING, Role.PRIMARY))
    st = ha.after_decision(starting, decision(), NOW + 7)
    assert st.primary_start_began_at == NOW + 7


def test_a_running_primary_stops_the_primary_start_clock() -> None:
    began = dataclasses.replace(holding(), primary_start_began_at=NOW - 9)
    assert ha.on_pg_status(began, primary()).primary_start_began_at is None


def test_promoting_forgets_the_upstream() -> None:
    following = dataclasses.replace(holding(), following=name("b"))
    assert ha.after_decision(following, decision(Promote()), NOW).following is None


def test_local_view_carries_the_bookkeeping() -> None:
    st = dataclasses.replace(holding(), view=cluster(lock("a")), init_claimed=True)
    st = dataclasses.replace(st, failsafe_until=NOW + 5)
    view = ha.local_view(st, wall_time=123.0)
    assert (view.name, view.init_claimed, view.wall_time, view.failsafe_until) == (
        A,
        True,
        123.0,
        NOW + 5,
    )


def test_a_failover_request_is_dated_when_first_seen_and_forgotten_when_cleared() -> None:
    request = FailoverRequest(leader=name("a"), candidate=name("b"))
    seen = ha.on_dcs_view(holding(), DcsView(view=led_by("a", failover=request)), NOW)
    again = ha.on_dcs_view(seen, DcsView(view=led_by("a", failover=request)), NOW + 5)
    other = FailoverRequest(leader=name("a"), candidate=name("c"))
    changed = ha.on_dcs_view(again, DcsView(view=led_by("a", failover=other)), NOW + 6)
    cleared = ha.on_dcs_view(changed, DcsView(view=led_by("a")), NOW + 7)
    assert [s.failover_seen_at for s in (seen, again, changed, cleared)] == [
        NOW,
        NOW,
        NOW + 6,
        None,
    ]
    assert ha.local_view(again, 0.0).failover_seen_at == NOW


def test_failed_starts_are_counted_until_one_succeeds() -> None:
    state = ha.HaState(name=name("a"))
    for n, ok in ((1, False), (2, False), (0, True)):
        state = dataclasses.replace(state, action=ActionKind.START)
        state = ha.on_action_done(state, ActionDone(kind=ActionKind.START, ok=ok), 10.0 + n)
        assert state.failed_starts == n and state.last_action_done_at == 10.0 + n
        assert ha.local_view(state, 0.0).failed_starts == n


def test_the_state_keeps_every_field_of_the_local_view() -> None:
    state_fields = {f.name for f in dataclasses.fields(ha.HaState)}
    assert set(ha._KEPT) <= state_fields
    local = ha.local_view(ha.HaState(name=name("a"), failed_starts=2, lease_ttl_s=9.0), 5.0)
    assert (local.failed_starts, local.wall_time, local.lease_ttl_s) == (2, 5.0, 9.0)


def test_a_lock_write_in_flight_caps_the_lease_until_it_is_answered() -> None:
    st = dataclasses.replace(holding(), lease_renewed_at=NOW - 10, lease_ttl_s=30.0)
    sent = ha.after_decision(st, decision(RenewLock(ttl_s=10.0)), NOW)
    assert sent.lease_cap == NOW + 10
    lost = ha.on_lock_result(
        sent, LockResult(op=LockOp.RENEW, ok=False, started_at=NOW, detail=ha.UNREACHABLE), NOW
    )
    assert lost.lease_cap == NOW + 10  # it may have landed: the cap stands
    done = ha.on_lock_result(
        sent, LockResult(op=LockOp.RENEW, ok=True, started_at=NOW, ttl_s=10.0), NOW
    )
    assert (done.lease_renewed_at, done.lease_ttl_s, done.lease_cap) == (NOW, 10.0, None)
