"""The contract's safety clauses, checked against a real server for every backend.

* Timing: a lock call writes exactly the ttl it brings, and the lock lasts that
  long for the store and for observers (no more, no less); its retry budget is
  the one it brings.
* Reachability: only a request the server answered counts
  (``answered_requests``); an answer from the cache does not.
* Status: the last leader, its position and a clean release live in the store,
  so a client that has just started (nothing in memory) reads them, after a
  renewal, a release, or the holder's death.

Small ttls (2 and 6 s) keep it quick; every wait is a poll with a deadline.
"""

from __future__ import annotations

import time

import pytest

from actors.leader_lock.contract import Dcs, DcsError, DcsUnreachable
from messages.base import Lsn, MemberName
from messages.cluster import LeaderRecord, MemberStatus, PgState

from .conftest import RETRY_TIMEOUT_S, Harness
from .waiting import wait_for

pytestmark = pytest.mark.integration

A, B, C = MemberName("a"), MemberName("b"), MemberName("c")
SHORT, LONG = 2.0, 6.0


def timing(ttl_s: float, retry_timeout_s: float = RETRY_TIMEOUT_S) -> dict[str, float]:
    return {"ttl_s": ttl_s, "retry_timeout_s": retry_timeout_s}


def seen_ttl(client: Dcs, ttl_s: float) -> LeaderRecord | None:
    leader = client.snapshot().leader
    return leader if leader is not None and leader.ttl_s == ttl_s else None


# -- timing ----------------------------------------------------------------------------


def test_the_record_carries_the_ttl_each_lock_call_brings_and_observers_follow(
    backend_factory: Harness,
) -> None:
    a = backend_factory.make(A)  # made with ttl 3: a lock call's ttl is the one written
    b = backend_factory.make(B)
    b.watch(lambda: None)
    assert a.attempt_to_acquire_leader(Lsn(1), **timing(SHORT))
    wait_for(lambda: seen_ttl(b, SHORT), 2, "b to see ttl 2")
    assert a.update_leader(Lsn(2), **timing(LONG))
    wait_for(lambda: seen_ttl(b, LONG), 2, "b to see ttl 6")
    assert a.update_leader(Lsn(3), **timing(SHORT))
    wait_for(lambda: seen_ttl(b, SHORT), 2, "b to see ttl 2 again")
    fresh = backend_factory.make(C).refresh().leader
    assert fresh is not None and (fresh.ttl_s, fresh.optime) == (SHORT, 3)


def test_a_raised_ttl_holds_the_lock_that_long_without_any_keepalive(
    backend_factory: Harness,
) -> None:
    """The holder raised its ttl from 2 to 6 s and believes it holds the lock that long.

    Then it goes silent (no renewal, no touch, no lease keepalive): for the store
    (etcd's lease) and for an observer the lock must last the 6 s -- and no longer.
    """
    a = backend_factory.make(A)
    b = backend_factory.make(B)
    b.watch(lambda: None)
    assert a.attempt_to_acquire_leader(Lsn(1), **timing(SHORT))
    assert a.update_leader(Lsn(2), **timing(LONG))
    renewed_at = a.last_renew_started_at
    assert renewed_at is not None
    a.close()
    wait_for(lambda: seen_ttl(b, LONG), 2, "b to see ttl 6")
    while time.monotonic() < renewed_at + LONG - 1.0:  # past the old ttl, and then some
        assert b.refresh().leader is not None, "the store dropped the lock early"
        assert not b.attempt_to_acquire_leader(Lsn(9), **timing(LONG)), "taken early"
        time.sleep(0.2)
    wait_for(
        lambda: b.attempt_to_acquire_leader(Lsn(9), **timing(LONG)),
        3,
        "b to take the lock once the 6 s are over",
    )
    assert time.monotonic() - renewed_at >= LONG


def test_a_lowered_ttl_lets_others_in_after_the_lower_one(backend_factory: Harness) -> None:
    a = backend_factory.make(A)
    b = backend_factory.make(B)
    b.watch(lambda: None)
    assert a.attempt_to_acquire_leader(Lsn(1), **timing(LONG))
    assert a.update_leader(Lsn(2), **timing(SHORT))
    renewed_at = a.last_renew_started_at
    assert renewed_at is not None
    a.close()
    wait_for(lambda: seen_ttl(b, SHORT), 2, "b to see ttl 2")
    wait_for(lambda: b.attempt_to_acquire_leader(Lsn(9), **timing(SHORT)), 4, "b to take the lock")
    assert SHORT <= time.monotonic() - renewed_at < SHORT + 0.8


def test_each_lock_call_retries_for_the_budget_it_brings(backend_factory: Harness) -> None:
    a = backend_factory.make(A)  # made with retry_timeout 1.5
    assert a.attempt_to_acquire_leader(Lsn(1), **timing(10.0))
    with backend_factory.stalled():
        for budget in (0.6, 2.5):
            started = time.monotonic()
            with pytest.raises(DcsUnreachable):
                a.update_leader(Lsn(2), **timing(10.0, budget))
            took = time.monotonic() - started
            assert budget - 0.1 <= took < budget + 0.4, (budget, took)
    assert a.update_leader(Lsn(3), **timing(10.0))


def test_timing_no_lease_can_be_built_on_is_refused_before_any_write(
    backend_factory: Harness,
) -> None:
    a = backend_factory.make(A)
    before = a.requests_made
    for bad in (timing(0.0), timing(-1.0), timing(float("nan")), timing(3.0, 0.0)):
        with pytest.raises(DcsError, match="must be a positive number"):
            a.attempt_to_acquire_leader(Lsn(1), **bad)
    assert a.requests_made == before
    assert a.attempt_to_acquire_leader(Lsn(1), **timing(3.0))


# -- reachability ------------------------------------------------------------------------


def test_only_answered_requests_count_and_the_cache_answers_nothing(
    backend_factory: Harness,
) -> None:
    a = backend_factory.make(A, ttl_s=20)  # etcd: no lease keepalive due for a while
    a.watch(lambda: None)
    status = MemberStatus(name=A, state=PgState.RUNNING)
    assert a.touch_member(status)
    wait_for(lambda: a.snapshot().member(A), 2, "a to see itself")
    answered = a.answered_requests
    assert a.touch_member(status)  # identical: answered from the cache
    assert a.answered_requests == answered
    a.refresh()
    assert a.answered_requests > answered
    answered = a.answered_requests
    with backend_factory.stalled(), pytest.raises(DcsUnreachable):
        a.touch_member(MemberStatus(name=A, state=PgState.STOPPED))
    assert a.answered_requests == answered


# -- the status record ---------------------------------------------------------------------


def last_leader(client: Dcs) -> tuple[MemberName | None, int, bool]:
    view = client.refresh()
    return view.last_leader_name, view.last_leader_optime, view.last_leader_clean


def test_a_client_that_just_started_reads_the_last_leader_from_the_store(
    backend_factory: Harness,
) -> None:
    a = backend_factory.make(A)
    assert a.attempt_to_acquire_leader(Lsn(10), **timing(LONG))
    assert a.update_leader(Lsn(20), **timing(LONG))
    assert last_leader(backend_factory.make(B)) == (A, 20, False)
    assert a.delete_leader(Lsn(30), clean=True)
    fresh = backend_factory.make(C)
    assert last_leader(fresh) == (A, 30, True)
    assert fresh.snapshot().leader is None


def test_a_release_without_a_position_keeps_the_last_one_published(
    backend_factory: Harness,
) -> None:
    a = backend_factory.make(A)
    assert a.attempt_to_acquire_leader(Lsn(10), **timing(LONG))
    assert a.update_leader(Lsn(20), **timing(LONG))
    assert a.delete_leader()
    assert last_leader(backend_factory.make(B)) == (A, 20, False)
    b = backend_factory.make(B)
    b.refresh()
    assert not b.delete_leader(Lsn(99), clean=True)  # not the holder: nothing is written
    assert last_leader(backend_factory.make(C)) == (A, 20, False)


def test_the_status_survives_the_holders_death(backend_factory: Harness) -> None:
    a = backend_factory.make(A)
    assert a.attempt_to_acquire_leader(Lsn(10), **timing(SHORT))
    assert a.update_leader(Lsn(20), **timing(SHORT))
    a.close()  # dies: no renewal, no keepalive
    b = backend_factory.make(B)
    if backend_factory.member_dies is None:  # etcd: the lease runs out and takes the lock
        wait_for(lambda: b.refresh().leader is None, SHORT + 2, "the lease to run out")
    assert last_leader(backend_factory.make(C)) == (A, 20, False)  # started after it
    # The next holder takes over from there.
    wait_for(lambda: b.attempt_to_acquire_leader(Lsn(25), **timing(SHORT)), SHORT + 1, "b")
    assert last_leader(backend_factory.make(MemberName("d"))) == (B, 25, False)


def test_the_status_keeps_where_the_last_leader_listened_past_its_death_and_release(
    backend_factory: Harness,
) -> None:
    """A candidate probes the failed primary there, though its member record expired."""
    a = backend_factory.make(A)
    assert a.attempt_to_acquire_leader(Lsn(10), ("10.0.0.7", 6432), **timing(SHORT))
    a.close()  # dies
    b = backend_factory.make(B)
    if backend_factory.member_dies is None:  # etcd: the lease runs out and takes the lock
        wait_for(lambda: b.refresh().leader is None, SHORT + 2, "the lease to run out")
    view = backend_factory.make(C).refresh()
    assert (view.last_leader_name, view.last_leader_host, view.last_leader_port) == (
        A,
        "10.0.0.7",
        6432,
    )
    wait_for(
        lambda: b.attempt_to_acquire_leader(Lsn(25), ("10.0.0.8", 5432), **timing(SHORT)),
        SHORT + 1,
        "b",
    )
    assert b.delete_leader(Lsn(30))
    after = backend_factory.make(MemberName("d")).refresh()
    assert (after.last_leader_host, after.last_leader_port) == ("10.0.0.8", 5432)
