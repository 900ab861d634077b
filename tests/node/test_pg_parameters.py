"""The PostgreSQL parameter checker, as tables: a spec and a value give a refusal or None.

Specs are written as pg_settings shows them on PostgreSQL 15 (units, enum
values); one test reads the real ``postgres --describe-config`` of the
installed server.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from messages.pg_parameters import (
    ParameterSpec,
    check_parameter,
    check_value,
    parameter_problems_in,
    parse_bool,
    parse_describe_config,
    spec_from_pg_settings,
)
from node.config.pg_server import refusals, run_as

WORK_MEM = ParameterSpec(
    name="work_mem", vartype="integer", min_value=64, max_value=2147483647, unit="kB"
)
SHARED_BUFFERS = ParameterSpec(
    name="shared_buffers",
    vartype="integer",
    context="postmaster",
    min_value=16,
    max_value=1073741823,
    unit="8kB",
)
TIMEOUT = ParameterSpec(
    name="statement_timeout", vartype="integer", min_value=0, max_value=2147483647, unit="ms"
)
NAPTIME = ParameterSpec(
    name="autovacuum_naptime", vartype="integer", min_value=1, max_value=2147483, unit="s"
)
CONNECTIONS = ParameterSpec(
    name="max_connections", vartype="integer", min_value=1, max_value=262143
)
COST = ParameterSpec(name="random_page_cost", vartype="real", min_value=0, max_value=1.79769e308)
TARGET = ParameterSpec(
    name="checkpoint_completion_target", vartype="real", min_value=0, max_value=1
)
FSYNC = ParameterSpec(name="fsync", vartype="bool", context="sighup")
WAL_LEVEL = ParameterSpec(
    name="wal_level",
    vartype="enum",
    context="postmaster",
    enum_values=("minimal", "replica", "logical"),
)
SYNC_COMMIT = ParameterSpec(
    name="synchronous_commit",
    vartype="enum",
    enum_values=("local", "remote_write", "remote_apply", "on", "off"),
)
MIN_MESSAGES = ParameterSpec(
    name="log_min_messages", vartype="enum", enum_values=("debug5", "debug2", "info", "warning")
)
SEARCH_PATH = ParameterSpec(name="search_path", vartype="string")
BLOCK_SIZE = ParameterSpec(name="block_size", vartype="integer", context="internal")
DESCRIBED_WORK_MEM = ParameterSpec(
    name="work_mem", vartype="integer", min_value=64, max_value=2147483647, unit_known=False
)
DESCRIBED_WAL_LEVEL = ParameterSpec(name="wal_level", vartype="enum", unit_known=False)

OK = [
    (WORK_MEM, "4MB"), (WORK_MEM, "64"), (WORK_MEM, "1GB"), (WORK_MEM, "65536 B"),
    (WORK_MEM, "1.5MB"), (WORK_MEM, "0x100"), (WORK_MEM, "0100"), (WORK_MEM, " 8MB "),
    (WORK_MEM, "1e3"), (WORK_MEM, "2047GB"),
    (SHARED_BUFFERS, "128MB"), (SHARED_BUFFERS, "16"), (SHARED_BUFFERS, "127kB"),
    (TIMEOUT, "0"), (TIMEOUT, "10s"), (TIMEOUT, "5min"), (TIMEOUT, "1h"), (TIMEOUT, "1d"),
    (TIMEOUT, "1500us"), (NAPTIME, "1min"), (NAPTIME, "1500ms"),
    (CONNECTIONS, "100"), (CONNECTIONS, "+7"),
    (COST, "1.1"), (COST, "4"), (COST, ".5"), (COST, "1e-3"), (TARGET, "0.9"), (TARGET, "1"),
    (FSYNC, "on"), (FSYNC, "OFF"), (FSYNC, "t"), (FSYNC, "fa"), (FSYNC, "yes"), (FSYNC, "n"),
    (FSYNC, "1"), (FSYNC, "0"), (FSYNC, "of"),
    (WAL_LEVEL, "replica"), (WAL_LEVEL, "LOGICAL"), (WAL_LEVEL, "hot_standby"),
    (WAL_LEVEL, "archive"), (SYNC_COMMIT, "remote_apply"), (SYNC_COMMIT, "true"),
    (SYNC_COMMIT, "1"), (MIN_MESSAGES, "debug"),
    (SEARCH_PATH, '"$user", public'), (SEARCH_PATH, ""),
    # --describe-config says no unit and no enum values: never refused for lack of them
    (DESCRIBED_WORK_MEM, "8MB"), (DESCRIBED_WORK_MEM, "8XB"), (DESCRIBED_WAL_LEVEL, "bogus"),
]  # fmt: skip

REFUSED = [
    (WORK_MEM, "63", "outside the valid range: expected an integer from 64 to 2147483647"),
    (WORK_MEM, "2TB", "(in units of kB)"),
    (WORK_MEM, "1kB", "outside the valid range"),
    (WORK_MEM, "2TB1", "valid units are B, kB, MB, GB, TB"),
    (WORK_MEM, "8mb", "valid units are B, kB, MB, GB, TB"),
    (WORK_MEM, "8 M B", "valid units are"),
    (WORK_MEM, "08", "valid units are"),  # a leading 0 is octal, and 8 is no octal digit
    (WORK_MEM, "abc", "'abc' is not a number"),
    (WORK_MEM, "", "is not a number"),
    (WORK_MEM, "nan", "is not a number"),
    (WORK_MEM, "1e999", "is not a number"),
    (WORK_MEM, "3000GB", "outside the integer range"),
    (WORK_MEM, "99999999999", "outside the integer range"),
    (SHARED_BUFFERS, "120kB", "outside the valid range"),  # 14.6 pages, rounded to 15
    (TIMEOUT, "10x", "valid units are us, ms, s, min, h, d"),
    (TIMEOUT, "-1", "outside the valid range"),
    (NAPTIME, "499ms", "outside the valid range"),  # rounds to 0 s
    (CONNECTIONS, "0", "expected an integer from 1 to 262143"),
    (CONNECTIONS, "10MB", "this parameter takes no unit"),
    (CONNECTIONS, "abc", "not a number"),
    (COST, "-1", "outside the valid range: expected a number from 0 to 1.79769e+308"),
    (COST, "inf", "outside the valid range"),
    (TARGET, "1.1", "expected a number from 0 to 1"),
    (FSYNC, "maybe", "'maybe' is not a boolean"),
    (FSYNC, "o", "is not a boolean"),
    (FSYNC, "on ", "is not a boolean"),
    (FSYNC, "2", "is not a boolean"),
    (WAL_LEVEL, "bogus", "'bogus' is not one of minimal, replica, logical"),
    (WAL_LEVEL, "true", "is not one of"),  # not an on/off enum: no boolean spellings
    (BLOCK_SIZE, "8192", "cannot be set"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "value"), OK)
def test_values_the_server_takes_are_not_refused(spec: ParameterSpec, value: str) -> None:
    assert check_value(spec, value) is None


@pytest.mark.parametrize(("spec", "value", "why"), REFUSED)
def test_values_the_server_refuses_are_refused_saying_why(
    spec: ParameterSpec, value: str, why: str
) -> None:
    refusal = check_value(spec, value)
    assert refusal is not None and why in refusal, refusal


@pytest.mark.parametrize(
    ("text", "meaning"),
    [("on", True), ("of", False), ("TRUE", True), ("y", True), ("1", True), ("o", None),
     ("", None), ("yess", None), ("01", None)],
)  # fmt: skip
def test_booleans_are_unique_prefixes_as_in_guc(text: str, meaning: bool | None) -> None:
    assert parse_bool(text) is meaning


def test_names_are_case_insensitive_and_an_extensions_setting_is_never_refused() -> None:
    catalogue = {"work_mem": WORK_MEM}
    assert check_parameter(catalogue, "Work_Mem", "4MB") is None
    assert check_parameter(catalogue, "pg_stat_statements.max", "anything") is None
    assert check_parameter(catalogue, "work_mme", "4MB") == (
        "unknown parameter: PostgreSQL has no setting of that name"
    )


def test_a_pg_settings_row_becomes_a_spec() -> None:
    row = {
        "name": "wal_level",
        "vartype": "enum",
        "context": "postmaster",
        "unit": None,
        "min_val": None,
        "max_val": None,
        "enumvals": ["minimal", "replica", "logical"],
    }
    assert spec_from_pg_settings(row) == ParameterSpec(
        name="wal_level",
        vartype="enum",
        context="postmaster",
        enum_values=("minimal", "replica", "logical"),
    )
    memory = {"name": "work_mem", "vartype": "integer", "unit": "kB", "min_val": "64",
              "max_val": "2147483647", "context": "user", "enumvals": None}  # fmt: skip
    assert spec_from_pg_settings(memory) == WORK_MEM


def test_the_server_decides_and_its_words_are_kept_with_the_catalogues_range() -> None:
    catalogue = {"work_mem": DESCRIBED_WORK_MEM}
    values = {"work_mem": "abc", "fsync": "on", "foo": "1"}
    server = {
        "work_mem": 'invalid value for parameter "work_mem": "abc"',
        "foo": 'unrecognized configuration parameter "foo"',
    }
    assert parameter_problems_in("postgresql.parameters", values, catalogue, server) == [
        "postgresql.parameters.work_mem: PostgreSQL refuses 'abc': invalid value for parameter"
        ' "work_mem": "abc"; expected an integer from 64 to 2147483647'
        " (in the parameter's base unit, if it has one)",
        "postgresql.parameters.foo: PostgreSQL refuses '1': unrecognized configuration"
        ' parameter "foo"',
    ]
    # a value the catalogue doubts but the server takes is no problem
    assert parameter_problems_in("p", {"work_mem": "1"}, {"work_mem": WORK_MEM}, {}) == []
    # without the server's verdicts, the catalogue decides what it is sure of
    assert parameter_problems_in(
        "p", {"work_mem": "1", "x": "1"}, {"work_mem": WORK_MEM}, None
    ) == [
        "p.work_mem: '1' is outside the valid range: expected an integer from 64 to 2147483647"
        " (in units of kB)",
        "p.x: unknown parameter: PostgreSQL has no setting of that name",
    ]


def _bin_dir() -> Path:
    done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
    return Path(done.stdout.strip())


def test_the_real_describe_config_output_parses_to_a_catalogue() -> None:
    postgres = _bin_dir() / "postgres"
    done = subprocess.run(
        [str(postgres), "--describe-config"], capture_output=True, text=True, check=True
    )
    catalogue = parse_describe_config(done.stdout)
    assert len(catalogue) > 250
    assert catalogue["max_connections"] == ParameterSpec(
        name="max_connections",
        vartype="integer",
        context="postmaster",
        min_value=1,
        max_value=262143,
        unit_known=False,
    )
    assert catalogue["fsync"].vartype == "bool"
    assert catalogue["wal_level"].vartype == "enum"
    assert catalogue["random_page_cost"].vartype == "real"
    assert catalogue["search_path"].vartype == "string"
    assert catalogue["timezone"].name == "TimeZone"
    assert check_parameter(catalogue, "max_connections", "0") is not None
    assert check_parameter(catalogue, "max_connections", "100") is None
    assert check_parameter(catalogue, "fsync", "maybe") is not None


REAL = [row for row in [*OK, *REFUSED] if row[0].unit_known]


@pytest.mark.parametrize("row", REAL, ids=[f"{r[0].name}={r[1]!r}" for r in REAL])
def test_every_row_agrees_with_the_real_server(row: tuple[ParameterSpec, str]) -> None:
    spec, value = row[0], row[1]
    verdicts = refusals(str(_bin_dir()), run_as(None), {spec.name: value})
    assert (spec.name in verdicts) == (row in REFUSED), verdicts
