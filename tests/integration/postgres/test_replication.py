"""Cloning replicas from the shared primary and watching them stream."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from actors.postgres.bootstrap import create_replica
from actors.postgres.control import Postmaster
from actors.postgres.oscommand import is_dir_empty
from messages.cluster import PgState, Role
from messages.config import ReplicaMethod, StopMode

from .conftest import PgFactory, sql, try_sql, upstream_of, wait_for

pytestmark = pytest.mark.integration


def _streaming(primary: Postmaster) -> set[str]:
    query = "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'"
    return {row[0] for row in sql(primary.settings, query)}


@pytest.fixture(scope="module")
def clones(
    pg: PgFactory, primary: Postmaster, caplog_module: list[logging.LogRecord]
) -> Iterator[tuple[Postmaster, Postmaster]]:
    """Two replicas of the shared primary, made the two ways the tests below check."""
    failing = pg.script("failing_method.sh", 'echo "restore $*" >&2\nexit 1\n')
    one = pg.settings(
        "replica-1",
        create_replica_methods=("from_archive", "basebackup"),
        replica_methods=(ReplicaMethod(name="from_archive", command=failing),),
    )
    two = pg.settings(
        "replica-2",
        basebackup_options={
            "max-rate": "500M",
            "X": "fetch",
            "pgdata": "/elsewhere",
            "verbose": "",
        },
    )
    made = []
    for settings, name in ((one, "replica-1"), (two, "replica-2")):
        progress: list[tuple[int, int]] = []
        result = create_replica(
            settings,
            [upstream_of(primary)],
            name=name,
            scope="itest",
            progress=lambda done, total, seen=progress: seen.append((done, total)),
        )
        assert result.ok, result.detail
        assert progress and all(0 <= d <= t for d, t in progress) and progress[-1][1] > 0
        pm = pg.postmaster(settings, name, use_slots=name == "replica-2")
        assert primary.ensure_replication_slots([name]).ok
        started = pm.start(Role.REPLICA, upstream_of(primary), 30)
        assert started.ok, started.detail
        made.append((pm, result.detail))
    yield made[0][0], made[1][0]
    for pm, _ in made:
        pm.stop(StopMode.FAST, checkpoint_first=False, timeout_s=10)
    assert primary.drop_replication_slots_except([]).ok


@pytest.fixture(scope="module")
def caplog_module() -> Iterator[list[logging.LogRecord]]:
    """Log records of the module's fixtures (caplog is per test)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("actors.postgres")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_both_replicas_stream_from_the_primary(
    primary: Postmaster, clones: tuple[Postmaster, Postmaster]
) -> None:
    wait_for(
        lambda: _streaming(primary) >= {"replica-1", "replica-2"}, 10, "both replicas to stream"
    )
    sql(primary.settings, "CREATE TABLE IF NOT EXISTS replicated (v text)")
    sql(primary.settings, "INSERT INTO replicated VALUES ('hello')")
    slots = "SELECT slot_name, active FROM pg_replication_slots ORDER BY 1"
    assert sql(primary.settings, slots) == [("replica_1", False), ("replica_2", True)]
    for replica in clones:
        wait_for(
            lambda r=replica: try_sql(r.settings, "SELECT v FROM replicated") == [("hello",)],
            10,
            f"the row on {replica.name}",
        )


def test_a_failing_replica_method_falls_through_to_basebackup(
    clones: tuple[Postmaster, Postmaster], caplog_module: list[logging.LogRecord]
) -> None:
    messages = [r.getMessage() for r in caplog_module]
    assert any("replica method from_archive failed" in m for m in messages)
    assert clones[0].status().role is Role.REPLICA


def test_controlled_basebackup_options_are_dropped_with_a_warning(
    clones: tuple[Postmaster, Postmaster], caplog_module: list[logging.LogRecord]
) -> None:
    warnings = [r.getMessage() for r in caplog_module if r.levelno == logging.WARNING]
    assert "basebackup option X is controlled by pgactor and is ignored" in warnings
    assert "basebackup option pgdata is controlled by pgactor and is ignored" in warnings
    assert not any("max-rate" in w or "verbose" in w for w in warnings)


def test_status_of_a_replica_and_of_its_primary_are_sane(
    primary: Postmaster, clones: tuple[Postmaster, Postmaster]
) -> None:
    wait_for(lambda: _streaming(primary) >= {"replica-1", "replica-2"}, 10, "streaming")
    replica = clones[0]
    status = wait_for(
        lambda: (s := replica.status()).streaming_from and s, 10, "the WAL receiver to stream"
    )
    assert status.state is PgState.RUNNING and status.role is Role.REPLICA
    assert status.timeline == 1
    assert status.streaming_from == f"127.0.0.1:{primary.settings.listen_port}"
    assert status.receive_lsn is not None and status.replay_lsn is not None
    assert status.wal_position == max(status.receive_lsn, status.replay_lsn)
    assert status.system_identifier == primary.status().system_identifier
    replication = primary.status().replication  # read in the status's one round trip
    assert [r.application_name for r in replication] == ["replica-1", "replica-2"]
    rows = {r.application_name: r for r in replication}
    assert rows["replica-1"].state == "streaming" and rows["replica-1"].sync_state == "async"
    assert rows["replica-1"].flush_lsn is not None and rows["replica-1"].replay_lsn is not None


def test_a_cancelled_basebackup_stops_at_once_and_leaves_no_data(
    pg: PgFactory, primary: Postmaster
) -> None:
    sql(primary.settings, "CREATE TABLE IF NOT EXISTS ballast AS SELECT generate_series(1, 200000)")
    settings = pg.settings("cancelled", basebackup_options={"max-rate": "32k"})
    cancel = threading.Event()
    result = create_replica(
        settings,
        [upstream_of(primary)],
        name="cancelled",
        scope="itest",
        progress=lambda done, total: cancel.set(),
        cancel=cancel,
    )
    assert not result.ok and "cancelled" in result.detail
    assert is_dir_empty(settings.data_dir)
    wait_for(lambda: "cancelled" not in _senders(primary), 5, "the walsender to go")


def _senders(primary: Postmaster) -> set[str]:
    return {r[0] for r in sql(primary.settings, "SELECT application_name FROM pg_stat_replication")}
