"""The node file's ``metrics`` section: where and how often to push."""

from __future__ import annotations

from typing import Any

import pytest

from messages.config import MetricsSettings
from node.config import ConfigError, parse_config


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


def test_without_the_section_nothing_is_pushed() -> None:
    assert parse_config(config(), env={}).metrics is None


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({}, MetricsSettings()),
        ({"pushgateway": "pushgw:9091"}, MetricsSettings(pushgateway="pushgw:9091")),
        (
            {"pushgateway": "https://pushgw.example/prefix", "push_interval": 30, "job": "pg"},
            MetricsSettings(
                pushgateway="https://pushgw.example/prefix", push_interval_s=30, job="pg"
            ),
        ),
    ],
)
def test_the_section_becomes_metrics_settings(
    section: dict[str, Any], expected: MetricsSettings
) -> None:
    assert parse_config(config(metrics=section), env={}).metrics == expected


def test_the_environment_can_set_the_gateway() -> None:
    env = {"PGACTOR__METRICS__PUSHGATEWAY": "10.0.0.5:9091"}
    settings = parse_config(config(), env=env).metrics
    assert settings is not None and settings.pushgateway == "10.0.0.5:9091"


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"pushgateway": "ftp://x:1"}, "metrics.pushgateway"),
        ({"pushgateway": "no-port"}, "metrics.pushgateway"),
        ({"push_interval": 0}, "metrics.push_interval"),
        ({"job": "a/b"}, "metrics.job"),
        ({"pushgatway": "x:1"}, "metrics.pushgatway"),
    ],
)
def test_a_bad_section_is_reported_with_its_key(section: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(config(metrics=section), env={})
    assert key in str(raised.value)
