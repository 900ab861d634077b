"""Invalid configs: every problem reported at once, by key path, without secrets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from node.config import ConfigError, load_config, parse_config

Edit = Callable[[dict[str, Any]], None]


def _problems(data: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env=env or {})
    return caught.value.problems


def _set(path: str, value: object) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data.setdefault(key, {})
        data[last] = value

    return edit


def _delete(path: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[key]
        del data[last]

    return edit


def _all(*edits: Edit) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        for each in edits:
            each(data)

    return edit


CASES: list[tuple[Edit, str]] = [
    (_delete("scope"), "scope: required"),
    (_set("name", "a/b"), "name: must not contain '/' or whitespace"),
    (_set("namespace", "/"), "namespace: expected a key prefix such as /service"),
    (
        _set("postgresql.data_dri", "/x"),
        "postgresql.data_dri: unknown key (did you mean data_dir?)",
    ),
    (
        _set("bootstrap.dcs.lop_wait", 3),
        "bootstrap.dcs.lop_wait: unknown key (did you mean loop_wait?)",
    ),
    (
        _set("bootstrap.dcs.retry_timeout", 15),
        "bootstrap.dcs: loop_wait + 2 * retry_timeout must not exceed ttl"
        " (loop_wait=10 + 2 * retry_timeout=15 = 40 > ttl=30)",
    ),
    (_set("bootstrap.dcs.ttl", 0), "bootstrap.dcs.ttl: must be > 0 (got 0)"),
    (_set("bootstrap.dcs.loop_wait", 0.5), "bootstrap.dcs.loop_wait: must be >= 1 (got 0.5)"),
    (_set("bootstrap.dcs.retry_timeout", 0), "bootstrap.dcs.retry_timeout: must be >= 1 (got 0)"),
    (_set("bootstrap.dcs.ttl", "30"), "bootstrap.dcs.ttl: expected a number"),
    (_set("bootstrap.dcs.ttl", float("inf")), "bootstrap.dcs.ttl: expected a finite number"),
    (
        _set("bootstrap.dcs.synchronous_node_count", 0),
        "bootstrap.dcs.synchronous_node_count: must be >= 1 (got 0)",
    ),
    (
        _set("bootstrap.dcs.synchronous_mode", "always"),
        "bootstrap.dcs.synchronous_mode: expected false, true or quorum",
    ),
    (
        _set("bootstrap.dcs.master_start_timeout", -1),
        "bootstrap.dcs.master_start_timeout: must be >= 0 (got -1)",
    ),
    (
        _set("bootstrap.dcs.primary_start_timeout", 1),
        "bootstrap.dcs.master_start_timeout: repeats primary_start_timeout under another name;"
        " keep one of them",
    ),
    (
        _set("bootstrap.dcs.postgresql.use_pg_rewind", True),
        "bootstrap.dcs.postgresql.use_pg_rewind: is set per node in pgactor:"
        " move it to the postgresql section of each node's file",
    ),
    (
        _set("bootstrap.users", {"admin": {"password": "x"}}),
        "bootstrap.users: is not supported (Patroni 4 dropped it too); create users in post_init",
    ),
    (
        _set("bootstrap.initdb", [["nested"]]),
        "bootstrap.initdb: item 0: expected a string or a mapping of option to value",
    ),
    (_set("restapi.listen", "8008"), "restapi.listen: expected host:port, got '8008'"),
    (_set("restapi.listen", 8008), "restapi.listen: expected a host:port string"),
    (
        _set("restapi.listen", "h:0"),
        "restapi.listen: port must be a number from 1 to 65535, got '0'",
    ),
    (
        _set("postgresql.listen", "h:65536"),
        "postgresql.listen: port must be a number from 1 to 65535, got '65536'",
    ),
    (
        _set("postgresql.connect_address", "http://h:5432"),
        "postgresql.connect_address: expected host:port without a scheme or user,"
        " got 'http://h:5432'",
    ),
    (
        _set("restapi.verify_client", "always"),
        "restapi.verify_client: expected 'none', 'optional' or 'required'",
    ),
    (
        _set("etcd3.hosts", []),
        "etcd3.hosts: must not be empty",
    ),
    (
        _set("etcd3.host", "h:2379"),
        "etcd3: set hosts (a list or h1:port,h2:port) or host, exactly one",
    ),
    (_set("etcd3.protocol", "ftp"), "etcd3.protocol: expected 'http' or 'https'"),
    (
        _set("etcd3.srv", "example.org"),
        "etcd3.srv: is a Patroni setting pgactor does not support; remove it",
    ),
    (
        _set("kubernetes", {}),
        "etcd3/kubernetes: configure exactly one DCS section, found 2",
    ),
    (
        _delete("etcd3"),
        "etcd3/kubernetes: no DCS section; configure exactly one (etcd3 or kubernetes)",
    ),
    (
        _set("etcd", {"host": "h:2379"}),
        "etcd: repeats etcd3 under another name; keep one of them",
    ),
    (
        _set("consul", {"host": "h:8500"}),
        "consul: is not a DCS pgactor supports; use etcd3 (or etcd) or kubernetes",
    ),
    (
        _set("postgresql.authentication.superuser.password", 12345),
        "postgresql.authentication.superuser.password: expected a string (quote the value)",
    ),
    (
        _delete("postgresql.authentication.replication.username"),
        "postgresql.authentication.replication.username: required",
    ),
    (_delete("postgresql.authentication"), "postgresql.authentication: required"),
    (
        _set("postgresql.parameters.shared_preload_libraries", ["a"]),
        "postgresql.parameters.shared_preload_libraries: expected a string, number or boolean",
    ),
    (_set("postgresql.pg_hba", "host all all 0/0 md5"), "postgresql.pg_hba: expected a list"),
    (
        _set("postgresql.create_replica_methods", ["wal_g", "restore"]),
        "postgresql: create_replica_methods names restore, which need a section"
        " of that name with a command under postgresql",
    ),
    (
        _all(_set("postgresql.create_replica_methods", []), _delete("postgresql.wal_g")),
        "postgresql.create_replica_methods: must not be empty",
    ),
    (
        _set("postgresql.create_replica_methods", ["basebackup"]),
        "postgresql.wal_g: unknown key"
        " (a replica method's section needs its name in create_replica_methods)",
    ),
    (_delete("postgresql.wal_g.command"), "postgresql.wal_g.command: required"),
    (
        _set("postgresql.wal_g.threads", [4]),
        "postgresql.wal_g: option threads: expected a string, number or boolean",
    ),
    (
        _set("postgresql.basebackup", ["max-rate=1M", {"max-rate": "2M"}]),
        "postgresql.basebackup: option given more than once: max-rate",
    ),
    (
        _set("postgresql.pgpass", "/tmp/pgpass"),
        "postgresql.pgpass: is a Patroni setting pgactor does not support; remove it",
    ),
    (_set("postgresql.pg_ctl_timeout", 0), "postgresql.pg_ctl_timeout: must be > 0 (got 0)"),
    (
        _set("postgresql.callbacks.on_stat", "x"),
        "postgresql.callbacks.on_stat: unknown key (did you mean on_start?)",
    ),
    (_set("tags.nofailover", "yes"), "tags.nofailover: expected true or false"),
    (_set("tags.failover_priority", -1), "tags.failover_priority: must be >= 0 (got -1)"),
    (_set("tags.failover_priority", 1.5), "tags.failover_priority: expected an integer"),
    (_set("log.level", "loud"), "log.level: expected DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    (
        _set("log.format", "%(message)s"),
        "log.format: is not supported: pgactor logs to stderr; pick text or json with --log-format",
    ),
    (_set("watchdog.mode", "sometimes"), "watchdog.mode: expected off, automatic or required"),
    (
        _set("watchdog.device", "/dev/watchdog"),
        "watchdog.device: is not used: pgactor fences with a process of its own, not a device",
    ),
    (_set("watchdog.safety_margin", -1), "watchdog.safety_margin: must be >= 0 (got -1)"),
]


@pytest.mark.parametrize(("edit", "problem"), CASES, ids=[case[1] for case in CASES])
def test_each_invalid_setting_is_reported_at_its_key_path(
    patroni_style: dict[str, Any], edit: Edit, problem: str
) -> None:
    edit(patroni_style)
    assert _problems(patroni_style) == [problem]


def test_all_problems_are_reported_together(patroni_style: dict[str, Any]) -> None:
    patroni_style["postgresql"]["data_dri"] = "/x"
    patroni_style["bootstrap"]["dcs"].update(loop_wait=10, retry_timeout=15, ttl=30)
    patroni_style["tags"]["nosync"] = "no"
    del patroni_style["etcd3"]
    assert _problems(patroni_style, {"PGACTOR_SCOPEE": "x"}) == [
        "PGACTOR_SCOPEE: unknown environment variable (did you mean PGACTOR_SCOPE?)",
        "etcd3/kubernetes: no DCS section; configure exactly one (etcd3 or kubernetes)",
        "bootstrap.dcs: loop_wait + 2 * retry_timeout must not exceed ttl"
        " (loop_wait=10 + 2 * retry_timeout=15 = 40 > ttl=30)",
        "postgresql.data_dri: unknown key (did you mean data_dir?)",
        "tags.nosync: expected true or false",
    ]


def test_config_error_prints_one_problem_per_line() -> None:
    assert str(ConfigError(["a: required", "b: unknown key"])) == "a: required\nb: unknown key"


@pytest.mark.parametrize(
    "edit",
    [
        _set("restapi.listen", "admin:api-s3cret@h:8008"),
        _set("postgresql.connect_address", "super-s3cret"),
        _set("etcd3.hosts", "repl-s3cret"),
        _set("postgresql.authentication.superuser", {"username": "super-s3cret", "password": 1}),
        _set("postgresql.authentication.rewind.pasword", "rewind-s3cret"),
    ],
)
def test_passwords_never_appear_in_problems(patroni_style: dict[str, Any], edit: Edit) -> None:
    edit(patroni_style)
    text = "\n".join(_problems(patroni_style))
    for secret in ("api-s3cret", "super-s3cret", "repl-s3cret", "rewind-s3cret"):
        assert secret not in text


def test_passwords_set_by_variables_never_appear_in_problems(
    patroni_style: dict[str, Any],
) -> None:
    env = {"PGACTOR_SUPERUSER_PASSWORD": "env-s3cret", "PGACTOR_POSTGRESQL_LISTEN": "env-s3cret"}
    assert "env-s3cret" not in "\n".join(_problems(patroni_style, env))


def test_a_short_password_does_not_blank_out_words_containing_it(
    patroni_style: dict[str, Any],
) -> None:
    patroni_style["postgresql"]["authentication"]["superuser"]["password"] = "e"
    patroni_style["tags"]["nosync"] = "no"
    assert _problems(patroni_style) == ["tags.nosync: expected true or false"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("scope: [unclosed\n", "line 2, column 1: "),
        ("scope: a\nscope: b\n", "line 2, column 1: duplicate key 'scope'"),
        ("- a\n- b\n", "expected a mapping of sections (scope, postgresql, ...)"),
        ("", "expected a mapping of sections (scope, postgresql, ...)"),
        ("password: x\n\tbad: 1\n", "line 2, column 1: "),
    ],
)
def test_an_unreadable_file_is_one_problem_naming_the_file(
    write_file: Callable[[str], Path], text: str, problem: str
) -> None:
    path = write_file(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    [reported] = caught.value.problems
    assert reported.startswith(f"{path}: {problem}")


def test_yaml_problems_do_not_quote_the_file(write_file: Callable[[str], Path]) -> None:
    path = write_file("password: hunter2-s3cret: oops\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert "hunter2" not in str(caught.value)


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml", env={})
    assert caught.value.problems == [
        f"{tmp_path / 'absent.yaml'}: cannot read (No such file or directory)"
    ]
