"""The shipped dashboard and alert rules name only metrics pgactor exports, and the alerts
fire when they should; ``metrics.names: patroni`` serves Patroni's names as Patroni does.

promtool (Debian's ``prometheus`` package) parses every rule and dashboard query
and runs the rules' unit tests (tests/metrics/promtool/) where it is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from promql import dashboard_queries, exported, grafana_query_names, metric_names
from statuses import primary  # type: ignore[import-not-found]

from actors.metrics.catalog import BY_NAME
from actors.metrics.patroni import NOT_SERVED, PATRONI_NAMES, padded_version
from actors.metrics.status import status_samples
from actors.metrics.store import MetricStore
from messages.admin import NodeStatus
from messages.base import MemberName
from messages.cluster import ClusterView, LeaderRecord
from messages.config import DynamicConfig
from messages.metrics import Sample

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "k8s" / "monitoring" / "grafana-dashboard.json"
RULES = ROOT / "k8s" / "monitoring" / "pgactor-alerts.yaml"
PROMETHEUS_RULE = ROOT / "k8s" / "overlays" / "monitoring" / "prometheusrule.yaml"
RULE_TESTS = Path(__file__).resolve().parent / "promtool" / "pgactor-alerts.test.yaml"
PATRONI_4 = {
    "patroni_primary",
    "patroni_replica",
    "patroni_xlog_location",
    "patroni_xlog_received_location",
    "patroni_xlog_replayed_location",
    "patroni_dcs_last_seen",
    "patroni_pending_restart",
    "patroni_is_paused",
    "patroni_postgres_running",
    "patroni_postgres_timeline",
    "patroni_cluster_unlocked",
    "patroni_failsafe_mode_is_active",
    "patroni_postmaster_start_time",
    "patroni_sync_standby",
    "patroni_standby_leader",
    "patroni_version",
}
"""What Patroni 4's /metrics serves, as a dashboard written for it reads."""


def dashboard() -> Any:
    return json.loads(DASHBOARD.read_text())


def plain_groups() -> list[Any]:
    return list(yaml.safe_load(RULES.read_text())["groups"])


def operator_groups() -> list[Any]:
    manifest = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert (manifest["apiVersion"], manifest["kind"]) == (
        "monitoring.coreos.com/v1",
        "PrometheusRule",
    )
    return list(manifest["spec"]["groups"])


def rules(groups: list[Any]) -> Iterator[Any]:
    for group in groups:
        yield from group["rules"]


# -- which metrics the dashboard and the rules name ---------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("pgactor_primary", {"pgactor_primary"}),
        (
            'sum by (scope, name) (pgactor_primary{scope="$scope", name=~"a|b"}) != 1',
            {"pgactor_primary"},
        ),
        (
            "0 * max by (scope) (max_over_time(pgactor_primary[1h] offset 5m))"
            " unless on (scope) pgactor_info",
            {"pgactor_primary", "pgactor_info"},
        ),
        (
            "histogram_quantile(0.99, sum(rate(x_bucket[$__rate_interval])) without (le))",
            {"x_bucket"},
        ),
        ("a > on (n) group_left (version) b or c and bool 1e6 * Inf", {"a", "b", "c"}),
        ('time() - pgactor_dcs_last_seen{op="by (x)"}', {"pgactor_dcs_last_seen"}),
        ('{__name__="only_by_matcher"}', set()),
    ],
)
def test_the_extractor_finds_the_metric_names_of_an_expression(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_a_template_query_names_the_metric_of_its_selector_only() -> None:
    assert grafana_query_names('label_values(pgactor_info{scope="$scope"}, name)') == {
        "pgactor_info"
    }
    assert grafana_query_names("label_values(scope)") == set()


def test_the_exported_names_are_the_catalogue_histogram_series_and_the_patroni_view() -> None:
    assert exported("pgactor_primary")
    assert exported("pgactor_dcs_request_duration_seconds_bucket")
    assert not exported("pgactor_primary_bucket"), "a gauge has no buckets"
    assert exported("patroni_xlog_location")
    assert not exported("patroni_postmaster_start_time")
    assert not exported("up")


def test_every_metric_the_dashboard_queries_is_exported() -> None:
    named: dict[str, set[str]] = {}
    for where, query, template in dashboard_queries(dashboard()):
        found = grafana_query_names(query) if template else metric_names(query)
        assert found, f"{where}: {query!r} names no metric"
        for name in found:
            named.setdefault(name, set()).add(where)
    unknown = {name: sorted(where) for name, where in named.items() if not exported(name)}
    assert unknown == {}
    # the dashboard shows what the alerts are about
    assert {
        "pgactor_primary",
        "pgactor_replica_lag_bytes",
        "pgactor_maximum_lag_on_failover_bytes",
        "pgactor_postgres_timeline",
        "pgactor_dcs_reachable",
        "pgactor_lease_remaining_seconds",
        "pgactor_pending_restart",
    } <= set(named)


@pytest.mark.parametrize("source", ["plain", "operator"])
def test_every_metric_the_alert_rules_read_is_exported(source: str) -> None:
    groups = plain_groups() if source == "plain" else operator_groups()
    for rule in rules(groups):
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert {n for n in names if not exported(n)} == set(), rule["alert"]


def test_the_prometheus_rule_carries_the_plain_rules_unchanged() -> None:
    assert operator_groups() == plain_groups()


def test_the_alerts_cover_the_cluster_s_failure_signals() -> None:
    alerts = {rule["alert"]: rule for rule in rules(plain_groups())}
    assert set(alerts) == {
        "PgactorNotExactlyOnePrimary",
        "PgactorReplicationLagOverMaximum",
        "PgactorFailoverOrSwitchover",
        "PgactorDcsUnreachable",
        "PgactorFenceArmedWithoutPrimary",
        "PgactorFenceFired",
        "PgactorPendingRestart",
    }
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert {"summary", "description"} <= set(rule["annotations"]), name


# -- promtool: the rules and queries parse, and the alerts fire when they should ------------


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    return found


def run_promtool(*args: str) -> None:
    done = subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_both_rule_files(tmp_path: Path) -> None:
    run_promtool("check", "rules", str(RULES))
    extracted = tmp_path / "operator.yaml"
    extracted.write_text(yaml.safe_dump({"groups": operator_groups()}))
    run_promtool("check", "rules", str(extracted))


def test_each_alert_fires_in_its_case_and_stays_quiet_in_the_normal_one() -> None:
    run_promtool("test", "rules", str(RULE_TESTS))


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    grafana = {"$__rate_interval": "1m", "$scope": "demo", "$member": ".*"}
    records = []
    for i, (_, query, template) in enumerate(dashboard_queries(dashboard())):
        if template:
            continue
        for variable, value in grafana.items():
            query = query.replace(variable, value)
        records.append({"record": f"dashboard:query_{i}", "expr": query})
    assert records
    path = tmp_path / "dashboard.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    run_promtool("check", "rules", str(path))


# -- metrics.names: patroni --------------------------------------------------------------


def test_every_patroni_name_shows_a_catalogued_pgactor_metric() -> None:
    names = [p.name for p in PATRONI_NAMES]
    assert len(set(names)) == len(names)
    for patroni in PATRONI_NAMES:
        assert patroni.name.startswith("patroni_")
        assert patroni.source in BY_NAME, patroni.name
        assert patroni.name not in NOT_SERVED
    assert set(names) | set(NOT_SERVED) >= PATRONI_4
    assert PATRONI_4 - set(names) == {"patroni_postmaster_start_time"}


@pytest.mark.parametrize(
    ("version", "padded"), [("4.1.5", 40105), ("0.1.0", 100), ("1.2", 10200), ("unknown", 0)]
)
def test_the_version_is_padded_as_patroni_pads_its_own(version: str, padded: int) -> None:
    assert padded_version(1.0, {"version": version}) == padded


PRIMARY = primary(
    cluster=ClusterView(leader=LeaderRecord(name=MemberName("pg1")), config=DynamicConfig()),
    lease_remaining_s=25.0,
)


def exposition(names: str, status: NodeStatus = PRIMARY) -> dict[str, list[Any]]:
    store = MetricStore(scope=status.scope, member=status.name, names=names)
    store.apply(Sample(name="pgactor_info", value=1.0, labels=(("version", "0.1.0"),)))
    samples = status_samples(status, wall_time=1_700_000_000.0)
    for name in samples.replace:
        store.clear(name)
    for sample in samples.items:
        assert store.apply(sample) is None, sample.name
    out: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(store.render().decode()):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def test_with_names_patroni_the_scrape_has_patronis_names_beside_pgactors() -> None:
    got = exposition("patroni")
    for patroni in PATRONI_NAMES:
        (sample,) = got[patroni.name]
        assert sample.labels == {"scope": "demo", "name": "pg1"}, patroni.name
        (source,) = got[patroni.source]
        assert sample.value == patroni.convert(source.value, source.labels), patroni.name
    assert got["patroni_primary"][0].value == 1
    assert got["patroni_xlog_location"][0].value == 123456
    assert got["patroni_postgres_timeline"][0].value == 4
    assert got["patroni_version"][0].value == 100
    assert got["patroni_standby_leader"][0].value == 0
    assert got["patroni_dcs_last_seen"][0].value == 1_700_000_000
    assert "pgactor_lease_remaining_seconds" in got, "pgactor's names stay"


def test_by_default_the_scrape_has_pgactors_names_alone() -> None:
    got = exposition("pgactor")
    assert not [name for name in got if name.startswith("patroni_")]
    assert got["pgactor_maximum_lag_on_failover_bytes"][0].value == 1048576


def test_an_unknown_naming_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'zabbix'"):
        MetricStore(scope="demo", member="pg1", names="zabbix")
