"""The metric catalog: Prometheus naming, Patroni's names kept, every sent name known."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from actors.metrics.catalog import BY_NAME, CATALOG, CONSTANT_LABELS, Kind

ROOT = Path(__file__).resolve().parents[2]
_SENT_NAME = re.compile(r"""\bname=["'](pgactor_[a-z0-9_]+)["']""")


def test_names_are_unique_prefixed_and_follow_prometheus_conventions() -> None:
    assert len(BY_NAME) == len(CATALOG)
    for metric in CATALOG:
        assert re.fullmatch(r"pgactor_[a-z0-9_]+", metric.name), metric.name
        assert metric.help.endswith((".", ")")), metric.name
        assert not set(metric.labels) & set(CONSTANT_LABELS), metric.name
        if metric.kind is Kind.COUNTER:
            assert metric.name.endswith("_total"), metric.name
        else:
            assert not metric.name.endswith("_total"), metric.name
        if metric.kind is Kind.HISTOGRAM:
            assert metric.name.endswith("_seconds") and metric.buckets, metric.name


@pytest.mark.parametrize(
    "patroni",
    [
        "primary",
        "replica",
        "sync_standby",
        "postgres_running",
        "postgres_timeline",
        "xlog_location",
        "xlog_received_location",
        "xlog_replayed_location",
        "is_paused",
        "pending_restart",
        "cluster_unlocked",
        "dcs_last_seen",
    ],
)
def test_a_metric_patroni_has_too_keeps_its_name_and_says_so(patroni: str) -> None:
    metric = BY_NAME[f"pgactor_{patroni}"]
    assert f"patroni_{patroni}" in metric.help


def test_every_metric_name_an_actor_sends_is_in_the_catalog() -> None:
    sent = {
        (path.relative_to(ROOT).as_posix(), name)
        for package in ("actors", "node")
        for path in (ROOT / package).rglob("*.py")
        if "metrics" not in path.parts
        for name in _SENT_NAME.findall(path.read_text())
    }
    assert {name for _, name in sent} >= {
        "pgactor_dcs_request_duration_seconds",
        "pgactor_postgres_action_duration_seconds",
        "pgactor_basebackup_done_bytes",
        "pgactor_actor_restarts_total",
    }
    unknown = sorted((where, name) for where, name in sent if name not in BY_NAME)
    assert unknown == []
