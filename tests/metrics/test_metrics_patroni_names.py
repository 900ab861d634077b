"""``metrics.names: patroni`` end to end: the gauges it needed, the config key, a real
GET /metrics, and queries written for Patroni's /metrics answering the same on pgactor's.
"""

from __future__ import annotations

import dataclasses
import http.client
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from statuses import primary  # type: ignore[import-not-found]

from actors.api import ApiActor
from actors.metrics import MetricsActor
from actors.metrics.status import status_samples
from actors.metrics.store import MetricStore
from actors.runtime.actor import ask
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from messages.admin import NodeStatus
from messages.base import ActorName, Lsn, MemberName, Timeline
from messages.cluster import ClusterView, LeaderRecord, PgState, Role
from messages.config import DynamicConfig, MetricsSettings, RestApiSettings
from messages.ha import Reason
from messages.metrics import Sample
from messages.runtime import Ping
from node.config import ConfigError, parse_config

API, METRICS = ActorName("api"), ActorName("metrics")
CLUSTER = ClusterView(
    leader=LeaderRecord(name=MemberName("pg1"), optime=Lsn(123456)), config=DynamicConfig()
)
PRIMARY = primary(cluster=CLUSTER)
REPLICA = NodeStatus(
    name=MemberName("pg2"),
    scope="demo",
    role=Role.REPLICA,
    state=PgState.RUNNING,
    reason=Reason.REPLICA_OK,
    timeline=Timeline(4),
    wal_position=Lsn(121000),
    receive_lsn=Lsn(121000),
    replay_lsn=Lsn(120000),
    replication_state="streaming",
    cluster=CLUSTER,
)


def gauges(status: NodeStatus) -> dict[str, float]:
    return {s.name: s.value for s in status_samples(status, wall_time=0.0).items if not s.labels}


def test_a_streaming_replica_and_a_failsafe_leader_say_so() -> None:
    assert gauges(REPLICA)["pgactor_postgres_streaming"] == 1
    assert gauges(REPLICA)["pgactor_postgres_in_archive_recovery"] == 0
    archive = dataclasses.replace(REPLICA, replication_state="in archive recovery")
    assert gauges(archive)["pgactor_postgres_streaming"] == 0
    assert gauges(archive)["pgactor_postgres_in_archive_recovery"] == 1
    stopped = dataclasses.replace(REPLICA, state=PgState.STOPPED)
    assert gauges(stopped)["pgactor_postgres_streaming"] == 0, "only a running replica streams"
    assert gauges(PRIMARY)["pgactor_failsafe_mode_is_active"] == 0
    failsafe = dataclasses.replace(PRIMARY, failsafe_ttl_s=30.0)
    assert gauges(failsafe)["pgactor_failsafe_mode_is_active"] == 1


def test_maximum_lag_on_failover_is_the_cluster_config_s_and_absent_before_it() -> None:
    assert gauges(PRIMARY)["pgactor_maximum_lag_on_failover_bytes"] == 1048576
    tuned = dataclasses.replace(
        PRIMARY,
        cluster=dataclasses.replace(CLUSTER, config=DynamicConfig(maximum_lag_on_failover=5)),
    )
    assert gauges(tuned)["pgactor_maximum_lag_on_failover_bytes"] == 5
    unknown = dataclasses.replace(PRIMARY, cluster=dataclasses.replace(CLUSTER, config=None))
    assert "pgactor_maximum_lag_on_failover_bytes" not in gauges(unknown)
    replaced = status_samples(unknown, wall_time=0.0).replace
    assert "pgactor_maximum_lag_on_failover_bytes" in replaced, "a stale value must go"


# -- the config key ------------------------------------------------------------------------


def config(**sections: Any) -> dict[str, Any]:
    return {
        "scope": "demo",
        "name": "pg1",
        "restapi": {"listen": "127.0.0.1:8008"},
        "etcd3": {"hosts": ["127.0.0.1:2379"]},
        "postgresql": {
            "data_dir": "/tmp/data",
            "bin_dir": "/usr/lib/postgresql/15/bin",
            "authentication": {
                "superuser": {"username": "postgres"},
                "replication": {"username": "replicator"},
            },
        },
        **sections,
    }


def test_names_default_to_pgactors_so_old_configs_keep_their_meaning() -> None:
    assert MetricsSettings().names == "pgactor"
    settings = parse_config(config(metrics={"pushgateway": "pushgw:9091"}), env={}).metrics
    assert settings == MetricsSettings(pushgateway="pushgw:9091", names="pgactor")


def test_names_patroni_is_read_from_the_file_and_the_environment() -> None:
    from_file = parse_config(config(metrics={"names": "patroni"}), env={}).metrics
    assert from_file == MetricsSettings(names="patroni")
    env = {"PGACTOR__METRICS__NAMES": "patroni"}
    from_env = parse_config(config(), env=env).metrics
    assert from_env is not None and from_env.names == "patroni"


def test_an_unknown_naming_is_reported_with_its_key() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(config(metrics={"names": "zabbix"}), env={})
    assert "metrics.names" in str(raised.value)


# -- a real scrape -------------------------------------------------------------------------


@pytest.fixture
def scrape(registry: Registry) -> Callable[[], str]:
    runtime = Runtime(registry=registry)
    MetricsActor.start(
        name=METRICS,
        runtime=runtime,
        scope="demo",
        member="pg1",
        settings=MetricsSettings(names="patroni"),
    )
    api = ApiActor.start(
        name=API, runtime=runtime, settings=RestApiSettings(listen_port=0), scope="demo"
    )
    port = api.proxy().port.get(timeout=10)

    def get() -> str:
        ask(registry, METRICS, Ping(), timeout_s=5)  # every status told so far is applied
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            assert resp.status == 200
            return resp.read().decode()
        finally:
            conn.close()

    return get


def test_a_node_with_names_patroni_serves_patronis_series_over_http(
    registry: Registry, scrape: Callable[[], str]
) -> None:
    registry.tell(METRICS, PRIMARY)
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scrape())
        for s in family.samples
    }
    labels = (("name", "pg1"), ("scope", "demo"))
    assert got[("patroni_primary", labels)] == 1
    assert got[("patroni_replica", labels)] == 0
    assert got[("patroni_postgres_timeline", labels)] == 4
    assert got[("patroni_xlog_location", labels)] == 123456
    assert ("patroni_version", labels) in got
    assert got[("pgactor_primary", labels)] == 1


# -- queries written for Patroni ---------------------------------------------------------------


def series(status: NodeStatus) -> list[dict[str, str]]:
    """The scrape of one member with names: patroni, as promtool input series."""
    store = MetricStore(scope=status.scope, member=status.name, names="patroni")
    store.apply(Sample(name="pgactor_info", value=1.0, labels=(("version", "0.1.0"),)))
    samples = status_samples(status, wall_time=1_700_000_000.0)
    for sample in samples.items:
        store.apply(sample)
    out = []
    for family in text_string_to_metric_families(store.render().decode()):
        for s in family.samples:
            if s.name.startswith("patroni_"):
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                out.append({"series": f"{s.name}{{{labels}}}", "values": f"{s.value:g}x10"})
    return out


PATRONI_QUERIES = [
    # one primary per cluster (a common Patroni dashboard stat)
    ("count by (scope) (patroni_primary == 1)", [({"scope": "demo"}, 1)]),
    # a replica's replay lag behind the leader's position
    (
        "max by (scope) (patroni_xlog_location) - on (scope) group_right ()"
        " (patroni_xlog_replayed_location and patroni_replica == 1)",
        [({"scope": "demo", "name": "pg2"}, 3456)],
    ),
    (
        "patroni_postgres_streaming == 1",
        [({"__name__": "patroni_postgres_streaming", "scope": "demo", "name": "pg2"}, 1)],
    ),
    ("max by (scope) (patroni_postgres_timeline)", [({"scope": "demo"}, 4)]),
    ("sum by (scope) (patroni_cluster_unlocked)", [({"scope": "demo"}, 0)]),
]


def test_queries_written_for_patroni_answer_the_same_on_pgactors_series(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    tests = {
        "rule_files": [],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": series(PRIMARY) + series(REPLICA),
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "1m",
                        "exp_samples": [
                            {"labels": _labels(lbl), "value": v} for lbl, v in expected
                        ],
                    }
                    for expr, expected in PATRONI_QUERIES
                ],
            }
        ],
    }
    path = tmp_path / "patroni-queries.test.yaml"
    path.write_text(yaml.safe_dump(tests))
    done = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _labels(labels: dict[str, str]) -> str:
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
    return f"{name}{{{rest}}}"
