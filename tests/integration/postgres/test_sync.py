"""Synchronous replication on real PostgreSQL: the rules' names, as the server sees them.

A primary and one replica of their own (the names block commits on the
primary while the replica is away, so the shared primary is not used).  The
member name has a dash, so the quoting matters.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from actors.postgres.bootstrap import create_replica
from actors.postgres.control import Postmaster
from actors.sync_replication.rules import StepKind, plan
from messages.base import MemberName
from messages.cluster import (
    ClusterView,
    LeaderRecord,
    MemberStatus,
    PgState,
    Role,
    SyncState,
)
from messages.config import DynamicConfig, StopMode, SyncMode
from messages.postgres import PostgresStatus

from .conftest import TEST_PARAMETERS, PgFactory, sql, upstream_of, wait_for

pytestmark = pytest.mark.integration

PRIMARY, REPLICA = MemberName("sync-primary"), MemberName("sync-replica")
ON = DynamicConfig(synchronous_mode=SyncMode.ON)


@pytest.fixture(scope="module")
def pair(pg: PgFactory) -> Iterator[tuple[Postmaster, Postmaster]]:
    primary = pg.bootstrap_primary(PRIMARY)
    # An idle standby reports only this often; the tests must not depend on its reports.
    quiet = {**TEST_PARAMETERS, "wal_receiver_status_interval": "600"}
    settings = pg.settings(REPLICA, parameters=quiet)
    made = create_replica(settings, [upstream_of(primary)], name=REPLICA, scope="itest")
    assert made.ok, made.detail
    replica = pg.postmaster(settings, REPLICA)
    started = replica.start(Role.REPLICA, upstream_of(primary), 30)
    assert started.ok, started.detail
    yield primary, replica
    for pm in (replica, primary):
        pm.stop(StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=10)


def _view() -> ClusterView:
    members = tuple(
        MemberStatus(name=n, role=r, state=PgState.RUNNING)
        for n, r in ((PRIMARY, Role.PRIMARY), (REPLICA, Role.REPLICA))
    )
    return ClusterView(
        config=ON,
        leader=LeaderRecord(name=PRIMARY),
        members=members,
        sync=SyncState(leader=PRIMARY),
    )


def _sync_row(pm: Postmaster) -> PostgresStatus | None:
    status = pm.status()
    rows = [r for r in status.replication if r.application_name == REPLICA]
    return status if rows and (rows[0].state, rows[0].sync_state) == ("streaming", "sync") else None


def test_the_named_replica_is_acknowledged_synchronous_then_published(
    pair: tuple[Postmaster, Postmaster],
) -> None:
    primary, _ = pair
    streaming = wait_for(
        lambda: any(r.state == "streaming" for r in primary.status().replication),
        30,
        "the replica to stream",
    )
    assert streaming
    before = primary.status()
    first = plan(PRIMARY, before, _view(), ON, before.synchronous_standby_names)
    assert (first.kind, first.names) == (StepKind.SET_NAMES, 'FIRST 1 ("sync-replica")')

    assert first.names is not None
    applied = primary.set_synchronous_standby_names(first.names)
    assert applied.ok, applied.detail
    status = wait_for(lambda: _sync_row(primary), 30, "sync_state 'sync'")
    assert status.synchronous_standby_names == first.names
    names_lsn = status.wal_position

    sql(primary.settings, "CREATE TABLE acknowledged_by_the_standby (id int)")  # returns: acked
    after = wait_for(lambda: _sync_row(primary), 30, "sync_state 'sync'")
    publish = plan(
        PRIMARY, after, _view(), ON, after.synchronous_standby_names, names_lsn=names_lsn
    )
    assert publish.kind is StepKind.PUBLISH
    assert publish.state == SyncState(leader=PRIMARY, sync_standbys=frozenset({REPLICA}))

    assert primary.set_synchronous_standby_names("").ok


def _waiting_on_standbys(primary: Postmaster) -> int:
    query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
    return int(sql(primary.settings, query)[0][0])


def test_commits_waiting_on_a_gone_standby_return_when_the_names_change(
    pair: tuple[Postmaster, Postmaster],
) -> None:
    primary, _ = pair
    wait_for(lambda: _sync_row(primary) or primary.status().replication, 30, "the replica")
    assert primary.set_synchronous_standby_names('FIRST 1 ("gone")').ok
    committed = threading.Event()

    def commit() -> None:
        sql(primary.settings, "CREATE TABLE waited_for_a_standby (id int)")
        committed.set()

    writer = threading.Thread(target=commit, daemon=True)
    writer.start()
    try:
        wait_for(lambda: _waiting_on_standbys(primary) == 1, 10, "a commit waiting")
        assert primary.set_synchronous_standby_names(f'FIRST 1 ("{REPLICA}")').ok
        # The standby reports only every 600 s by itself: it is pgactor's WAL that
        # makes it report, and its report that releases the commit.
        assert committed.wait(10), "the commit still waits on the standby that is gone"
    finally:
        assert primary.set_synchronous_standby_names("").ok
        writer.join(10)
