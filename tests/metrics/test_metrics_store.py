"""The metric store and the status gauges, as plain code: no actors, no threads."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.metrics.status import status_samples
from actors.metrics.store import MAX_SERIES_PER_METRIC, MetricStore
from messages.admin import NodeStatus
from messages.base import Lsn, MemberName, Timeline
from messages.cluster import ClusterView, LeaderRecord, PgState, Role
from messages.ha import Reason
from messages.metrics import Sample, Samples
from messages.postgres import StandbyReplication

MiB = 1024 * 1024


def values(store: MetricStore) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample in the exposition, without the constant scope/name labels."""
    found = {}
    for family in text_string_to_metric_families(store.render().decode()):
        for s in family.samples:
            labels = tuple(
                sorted((k, v) for k, v in s.labels.items() if k not in ("scope", "name"))
            )
            found[(s.name, labels)] = s.value
    return found


@pytest.fixture
def store() -> MetricStore:
    return MetricStore(scope="demo", member="pg1")


def test_a_gauge_sample_sets_a_counter_sample_adds_a_histogram_sample_observes(
    store: MetricStore,
) -> None:
    for sample in (
        Sample(name="pgactor_primary", value=1),
        Sample(name="pgactor_primary", value=0),
        Sample(name="pgactor_actor_restarts_total", value=1, labels=(("actor", "ha"),)),
        Sample(name="pgactor_actor_restarts_total", value=2, labels=(("actor", "ha"),)),
        Sample(name="pgactor_dcs_request_duration_seconds", value=0.02, labels=(("op", "renew"),)),
    ):
        assert store.apply(sample) is None
    got = values(store)
    assert got[("pgactor_primary", ())] == 0
    assert got[("pgactor_actor_restarts_total", (("actor", "ha"),))] == 3
    assert got[("pgactor_dcs_request_duration_seconds_count", (("op", "renew"),))] == 1
    bucket = (("le", "0.025"), ("op", "renew"))
    assert got[("pgactor_dcs_request_duration_seconds_bucket", bucket)] == 1


def test_every_series_carries_the_cluster_and_member_as_patronis_do(store: MetricStore) -> None:
    store.apply(Sample(name="pgactor_is_paused", value=1))
    (family,) = [
        f
        for f in text_string_to_metric_families(store.render().decode())
        if f.name == "pgactor_is_paused"
    ]
    assert family.samples[0].labels == {"scope": "demo", "name": "pg1"}


@pytest.mark.parametrize(
    ("sample", "problem"),
    [
        (Sample(name="patroni_primary", value=1), "not in the metric catalog"),
        (Sample(name="pgactor_primary", value=1, labels=(("x", "y"),)), "labels"),
        (Sample(name="pgactor_dcs_errors_total", value=1, labels=(("op", "renew"),)), "labels"),
        (
            Sample(
                name="pgactor_standby_lag_bytes", value=1, labels=(("application_name", "a"),) * 2
            ),
            "labels",
        ),
        (Sample(name="pgactor_actor_restarts_total", value=-1, labels=(("actor", "ha"),)), "down"),
        (Sample(name="pgactor_primary", value=float("nan")), "not finite"),
    ],
)
def test_a_sample_that_does_not_fit_is_refused_with_the_reason(
    store: MetricStore, sample: Sample, problem: str
) -> None:
    before = values(store)
    reason = store.apply(sample)
    assert reason is not None and problem in reason
    assert values(store) == before


def test_a_metric_cannot_grow_without_bound(store: MetricStore) -> None:
    for i in range(MAX_SERIES_PER_METRIC):
        labels = (("application_name", f"s{i}"),)
        assert store.apply(Sample(name="pgactor_standby_lag_bytes", value=1, labels=labels)) is None
    extra = Sample(name="pgactor_standby_lag_bytes", value=1, labels=(("application_name", "x"),))
    assert "label combinations" in (store.apply(extra) or "")
    assert store.clear("pgactor_standby_lag_bytes")
    assert store.apply(extra) is None


# -- the HA status as gauges ---------------------------------------------------------------

CLUSTER = ClusterView(
    leader=LeaderRecord(name=MemberName("pg1"), optime=Lsn(200 * MiB)),
    last_leader_optime=Lsn(200 * MiB),
)
PRIMARY = NodeStatus(
    name=MemberName("pg1"),
    scope="demo",
    role=Role.PRIMARY,
    state=PgState.RUNNING,
    reason=Reason.LEADER_RENEW,
    timeline=Timeline(3),
    wal_position=Lsn(200 * MiB),
    is_leader=True,
    lease_remaining_s=25.0,
    replication=(
        StandbyReplication(
            application_name="pg2", state="streaming", sync_state="sync", replay_lsn=Lsn(199 * MiB)
        ),
        StandbyReplication(application_name="pg3", state="startup", sync_state="async"),
    ),
    cluster=CLUSTER,
)
REPLICA = dataclasses.replace(
    PRIMARY,
    name=MemberName("pg2"),
    role=Role.REPLICA,
    is_leader=False,
    lease_remaining_s=None,
    replication=(),
    wal_position=Lsn(190 * MiB),
    receive_lsn=Lsn(195 * MiB),
    replay_lsn=Lsn(190 * MiB),
    sync_standby=True,
    paused=True,
    pending_restart=True,
)
STOPPED = dataclasses.replace(REPLICA, state=PgState.STOPPED, dcs_reachable=False)


def gauges(status: NodeStatus, store: MetricStore) -> dict[str, float]:
    batch = status_samples(status, wall_time=1_700_000_000.7)
    for name in batch.replace:
        store.clear(name)
    for sample in batch.items:
        assert store.apply(sample) is None, sample
    return {
        name + "".join(f"{{{v}}}" for _, v in labels): value
        for (name, labels), value in values(store).items()
        if name != "pgactor_info"
    }


def test_a_primary_shows_its_role_position_lease_and_standby_lag(store: MetricStore) -> None:
    got = gauges(PRIMARY, store)
    assert got["pgactor_primary"] == 1 and got["pgactor_replica"] == 0
    assert got["pgactor_postgres_timeline"] == 3
    assert got["pgactor_xlog_location"] == 200 * MiB
    assert got["pgactor_xlog_replayed_location"] == 0
    assert got["pgactor_lease_remaining_seconds"] == 25
    assert got["pgactor_standby_lag_bytes{pg2}"] == MiB
    assert "pgactor_standby_lag_bytes{pg3}" not in got  # no position known: no guess
    assert "pgactor_replica_lag_bytes" not in got
    assert got["pgactor_postgres_state{running}"] == 1
    assert got["pgactor_dcs_last_seen"] == 1_700_000_000


def test_a_replica_shows_its_positions_lag_and_flags(store: MetricStore) -> None:
    got = gauges(REPLICA, store)
    assert (got["pgactor_primary"], got["pgactor_replica"], got["pgactor_sync_standby"]) == (
        0,
        1,
        1,
    )
    assert got["pgactor_xlog_location"] == 0
    assert got["pgactor_xlog_received_location"] == 195 * MiB
    assert got["pgactor_xlog_replayed_location"] == 190 * MiB
    assert got["pgactor_replica_lag_bytes"] == 10 * MiB
    assert (got["pgactor_is_paused"], got["pgactor_pending_restart"]) == (1, 1)
    assert "pgactor_lease_remaining_seconds" not in got


def test_families_that_stop_holding_disappear_instead_of_freezing(store: MetricStore) -> None:
    gauges(PRIMARY, store)
    got = gauges(STOPPED, store)  # the former primary, now a stopped replica: nothing stale
    stale = ("pgactor_lease_remaining_seconds", "pgactor_standby_lag_bytes{pg2}")
    assert not any(name in got for name in stale)
    assert "pgactor_postgres_state{running}" not in got
    assert got["pgactor_postgres_state{stopped}"] == 1
    assert (got["pgactor_postgres_running"], got["pgactor_postgres_timeline"]) == (0, 0)
    assert got["pgactor_dcs_reachable"] == 0
    assert got["pgactor_dcs_last_seen"] == 1_700_000_000  # the last time it was seen


def test_a_status_batch_replaces_only_catalog_families() -> None:
    batch = status_samples(PRIMARY, wall_time=0.0)
    store = MetricStore(scope="s", member="m")
    assert all(store.clear(name) for name in batch.replace)
    assert isinstance(batch, Samples)
