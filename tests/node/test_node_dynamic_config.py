"""The dynamic config in the DCS: Patroni's JSON shape, both ways."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages.config import DynamicConfig, SyncMode
from node.config import ConfigError, dynamic_config_from_dict, dynamic_config_to_dict

seconds = st.one_of(
    st.integers(min_value=1, max_value=10**6).map(float),
    st.floats(min_value=1, max_value=10**6, allow_nan=False, allow_infinity=False),
)
settings = st.dictionaries(
    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20), st.text(max_size=30)
)


@st.composite
def dynamic_configs(draw: st.DrawFn) -> DynamicConfig:
    loop_wait = draw(seconds)
    retry_timeout = draw(seconds)
    # ttl is drawn as the slack above the smallest valid value, so every draw is valid.
    ttl = loop_wait + 2 * retry_timeout + draw(st.sampled_from([0.0, 1.0, 0.25, 1000.0]))
    return DynamicConfig(
        ttl_s=ttl,
        loop_wait_s=loop_wait,
        retry_timeout_s=retry_timeout,
        maximum_lag_on_failover=draw(st.integers(min_value=0, max_value=2**63)),
        primary_start_timeout_s=draw(st.floats(min_value=0, max_value=1e6)),
        primary_stop_timeout_s=draw(st.floats(min_value=0, max_value=1e6)),
        synchronous_mode=draw(st.sampled_from(SyncMode)),
        synchronous_mode_strict=draw(st.booleans()),
        synchronous_node_count=draw(st.integers(min_value=1, max_value=100)),
        failsafe_mode=draw(st.booleans()),
        pause=draw(st.booleans()),
        use_slots=draw(st.booleans()),
        check_timeline=draw(st.booleans()),
        postgresql_parameters=draw(settings),
    )


@given(dynamic_configs())
def test_a_dynamic_config_survives_the_dcs_json_round_trip(config: DynamicConfig) -> None:
    stored = json.loads(json.dumps(dynamic_config_to_dict(config)))
    assert dynamic_config_from_dict(stored) == config


@given(dynamic_configs())
def test_the_dcs_shape_is_stable_under_a_second_round_trip(config: DynamicConfig) -> None:
    once = dynamic_config_to_dict(config)
    assert dynamic_config_to_dict(dynamic_config_from_dict(once)) == once


def test_the_defaults_are_written_with_patronis_key_names() -> None:
    assert dynamic_config_to_dict(DynamicConfig()) == {
        "ttl": 30,
        "loop_wait": 10,
        "retry_timeout": 10,
        "maximum_lag_on_failover": 1048576,
        "primary_start_timeout": 300,
        "primary_stop_timeout": 0,
        "synchronous_mode": False,
        "synchronous_mode_strict": False,
        "synchronous_node_count": 1,
        "failsafe_mode": False,
        "pause": False,
        "check_timeline": False,
        "postgresql": {"use_slots": True, "parameters": {}},
    }


@pytest.mark.parametrize(
    ("mode", "written"), [(SyncMode.OFF, False), (SyncMode.ON, True), (SyncMode.QUORUM, "quorum")]
)
def test_synchronous_mode_is_written_as_patroni_writes_it(mode: SyncMode, written: object) -> None:
    assert (
        dynamic_config_to_dict(DynamicConfig(synchronous_mode=mode))["synchronous_mode"] == written
    )


def test_a_config_a_patroni_cluster_wrote_is_read() -> None:
    patroni: dict[str, Any] = {
        "ttl": 30,
        "loop_wait": 10,
        "retry_timeout": 10,
        "maximum_lag_on_failover": 1048576,
        "master_start_timeout": 60,
        "synchronous_mode": True,
        "postgresql": {
            "use_slots": True,
            "parameters": {"max_connections": 100, "hot_standby": "on"},
        },
    }
    assert dynamic_config_from_dict(patroni) == DynamicConfig(
        primary_start_timeout_s=60.0,
        synchronous_mode=SyncMode.ON,
        postgresql_parameters={"max_connections": "100", "hot_standby": "on"},
    )


def test_unknown_keys_are_rejected_unless_asked_to_ignore_them() -> None:
    stored = {
        "ttl": 30,
        "slots": {"x": {"type": "physical"}},
        "postgresql": {"use_pg_rewind": True},
    }
    with pytest.raises(ConfigError) as caught:
        dynamic_config_from_dict(stored)
    assert sorted(caught.value.problems) == [
        "postgresql.use_pg_rewind: is set per node in pgactor:"
        " move it to the postgresql section of each node's file",
        "slots: is a Patroni setting pgactor does not support; remove it",
    ]
    assert dynamic_config_from_dict(stored, ignore_unknown=True) == DynamicConfig()


def test_an_edit_that_breaks_the_lease_rule_is_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        dynamic_config_from_dict({"ttl": 20, "loop_wait": 10, "retry_timeout": 10})
    assert caught.value.problems == [
        "(top level): loop_wait + 2 * retry_timeout must not exceed ttl"
        " (loop_wait=10 + 2 * retry_timeout=10 = 30 > ttl=20)"
    ]
