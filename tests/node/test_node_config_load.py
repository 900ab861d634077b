"""Loading a valid config: Patroni's keys map onto the frozen NodeConfig."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from messages.base import MemberName
from messages.codec import decode, encode
from messages.config import (
    Authentication,
    Callbacks,
    DynamicConfig,
    EtcdSettings,
    KubernetesSettings,
    NodeConfig,
    PostgresSettings,
    ReplicaMethod,
    RestApiSettings,
    SyncMode,
    Tags,
    UserCredentials,
    WatchdogMode,
    WatchdogSettings,
)
from node.config import ConfigError, load_config, parse_config

EXPECTED = NodeConfig(
    scope="demo",
    name=MemberName("node1"),
    namespace="/service",
    postgresql=PostgresSettings(
        data_dir="/var/lib/postgresql/data",
        bin_dir="/usr/lib/postgresql/16/bin",
        listen_host="127.0.0.1,10.0.0.1",
        listen_port=5432,
        connect_host="10.0.0.1",
        connect_port=5432,
        authentication=Authentication(
            superuser=UserCredentials(username="postgres", password="super-s3cret"),
            replication=UserCredentials(username="replicator", password="repl-s3cret"),
            rewind=UserCredentials(username="rewinder", password="rewind-s3cret"),
        ),
        parameters={"shared_buffers": "128MB", "fsync": "off", "work_mem": "4.5"},
        pg_hba=("host replication replicator 10.0.0.0/8 scram-sha-256",),
        callbacks=Callbacks(on_role_change="/usr/local/bin/role-changed.sh"),
        create_replica_methods=("wal_g", "basebackup"),
        replica_methods=(
            ReplicaMethod(
                name="wal_g",
                command="wal-g backup-fetch",
                options={"threads": "4"},
                no_leader=True,
            ),
        ),
        basebackup_options={"verbose": "", "max-rate": "100M", "checkpoint": "fast"},
        initdb_options=("encoding=UTF8", "data-checksums"),
        post_init="/usr/local/bin/post-init.sh",
        use_pg_rewind=False,
        pg_ctl_timeout_s=90.0,
    ),
    dcs=EtcdSettings(hosts=("10.0.0.10:2379", "10.0.0.11:2379")),
    bootstrap_dcs=DynamicConfig(
        ttl_s=30.0,
        loop_wait_s=10.0,
        retry_timeout_s=10.0,
        maximum_lag_on_failover=1048576,
        primary_start_timeout_s=120.0,
        synchronous_mode=SyncMode.QUORUM,
        synchronous_node_count=2,
        use_slots=True,
        postgresql_parameters={"max_connections": "100", "wal_log_hints": "on"},
    ),
    restapi=RestApiSettings(
        listen_host="0.0.0.0",
        listen_port=8008,
        connect_address="10.0.0.1:8008",
        username="admin",
        password="api-s3cret",
    ),
    tags=Tags(noloadbalance=True, failover_priority=2),
    log_level="DEBUG",
)


def test_a_patroni_style_file_loads_to_the_expected_node_config(
    write_file: Callable[[str], Path], patroni_style_text: str
) -> None:
    assert load_config(write_file(patroni_style_text), env={}) == EXPECTED


def test_a_loaded_config_survives_the_message_codec(patroni_style: dict[str, Any]) -> None:
    config = parse_config(patroni_style, env={})
    assert decode(encode(config)) == config


def test_a_minimal_file_takes_the_defaults_of_messages_config(minimal: dict[str, Any]) -> None:
    config = parse_config(minimal, env={})
    assert config.namespace == "/service"
    assert config.dcs == EtcdSettings(hosts=("127.0.0.1:2379",))
    assert config.bootstrap_dcs == DynamicConfig()
    assert config.restapi == RestApiSettings()
    assert config.tags == Tags()
    assert config.log_level == "INFO"
    pg = config.postgresql
    assert (pg.listen_host, pg.listen_port) == ("127.0.0.1", 5432)
    assert (pg.connect_host, pg.connect_port) == ("127.0.0.1", 5432)
    assert pg.create_replica_methods == ("basebackup",)
    assert pg.callbacks == Callbacks()


def test_parse_config_does_not_change_its_input(patroni_style: dict[str, Any]) -> None:
    before = repr(patroni_style)
    parse_config(patroni_style, env={"PGACTOR_SCOPE": "other", "POD_NAME": "x"})
    assert repr(patroni_style) == before


@pytest.mark.parametrize(
    ("etcd", "hosts"),
    [
        ({"hosts": ["a:2379", "b:2379"]}, ("a:2379", "b:2379")),
        ({"hosts": "a:2379, b:2379"}, ("a:2379", "b:2379")),
        ({"host": "a:2379"}, ("a:2379",)),
        ({"hosts": ["[::1]:2379"]}, ("[::1]:2379",)),
    ],
)
def test_etcd_hosts_are_accepted_in_each_of_patronis_forms(
    minimal: dict[str, Any], etcd: dict[str, Any], hosts: tuple[str, ...]
) -> None:
    minimal["etcd3"] = etcd
    assert parse_config(minimal, env={}).dcs == EtcdSettings(hosts=hosts)


def test_etcd_is_an_alias_of_etcd3(minimal: dict[str, Any]) -> None:
    minimal["etcd"] = {"hosts": "h:2379", "protocol": "https", "username": "u", "password": "p"}
    del minimal["etcd3"]
    assert parse_config(minimal, env={}).dcs == EtcdSettings(
        hosts=("h:2379",), protocol="https", username="u", password="p"
    )


def test_a_kubernetes_section_chooses_the_kubernetes_dcs(minimal: dict[str, Any]) -> None:
    del minimal["etcd3"]
    minimal["kubernetes"] = {
        "namespace": "db",
        "labels": {"application": "pgactor"},
        "use_endpoints": True,
        "pod_ip": "10.1.2.3",
        "api_url": "http://127.0.0.1:9000",
    }
    assert parse_config(minimal, env={}).dcs == KubernetesSettings(
        namespace="db",
        labels={"application": "pgactor"},
        pod_ip="10.1.2.3",
        api_url="http://127.0.0.1:9000",
    )


def test_an_empty_kubernetes_section_still_chooses_kubernetes(minimal: dict[str, Any]) -> None:
    del minimal["etcd3"]
    minimal["kubernetes"] = None
    assert parse_config(minimal, env={}).dcs == KubernetesSettings()


def test_a_key_with_an_empty_value_counts_as_unset(minimal: dict[str, Any]) -> None:
    minimal.update(restapi=None, tags=None, bootstrap={"dcs": None, "post_init": None})
    minimal["postgresql"]["parameters"] = None
    config = parse_config(minimal, env={})
    assert config.restapi == RestApiSettings()
    assert config.postgresql.post_init is None


@pytest.mark.parametrize(
    ("mode", "expected"),
    [(False, SyncMode.OFF), (True, SyncMode.ON), ("quorum", SyncMode.QUORUM), ("on", SyncMode.ON)],
)
def test_synchronous_mode_takes_patronis_values(
    minimal: dict[str, Any], mode: object, expected: SyncMode
) -> None:
    minimal["bootstrap"] = {"dcs": {"synchronous_mode": mode}}
    assert parse_config(minimal, env={}).bootstrap_dcs.synchronous_mode is expected


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (None, WatchdogSettings()),
        ({"mode": False}, WatchdogSettings(mode=WatchdogMode.OFF)),  # YAML's bare `off`
        (
            {"mode": "Required", "safety_margin": 2},
            WatchdogSettings(mode=WatchdogMode.REQUIRED, safety_margin_s=2.0),
        ),
    ],
)
def test_the_watchdog_section_takes_patronis_values(
    minimal: dict[str, Any], section: dict[str, Any] | None, expected: WatchdogSettings
) -> None:
    if section is not None:
        minimal["watchdog"] = section
    assert parse_config(minimal, env={}).watchdog == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "on"), (False, "off"), (100, "100"), (0.9, "0.9"), ("'$libdir'", "'$libdir'")],
)
def test_parameters_of_any_scalar_type_become_postgresql_strings(
    minimal: dict[str, Any], value: object, expected: str
) -> None:
    minimal["postgresql"]["parameters"] = {"p": value}
    assert parse_config(minimal, env={}).postgresql.parameters == {"p": expected}


def test_basebackup_options_may_be_a_mapping(minimal: dict[str, Any]) -> None:
    minimal["postgresql"]["basebackup"] = {"max-rate": "100M", "verbose": True}
    options = parse_config(minimal, env={}).postgresql.basebackup_options
    assert options == {"max-rate": "100M", "verbose": "true"}


def test_replica_methods_follow_the_order_of_create_replica_methods(
    minimal: dict[str, Any],
) -> None:
    minimal["postgresql"].update(
        create_replica_methods=["b", "basebackup", "a"],
        a={"command": "restore-a", "keep_data": True},
        b={"command": "restore-b", "no_leader": True, "retries": 3, "fast": True},
    )
    methods = parse_config(minimal, env={}).postgresql.replica_methods
    assert methods == (
        ReplicaMethod(
            name="b", command="restore-b", no_leader=True, options={"retries": "3", "fast": "true"}
        ),
        ReplicaMethod(name="a", command="restore-a", keep_data=True),
    )


@pytest.mark.parametrize(
    ("listen", "pod_ip", "connect"),
    [
        ("10.0.0.5:5433", None, ("10.0.0.5", 5433)),
        ("0.0.0.0:5433", "10.9.9.9", ("10.9.9.9", 5433)),
        ("10.0.0.5:5433", "10.9.9.9", ("10.9.9.9", 5433)),
        ("[::1]:5432", None, ("::1", 5432)),
    ],
)
def test_the_connect_address_defaults_to_pod_ip_or_the_one_listen_host(
    minimal: dict[str, Any], listen: str, pod_ip: str | None, connect: tuple[str, int]
) -> None:
    minimal["postgresql"]["listen"] = listen
    env = {"POD_IP": pod_ip} if pod_ip else {}
    pg = parse_config(minimal, env=env).postgresql
    assert (pg.connect_host, pg.connect_port) == connect


def test_the_restapi_connect_address_defaults_to_pod_ip(minimal: dict[str, Any]) -> None:
    minimal["restapi"] = {"listen": "0.0.0.0:8009"}
    restapi = parse_config(minimal, env={"POD_IP": "10.9.9.9"}).restapi
    assert restapi.connect_address == "10.9.9.9:8009"


def _fake_pg_config(directory: Path, script: str) -> None:
    pg_config = directory / "pg_config"
    pg_config.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    pg_config.chmod(pg_config.stat().st_mode | stat.S_IXUSR)


def test_bin_dir_defaults_to_what_pg_config_reports(
    minimal: dict[str, Any], tmp_path: Path
) -> None:
    _fake_pg_config(tmp_path, 'test "$1" = --bindir && echo /opt/pg/bin')
    del minimal["postgresql"]["bin_dir"]
    config = parse_config(minimal, env={"PATH": str(tmp_path)})
    assert config.postgresql.bin_dir == "/opt/pg/bin"


def test_without_bin_dir_or_pg_config_the_error_names_the_key(
    minimal: dict[str, Any], tmp_path: Path
) -> None:
    del minimal["postgresql"]["bin_dir"]
    with pytest.raises(ConfigError) as caught:
        parse_config(minimal, env={"PATH": str(tmp_path)})
    assert caught.value.problems == [
        "postgresql.bin_dir: not set, and no pg_config on PATH to ask; set bin_dir"
    ]


def test_a_failing_pg_config_is_reported_at_bin_dir(
    minimal: dict[str, Any], tmp_path: Path
) -> None:
    _fake_pg_config(tmp_path, "exit 3")
    del minimal["postgresql"]["bin_dir"]
    with pytest.raises(ConfigError) as caught:
        parse_config(minimal, env={"PATH": str(tmp_path)})
    [problem] = caught.value.problems
    assert problem.startswith("postgresql.bin_dir: not set, and ")
    assert "--bindir` failed" in problem


def test_yaml_merge_keys_may_override_merged_values(write_file: Callable[[str], Path]) -> None:
    path = write_file(
        "scope: demo\nname: n1\netcd3: {host: 'h:2379'}\n"
        "postgresql:\n  data_dir: /d\n  bin_dir: /b\n  authentication:\n"
        "    superuser: &su {username: postgres}\n"
        "    replication: {<<: *su, username: replicator}\n"
    )
    config = load_config(path, env={})
    assert config.postgresql.authentication.replication.username == "replicator"
