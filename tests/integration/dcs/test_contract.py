"""The DCS contract, checked against a real server for every backend.

Small ttl (3 s) and retry timeout (1.5 s) keep it fast; every wait is a poll
with a deadline.  Each test has a scope of its own.
"""

from __future__ import annotations

import threading
import time

import pytest

from actors.leader_lock.contract import Dcs, DcsUnreachable
from actors.leader_lock.etcd_session import lease_ttl
from messages.base import Lsn, MemberName, Timeline
from messages.cluster import (
    FailoverRequest,
    HistoryEntry,
    LeaderRecord,
    MemberStatus,
    PgState,
    Role,
    SyncState,
)
from messages.config import DynamicConfig, SyncMode

from .conftest import RETRY_TIMEOUT_S, TIMING, TTL_S, Harness
from .waiting import wait_for

pytestmark = pytest.mark.integration

A, B, C = MemberName("a"), MemberName("b"), MemberName("c")


def watching(backend: Harness, member: str) -> tuple[Dcs, threading.Event]:
    """A client whose watch sets the returned event on every change."""
    client = backend.make(member)
    changed = threading.Event()
    client.watch(changed.set)
    return client, changed


def leader_name(client: Dcs) -> MemberName | None:
    leader = client.snapshot().leader
    return None if leader is None else leader.name


# -- the leader lock ------------------------------------------------------------------


def test_three_clients_race_for_the_lock_and_exactly_one_wins(backend_factory: Harness) -> None:
    clients = [backend_factory.make(n) for n in (A, B, C)]
    start = threading.Barrier(len(clients))
    results: dict[str, bool] = {}

    def race(client: Dcs) -> None:
        start.wait()
        results[client.name] = client.attempt_to_acquire_leader(Lsn(1), **TIMING)

    threads = [threading.Thread(target=race, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    winners = [name for name, won in results.items() if won]
    assert len(results) == 3 and len(winners) == 1
    for client in clients:  # losers learnt the winner from their failed compare
        assert leader_name(client) == winners[0]


def test_the_holder_renews_and_observers_see_every_renewal(backend_factory: Harness) -> None:
    a = backend_factory.make(A)
    b, _ = watching(backend_factory, B)
    assert a.attempt_to_acquire_leader(Lsn(10), ("10.0.0.1", 5432), **TIMING)
    assert a.last_renew_started_at is not None
    first = wait_for(lambda: b.snapshot().leader, 2, "b to see the leader")
    assert (first.name, first.optime, first.ttl_s) == (A, 10, TTL_S)
    assert a.update_leader(Lsn(20), {"b": 15}, **TIMING)

    def renewal() -> LeaderRecord | None:
        leader = b.snapshot().leader
        return leader if leader is not None and leader.optime == 20 else None

    renewed = wait_for(renewal, 2, "b to see the renewal")
    assert renewed.observed_change_at > first.observed_change_at  # b's ttl clock restarted
    assert renewed.transitions == first.transitions


def test_a_renewal_by_a_non_holder_is_refused(backend_factory: Harness) -> None:
    a, b = backend_factory.make(A), backend_factory.make(B)
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    b.refresh()
    assert not b.update_leader(Lsn(99), **TIMING)
    assert not b.delete_leader()
    assert not b.attempt_to_acquire_leader(Lsn(99), **TIMING)  # live lock: no takeover
    assert a.refresh().leader is not None and a.snapshot().leader.optime == 1  # type: ignore[union-attr]
    assert a.update_leader(Lsn(2), **TIMING)


def test_a_holder_that_stops_renewing_loses_the_lock_after_ttl(backend_factory: Harness) -> None:
    """The holder keeps its session alive (touches its member record) but stops renewing.

    Another member judges the lock expired ttl after it last saw the record
    change, on its own clock, takes it, and the old holder's renewal is refused.
    """
    a = backend_factory.make(A)
    b, _ = watching(backend_factory, B)
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    record = wait_for(lambda: b.snapshot().leader, 2, "b to see a's lock")
    taken_at = None
    while taken_at is None:
        a.touch_member(MemberStatus(name=A))  # a's lease lives on
        if b.attempt_to_acquire_leader(Lsn(2), **TIMING):
            taken_at = time.monotonic()
        else:
            assert time.monotonic() - record.observed_change_at < TTL_S + 1.0, "never taken"
            time.sleep(0.05)
    assert taken_at - record.observed_change_at >= TTL_S  # not a moment before ttl
    assert not a.update_leader(Lsn(3), **TIMING)  # stale: the record names b now
    assert leader_name(a) == B
    assert b.update_leader(Lsn(4), **TIMING)


def test_a_dead_holders_lock_expires_for_others(backend_factory: Harness) -> None:
    a = backend_factory.make(A)
    b, _ = watching(backend_factory, B)
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    renewed_at = a.last_renew_started_at
    assert renewed_at is not None
    wait_for(lambda: b.snapshot().leader, 2, "b to see a's lock")
    a.close()  # a dies: no more renewals, no lease keepalive
    assert not b.attempt_to_acquire_leader(Lsn(2), **TIMING)  # still live for b
    wait_for(
        lambda: b.attempt_to_acquire_leader(Lsn(2), **TIMING), TTL_S + 1.5, "b to take the lock"
    )
    assert time.monotonic() - renewed_at >= TTL_S - 0.05
    assert leader_name(b) == B


def test_a_released_lock_lets_the_next_one_in_at_once(backend_factory: Harness) -> None:
    a = backend_factory.make(A)
    b, _ = watching(backend_factory, B)
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    first = wait_for(lambda: b.snapshot().leader, 2, "b to see a's lock")
    released_at = time.monotonic()
    assert a.delete_leader()
    assert not a.delete_leader()  # no longer ours
    wait_for(lambda: b.snapshot().leader is None, 1, "b to see the release")
    assert b.attempt_to_acquire_leader(Lsn(2), **TIMING)
    assert time.monotonic() - released_at < 1.0
    lock = wait_for(lambda: b.snapshot().leader, 1, "b's own record")
    assert lock.name == B and lock.transitions == first.transitions + 1


# -- the watch ---------------------------------------------------------------------


def test_a_watch_wakes_a_waiting_client_within_100ms(backend_factory: Harness) -> None:
    writer = backend_factory.make(A)
    waiter = backend_factory.make(B)
    woken: list[float] = []
    waiter.watch(lambda: woken.append(time.monotonic()))
    wait_for(lambda: waiter.requests_made >= 2, 2, "the first read and the watch request")
    delays = []
    for i in range(5):
        woken.clear()
        written_at = time.monotonic()
        writer.set_failover(FailoverRequest(candidate=MemberName(f"m{i}")))
        wake = wait_for(lambda: woken[0] if woken else None, 1, "on_change")
        delays.append(wake - written_at)
        snapshot = waiter.snapshot()
        assert snapshot.failover is not None and snapshot.failover.candidate == f"m{i}"
    assert max(delays) < 0.1, delays


def test_a_dropped_watch_is_survived_and_the_cache_catches_up(backend_factory: Harness) -> None:
    writer = backend_factory.make(A)
    watcher, changed = watching(backend_factory, B)
    writer.set_history([HistoryEntry(timeline=Timeline(1), lsn=Lsn(10))])
    wait_for(lambda: watcher.snapshot().history, 2, "the first record")
    backend_factory.restart()
    writer.set_failover(FailoverRequest(candidate=C))  # possibly before the watch is back
    writer.set_history([HistoryEntry(timeline=Timeline(2), lsn=Lsn(20))])
    wait_for(
        lambda: watcher.snapshot().failover and watcher.snapshot().history[0].timeline == 2,
        10,
        "the cache to catch up",
    )
    changed.clear()
    writer.delete_failover()
    assert changed.wait(2)
    wait_for(lambda: watcher.snapshot().failover is None, 1, "the live watch again")


def test_close_stops_the_watch_promptly_and_is_idempotent(backend_factory: Harness) -> None:
    client, _ = watching(backend_factory, A)
    client.refresh()
    before = {t.ident for t in threading.enumerate()}
    started = time.monotonic()
    client.close()
    client.close()
    assert time.monotonic() - started < 1.0
    assert len({t.ident for t in threading.enumerate()}) < len(before)


def test_close_is_prompt_even_while_the_server_is_stalled(backend_factory: Harness) -> None:
    client, _ = watching(backend_factory, A)
    client.refresh()
    threads_before = threading.active_count()
    with backend_factory.stalled():
        time.sleep(0.1)
        started = time.monotonic()
        client.close()
        assert time.monotonic() - started < 1.0
    assert threading.active_count() < threads_before


def test_an_idle_watching_client_makes_almost_no_requests(backend_factory: Harness) -> None:
    client, _ = watching(backend_factory, A)
    wait_for(lambda: client.requests_made >= 2, 2, "the watch to start")  # read + stream
    time.sleep(0.3)
    settled = client.requests_made
    time.sleep(1.5)
    assert client.requests_made == settled


# -- an unreachable DCS ------------------------------------------------------------------


def test_a_dcs_that_stops_answering_raises_unreachable_within_retry_timeout(
    backend_factory: Harness,
) -> None:
    timing = {**TIMING, "ttl_s": 2 * RETRY_TIMEOUT_S + 2}  # outlives the stall
    a = backend_factory.make(A)
    assert a.attempt_to_acquire_leader(Lsn(1), **timing)
    with backend_factory.stalled():
        for call in (a.refresh, lambda: a.update_leader(Lsn(2), **timing)):
            started = time.monotonic()
            with pytest.raises(DcsUnreachable):
                call()
            assert time.monotonic() - started < RETRY_TIMEOUT_S + 0.5
    assert a.update_leader(Lsn(3), **timing)  # back to normal once it answers again


# -- initialisation -------------------------------------------------------------------


def test_the_initialise_race_has_one_winner_and_cancel_frees_it(backend_factory: Harness) -> None:
    clients = [backend_factory.make(n) for n in (A, B, C)]
    start = threading.Barrier(len(clients))
    results: dict[str, bool] = {}

    def race(client: Dcs) -> None:
        start.wait()
        results[client.name] = client.initialize(create_new=True)

    threads = [threading.Thread(target=race, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results.values()) == [False, False, True]
    observer = clients[0]
    assert observer.refresh().initialize == ""
    winner = next(c for c in clients if results[c.name])
    assert winner.initialize("7301234567890123456", create_new=False)
    assert observer.refresh().initialize == "7301234567890123456"
    assert not observer.initialize(create_new=True)
    assert observer.cancel_initialization()
    assert observer.refresh().initialize is None
    assert clients[2].initialize(create_new=True)


# -- members ------------------------------------------------------------------------


def test_a_member_record_appears_to_others_and_expires_with_its_lease(
    backend_factory: Harness,
) -> None:
    """close() does not revoke the lease: the record goes when the lease runs out.

    Kubernetes differs: a member's record is its Pod's ``status`` annotation and
    there is no lease for it (as in Patroni), so the record stays while the Pod
    lives and goes with the Pod; the harness's ``member_dies`` deletes the Pod.
    """
    a = backend_factory.make(A)
    b, _ = watching(backend_factory, B)
    status = MemberStatus(
        name=A,
        role=Role.REPLICA,
        state=PgState.RUNNING,
        conn_host="10.0.0.7",
        conn_port=5433,
        api_url="http://10.0.0.7:8008",
        wal_position=Lsn(12345),
        following=B,
    )
    assert a.touch_member(status)
    assert wait_for(lambda: b.snapshot().member(A), 2, "b to see a") == status
    assert a.touch_member(status)  # idempotent
    last_touch = time.monotonic()
    a.close()
    if backend_factory.member_dies is not None:  # no member lease: the record goes with the Pod
        assert b.snapshot().member(A) == status
        backend_factory.member_dies(A)
        wait_for(lambda: b.snapshot().member(A) is None, 2, "a's record to go with its Pod")
        return
    # The session lease is lease_ttl(TTL_S) long (5 s for 3), granted at the first touch;
    # etcd then takes up to a second to revoke it.  TTL_S + 2.5 left half a second: the
    # test took 5.1-5.4 s of its 5.5 alone, and failed in a loaded CI run.
    expiry = lease_ttl(TTL_S) + 2.5
    wait_for(lambda: b.snapshot().member(A) is None, expiry, "a's record to expire")
    assert time.monotonic() - last_touch >= TTL_S - 0.5


def test_touching_keeps_a_member_alive_past_its_ttl(backend_factory: Harness) -> None:
    a = backend_factory.make(A)
    b, _ = watching(backend_factory, B)
    until = time.monotonic() + TTL_S + 1.0
    while time.monotonic() < until:
        a.touch_member(MemberStatus(name=A, state=PgState.RUNNING))
        time.sleep(0.5)
    assert b.snapshot().member(A) is not None


# -- config, sync, failover, history ------------------------------------------------------


def test_config_cas_refuses_a_stale_version(backend_factory: Harness) -> None:
    a, b = backend_factory.make(A), backend_factory.make(B)
    assert a.refresh().config is None and a.config_version() is None
    bootstrap = DynamicConfig(ttl_s=20, synchronous_mode=SyncMode.ON)
    assert a.set_config(bootstrap, only_if_version=None)
    assert not b.set_config(DynamicConfig(), only_if_version=None)  # exists already
    assert b.refresh().config == bootstrap
    seen = b.versioned_snapshot()
    assert seen.config_version is not None
    edited = DynamicConfig(ttl_s=25, pause=True, postgresql_parameters={"work_mem": "8MB"})
    assert b.set_config(edited, only_if_version=seen.config_version)
    assert not a.set_config(DynamicConfig(), only_if_version=seen.config_version)  # stale
    assert a.refresh().config == edited
    assert a.config_version() != seen.config_version


def test_sync_cas_refuses_a_stale_version(backend_factory: Harness) -> None:
    a, b = backend_factory.make(A), backend_factory.make(B)
    state = SyncState(leader=A, sync_standbys=frozenset({B}), quorum=1)
    assert a.set_sync_state(state, only_if_version=None)
    assert not a.set_sync_state(state, only_if_version=None)
    version = a.sync_version()
    assert version is not None
    assert b.refresh().sync == state
    wider = SyncState(leader=A, sync_standbys=frozenset({B, C}), quorum=1)
    assert b.set_sync_state(wider, only_if_version=version)
    assert not a.set_sync_state(SyncState(leader=A), only_if_version=version)
    assert not a.delete_sync_state(only_if_version=version)
    assert a.refresh().sync == wider
    assert a.delete_sync_state(only_if_version=a.sync_version())
    assert b.refresh().sync == SyncState() and b.sync_version() is None


def test_the_failover_key_is_set_and_deleted(backend_factory: Harness) -> None:
    a = backend_factory.make(A)
    b, _ = watching(backend_factory, B)
    request = FailoverRequest(leader=A, candidate=B, scheduled_at=1_900_000_000.5)
    assert a.set_failover(request)
    assert wait_for(lambda: b.snapshot().failover, 2, "b to see the request") == request
    assert a.delete_failover()
    wait_for(lambda: b.snapshot().failover is None, 2, "b to see it deleted")
    assert a.delete_failover()  # deleting nothing is fine


def test_history_round_trips(backend_factory: Harness) -> None:
    a, b = backend_factory.make(A), backend_factory.make(B)
    history = (
        HistoryEntry(
            timeline=Timeline(1), lsn=Lsn(50331808), reason="no recovery target specified"
        ),
        HistoryEntry(
            timeline=Timeline(2),
            lsn=Lsn(83886240),
            reason="switchover",
            timestamp="2024-05-01T10:00:00+00:00",
            new_leader=B,
        ),
    )
    assert a.set_history(history)
    assert b.refresh().history == history
