"""The ``restapi`` section's protections: who may act, and how connections are bounded."""

from __future__ import annotations

from typing import Any

import pytest

from messages.config import RestApiSettings
from node.config import ConfigError, parse_config


def test_actions_need_credentials_unless_the_file_opts_out(minimal: dict[str, Any]) -> None:
    assert parse_config(minimal, env={}).restapi.allow_unauthenticated_actions is False
    minimal["restapi"] = {"allow_unauthenticated_actions": True}
    assert parse_config(minimal, env={}).restapi.allow_unauthenticated_actions is True


def test_the_opt_out_can_come_from_the_environment(minimal: dict[str, Any]) -> None:
    env = {"PGACTOR__RESTAPI__ALLOW_UNAUTHENTICATED_ACTIONS": "true"}
    assert parse_config(minimal, env=env).restapi.allow_unauthenticated_actions is True


def test_the_opt_out_must_be_a_boolean(minimal: dict[str, Any]) -> None:
    minimal["restapi"] = {"allow_unauthenticated_actions": "yes please"}
    with pytest.raises(ConfigError) as caught:
        parse_config(minimal, env={})
    assert caught.value.problems == [
        "restapi.allow_unauthenticated_actions: expected true or false"
    ]


def test_patroni_authentication_still_sets_basic_credentials(minimal: dict[str, Any]) -> None:
    minimal["restapi"] = {"authentication": {"username": "admin", "password": "pw"}}
    restapi = parse_config(minimal, env={}).restapi
    assert (restapi.username, restapi.password) == ("admin", "pw")
    assert restapi == RestApiSettings(username="admin", password="pw")


def test_connection_bounds_are_settings_with_defaults(minimal: dict[str, Any]) -> None:
    defaults = parse_config(minimal, env={}).restapi
    assert (defaults.max_connections_per_address, defaults.header_timeout_s) == (20, 10.0)
    minimal["restapi"] = {"max_connections_per_address": 5, "header_timeout": 2.5}
    restapi = parse_config(minimal, env={}).restapi
    assert (restapi.max_connections_per_address, restapi.header_timeout_s) == (5, 2.5)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("max_connections_per_address", 0, "must be >= 1 (got 0)"),
        ("max_connections_per_address", "many", "expected an integer"),
        ("header_timeout", 0, "must be > 0 (got 0)"),
        ("header_timeout", 600, "must be <= 300 (got 600)"),
    ],
)
def test_connection_bounds_out_of_range_are_reported(
    minimal: dict[str, Any], key: str, value: object, problem: str
) -> None:
    minimal["restapi"] = {key: value}
    with pytest.raises(ConfigError) as caught:
        parse_config(minimal, env={})
    assert caught.value.problems == [f"restapi.{key}: {problem}"]
