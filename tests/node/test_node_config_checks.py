"""Whole-file checks: listeners sharing an address and port, parameter values PostgreSQL refuses.

The parameter checks ask the installed PostgreSQL 15 (``pg_config --bindir``)
itself, as ``pgactor config validate`` does on a node.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from node import cli
from node.config import ConfigError, parse_config
from node.config.listeners import Listener, listener_conflicts

pytestmark = pytest.mark.usefixtures("clean_environ")


def pg(hosts: tuple[str, ...], port: int) -> Listener:
    return Listener("postgresql.listen", hosts, port)


def api(host: str, port: int) -> Listener:
    return Listener("restapi.listen", (host,), port)


@pytest.mark.parametrize(
    ("a", "b", "clash"),
    [
        (pg(("127.0.0.1",), 5432), api("127.0.0.1", 5432), "127.0.0.1:5432"),
        (pg(("127.0.0.1",), 5432), api("127.0.0.1", 8008), None),
        (pg(("10.0.0.1",), 8008), api("10.0.0.2", 8008), None),
        (pg(("*",), 8008), api("10.0.0.2", 8008), "*:8008"),
        (pg(("10.0.0.1",), 8008), api("0.0.0.0", 8008), "0.0.0.0:8008"),
        (pg(("::",), 8008), api("127.0.0.1", 8008), "[::]:8008"),
        (pg(("localhost",), 7000), api("127.0.0.1", 7000), "localhost:7000"),
        (pg(("10.0.0.1", "127.0.0.1"), 7000), api("127.0.0.1", 7000), "127.0.0.1:7000"),
        (pg(("::1",), 7000), api("[0:0::1]", 7000), "::1"),
        (pg(("DB.example",), 7000), api("db.example", 7000), "DB.example:7000"),
    ],
)
def test_two_listeners_clash_on_the_same_port_and_an_overlapping_host(
    a: Listener, b: Listener, clash: str | None
) -> None:
    problems = listener_conflicts([a, b])
    if clash is None:
        assert problems == []
    else:
        [problem] = problems
        assert problem.startswith("postgresql.listen and restapi.listen: both listen on ")
        assert clash in problem and problem.endswith("give each its own port")


def _bin_dir() -> str:
    done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def node(minimal: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The minimal sample with the real PostgreSQL binaries and ZeroMQ sections."""
    minimal["postgresql"]["bin_dir"] = _bin_dir()
    minimal["gossip"] = {"listen": "127.0.0.1:7000", "curve_keys_dir": str(tmp_path)}
    minimal["console"] = {"listen": "127.0.0.1:7100"}
    return minimal


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env={})
    return caught.value.problems


def test_a_valid_file_with_every_listener_apart_loads(node: dict[str, Any]) -> None:
    node["postgresql"]["parameters"] = {"shared_buffers": "128MB", "wal_level": "hot_standby"}
    assert parse_config(node, env={}).postgresql.parameters["wal_level"] == "hot_standby"


def test_listeners_on_one_port_are_reported_by_their_keys(node: dict[str, Any]) -> None:
    node["restapi"] = {"listen": "0.0.0.0:5432", "connect_address": "10.0.0.1:5432"}
    node["console"] = {"listen": "127.0.0.1:7000"}
    assert problems_of(node) == [
        "postgresql.listen and restapi.listen: both listen on 0.0.0.0:5432; give each its own port",
        "gossip.listen and console.listen: both listen on 127.0.0.1:7000; give each its own port",
    ]


def test_a_disabled_console_listens_on_nothing(node: dict[str, Any]) -> None:
    node["console"] = {"listen": "127.0.0.1:7000", "enabled": False}
    parse_config(node, env={})


def test_parameter_values_postgresql_refuses_are_reported_with_name_and_range(
    node: dict[str, Any],
) -> None:
    node["postgresql"]["parameters"] = {
        "max_connections": 0,
        "work_mem": "8XB",
        "shared_buffers": "128MB",
        "fsync": "maybe",
    }
    node["bootstrap"] = {"dcs": {"postgresql": {"parameters": {"wal_level": "bogus"}}}}
    problems = problems_of(node)
    assert problems == [
        "postgresql.parameters.max_connections: PostgreSQL refuses '0': 0 is outside the valid"
        ' range for parameter "max_connections" (1 .. 262143)',
        "postgresql.parameters.work_mem: PostgreSQL refuses '8XB': invalid value for parameter"
        ' "work_mem": "8XB"; Valid units for this parameter are "B", "kB", "MB", "GB", and'
        ' "TB".; expected an integer from 64 to 2147483647'
        " (in the parameter's base unit, if it has one)",
        "postgresql.parameters.fsync: PostgreSQL refuses 'maybe': parameter \"fsync\" requires"
        " a Boolean value",
        "bootstrap.dcs.postgresql.parameters.wal_level: PostgreSQL refuses 'bogus': invalid"
        ' value for parameter "wal_level": "bogus"; Available values: minimal, replica, logical.',
    ]


def test_config_validate_exits_2_naming_the_refused_parameter(
    node: dict[str, Any], write_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    node["postgresql"]["parameters"] = {"work_mem": "10", "foo_bar": 1}
    path = write_file(yaml.safe_dump(node))
    assert cli.main(["config", "validate", str(path)]) == 2
    first, *problems = capsys.readouterr().err.splitlines()
    assert first == f"{path}: invalid configuration (2 problems)"
    [work_mem] = [p for p in problems if "work_mem" in p]
    assert "postgresql.parameters.work_mem: PostgreSQL refuses '10': 10 kB is outside" in work_mem
    assert "(64 .. 2147483647)" in work_mem
    assert any('unrecognized configuration parameter "foo_bar"' in p for p in problems)


def test_without_the_binaries_the_parameters_are_not_checked_and_that_is_said(
    node: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node["postgresql"]["bin_dir"] = str(tmp_path)
    node["postgresql"]["parameters"] = {"max_connections": 0}
    with caplog.at_level(logging.WARNING, logger="node.config.pg_server"):
        parse_config(node, env={})
    assert "postgresql.parameters not checked against PostgreSQL: no " in caplog.text
