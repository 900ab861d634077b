"""Environment overrides: named variables, the generic form, the downward API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from messages.config import (
    EtcdSettings,
    KubernetesSettings,
    NodeConfig,
    SyncMode,
    UserCredentials,
)
from node.config import ENV_OVERRIDES, ConfigError, parse_config

Read = Callable[[NodeConfig], object]

NAMED_CASES: list[tuple[str, str, Read, object]] = [
    ("PGACTOR_SCOPE", "other", lambda c: c.scope, "other"),
    ("PGACTOR_NAME", "node9", lambda c: c.name, "node9"),
    ("PGACTOR_NAMESPACE", "/ha/", lambda c: c.namespace, "/ha"),
    ("PGACTOR_RESTAPI_LISTEN", "0.0.0.0:9008", lambda c: c.restapi.listen_port, 9008),
    (
        "PGACTOR_RESTAPI_CONNECT_ADDRESS",
        "10.0.0.7:9008",
        lambda c: c.restapi.connect_address,
        "10.0.0.7:9008",
    ),
    ("PGACTOR_RESTAPI_USERNAME", "ops", lambda c: c.restapi.username, "ops"),
    ("PGACTOR_RESTAPI_PASSWORD", "pw-1", lambda c: c.restapi.password, "pw-1"),
    (
        "PGACTOR_ETCD3_HOSTS",
        "e1:2379,e2:2379",
        lambda c: c.dcs,
        EtcdSettings(hosts=("e1:2379", "e2:2379")),
    ),
    ("PGACTOR_POSTGRESQL_DATA_DIR", "/pg", lambda c: c.postgresql.data_dir, "/pg"),
    ("PGACTOR_POSTGRESQL_LISTEN", "0.0.0.0:6432", lambda c: c.postgresql.listen_port, 6432),
    (
        "PGACTOR_POSTGRESQL_CONNECT_ADDRESS",
        "10.0.0.7:6432",
        lambda c: (c.postgresql.connect_host, c.postgresql.connect_port),
        ("10.0.0.7", 6432),
    ),
    (
        "PGACTOR_SUPERUSER_USERNAME",
        "admin",
        lambda c: c.postgresql.authentication.superuser.username,
        "admin",
    ),
    (
        "PGACTOR_SUPERUSER_PASSWORD",
        "012",
        lambda c: c.postgresql.authentication.superuser.password,
        "012",
    ),
    (
        "PGACTOR_REPLICATION_USERNAME",
        "repl",
        lambda c: c.postgresql.authentication.replication.username,
        "repl",
    ),
    (
        "PGACTOR_REPLICATION_PASSWORD",
        "true",
        lambda c: c.postgresql.authentication.replication.password,
        "true",
    ),
    (
        "PGACTOR_REWIND_USERNAME",
        "rw",
        lambda c: c.postgresql.authentication.rewind,
        UserCredentials(username="rw", password="rewind-s3cret"),
    ),
    (
        "PGACTOR_REWIND_PASSWORD",
        "pw-3",
        lambda c: c.postgresql.authentication.rewind,
        UserCredentials(username="rewinder", password="pw-3"),
    ),
]


@pytest.mark.parametrize(("name", "value", "read", "expected"), NAMED_CASES)
def test_each_named_override_replaces_the_files_value(
    patroni_style: dict[str, Any], name: str, value: str, read: Read, expected: object
) -> None:
    assert read(parse_config(patroni_style, env={name: value})) == expected


def test_every_named_override_is_covered_by_a_case() -> None:
    covered = {case[0] for case in NAMED_CASES} | {
        "PGACTOR_KUBERNETES_NAMESPACE",
        "PGACTOR_KUBERNETES_LABELS",
    }
    assert covered == set(ENV_OVERRIDES)


def _on_kubernetes(data: dict[str, Any], section: dict[str, Any] | None = None) -> dict[str, Any]:
    del data["etcd3"]
    data["kubernetes"] = section
    return data


def test_kubernetes_overrides_set_namespace_and_json_labels(
    patroni_style: dict[str, Any],
) -> None:
    env = {
        "PGACTOR_KUBERNETES_NAMESPACE": "db",
        "PGACTOR_KUBERNETES_LABELS": '{"application": "pgactor", "team": "dba"}',
    }
    dcs = parse_config(_on_kubernetes(patroni_style, {"namespace": "x"}), env=env).dcs
    assert dcs == KubernetesSettings(
        namespace="db", labels={"application": "pgactor", "team": "dba"}
    )


def test_the_etcd_hosts_override_follows_the_files_etcd_alias(
    patroni_style: dict[str, Any],
) -> None:
    patroni_style["etcd"] = patroni_style.pop("etcd3")
    config = parse_config(patroni_style, env={"PGACTOR_ETCD3_HOSTS": "e1:2379"})
    assert config.dcs == EtcdSettings(hosts=("e1:2379",))


def test_the_downward_api_fills_name_pod_ip_and_namespace(patroni_style: dict[str, Any]) -> None:
    del patroni_style["name"]
    del patroni_style["postgresql"]["connect_address"]
    del patroni_style["restapi"]["connect_address"]
    env = {"POD_NAME": "pg-0", "POD_IP": "10.4.0.9", "POD_NAMESPACE": "prod"}
    config = parse_config(_on_kubernetes(patroni_style), env=env)
    assert config.name == "pg-0"
    assert config.dcs == KubernetesSettings(namespace="prod", pod_ip="10.4.0.9")
    assert (config.postgresql.connect_host, config.postgresql.connect_port) == ("10.4.0.9", 5432)
    assert config.restapi.connect_address == "10.4.0.9:8008"


def test_the_downward_api_never_overrides_what_was_set(patroni_style: dict[str, Any]) -> None:
    kubernetes = {"namespace": "own", "pod_ip": "10.0.0.2"}
    env = {"POD_NAME": "pg-0", "POD_IP": "10.4.0.9", "POD_NAMESPACE": "prod"}
    config = parse_config(_on_kubernetes(patroni_style, kubernetes), env=env)
    assert config.name == "node1"
    assert config.dcs == KubernetesSettings(namespace="own", pod_ip="10.0.0.2")
    assert config.postgresql.connect_host == "10.0.0.1"


def test_pgactor_name_wins_over_pod_name(patroni_style: dict[str, Any]) -> None:
    del patroni_style["name"]
    config = parse_config(patroni_style, env={"POD_NAME": "pg-0", "PGACTOR_NAME": "n7"})
    assert config.name == "n7"


def test_pod_variables_do_not_create_a_kubernetes_section(patroni_style: dict[str, Any]) -> None:
    config = parse_config(patroni_style, env={"POD_NAMESPACE": "prod", "POD_IP": "10.4.0.9"})
    assert config.dcs == EtcdSettings(hosts=("10.0.0.10:2379", "10.0.0.11:2379"))


GENERIC_CASES: list[tuple[str, str, Read, object]] = [
    ("PGACTOR__BOOTSTRAP__DCS__TTL", "45", lambda c: c.bootstrap_dcs.ttl_s, 45.0),
    ("PGACTOR__BOOTSTRAP__DCS__LOOP_WAIT", "2.5", lambda c: c.bootstrap_dcs.loop_wait_s, 2.5),
    (
        "PGACTOR__BOOTSTRAP__DCS__SYNCHRONOUS_MODE",
        "true",
        lambda c: c.bootstrap_dcs.synchronous_mode,
        SyncMode.ON,
    ),
    (
        "PGACTOR__BOOTSTRAP__DCS__MASTER_START_TIMEOUT",
        "5",
        lambda c: c.bootstrap_dcs.primary_start_timeout_s,
        5.0,
    ),
    ("PGACTOR__TAGS__NOFAILOVER", "true", lambda c: c.tags.nofailover, True),
    (
        "PGACTOR__POSTGRESQL__PARAMETERS__MAX_CONNECTIONS",
        "0200",
        lambda c: c.postgresql.parameters["max_connections"],
        "0200",
    ),
    (
        "PGACTOR__POSTGRESQL__PG_HBA",
        '["local all all peer"]',
        lambda c: c.postgresql.pg_hba,
        ("local all all peer",),
    ),
    (
        "PGACTOR__POSTGRESQL__AUTHENTICATION__SUPERUSER__PASSWORD",
        "1e3",
        lambda c: c.postgresql.authentication.superuser.password,
        "1e3",
    ),
    (
        "PGACTOR__POSTGRESQL__WAL_G__COMMAND",
        "wal-g fetch --x",
        lambda c: c.postgresql.replica_methods[0].command,
        "wal-g fetch --x",
    ),
    (
        "PGACTOR__POSTGRESQL__WAL_G__THREADS",
        "8",
        lambda c: c.postgresql.replica_methods[0].options,
        {"threads": "8"},
    ),
    ("PGACTOR__LOG__LEVEL", "warning", lambda c: c.log_level, "WARNING"),
]


@pytest.mark.parametrize(("name", "value", "read", "expected"), GENERIC_CASES)
def test_the_generic_form_sets_any_key_with_the_keys_type(
    patroni_style: dict[str, Any], name: str, value: str, read: Read, expected: object
) -> None:
    assert read(parse_config(patroni_style, env={name: value})) == expected


def _problems(data: dict[str, Any], env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env=env)
    return caught.value.problems


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"PGACTOR_SCOPEE": "x"},
            "PGACTOR_SCOPEE: unknown environment variable (did you mean PGACTOR_SCOPE?)",
        ),
        (
            {"PGACTOR_WHATEVER": "x"},
            "PGACTOR_WHATEVER: unknown environment variable (set keys as PGACTOR__KEY__SUBKEY)",
        ),
        (
            {"PGACTOR__POSTGRESQL__DATA_DRI": "x", "PGACTOR__BOOTSTRAP__DSC__TTL": "3"},
            "PGACTOR__BOOTSTRAP__DSC__TTL: bootstrap.dsc: unknown key (did you mean dcs?)",
        ),
        (
            {"PGACTOR__TAGS____NOSYNC": "x"},
            "PGACTOR__TAGS____NOSYNC: expected PGACTOR__KEY__SUBKEY..., with no empty key",
        ),
        (
            {"PGACTOR__SCOPE__X": "x"},
            "PGACTOR__SCOPE__X: scope holds a single value; set all of it with one variable",
        ),
        (
            {"PGACTOR__BOOTSTRAP__DCS__TTL": "[1,"},
            "PGACTOR__BOOTSTRAP__DCS__TTL: bootstrap.dcs.ttl: the value is not valid YAML or JSON",
        ),
        (
            {"PGACTOR_KUBERNETES_LABELS": "[1]"},
            "PGACTOR_KUBERNETES_LABELS: expected a JSON object",
        ),
        ({"POD_IP": "10.0.0"}, "POD_IP: expected an IP address, got '10.0.0'"),
        (
            {"PGACTOR__BOOTSTRAP__DCS__TTL": "abc"},
            "bootstrap.dcs.ttl: expected a number (set by PGACTOR__BOOTSTRAP__DCS__TTL)",
        ),
    ],
)
def test_a_bad_variable_is_an_error_naming_it(
    patroni_style: dict[str, Any], env: dict[str, str], problem: str
) -> None:
    assert problem in _problems(patroni_style, env)


def test_a_misspelt_generic_key_is_reported_with_its_variable(
    patroni_style: dict[str, Any],
) -> None:
    problems = _problems(patroni_style, {"PGACTOR__POSTGRESQL__DATA_DRI": "/x"})
    assert problems == [
        "postgresql.data_dri: unknown key (did you mean data_dir?)"
        " (set by PGACTOR__POSTGRESQL__DATA_DRI)"
    ]


def test_variables_of_other_programs_are_ignored(patroni_style: dict[str, Any]) -> None:
    env = {"PATH": "/usr/bin", "PATRONI_SCOPE": "x", "PGACTORX": "y", "HOME": "/root"}
    assert parse_config(patroni_style, env=env).scope == "demo"
