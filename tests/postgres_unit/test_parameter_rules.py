"""The rules the cluster's parameters pass on their way into postgresql.conf, as tables."""

from __future__ import annotations

import pytest

from actors.postgres.dynamic import CatalogueCache
from actors.postgres.parameters import changes, standby_minimums, vet
from messages.pg_parameters import ParameterSpec, catalogue_of

CATALOGUE = catalogue_of(
    [
        ParameterSpec(name="max_connections", vartype="integer", min_value=1, max_value=262143),
        ParameterSpec(
            name="work_mem", vartype="integer", min_value=64, max_value=2147483647, unit="kB"
        ),
    ]
)
CONTROL = {  # pg_controldata of a standby whose primary runs with these
    "max_connections setting": "150",
    "max_worker_processes setting": "8",
    "max_wal_senders setting": "10",
    "max_prepared_xacts setting": "0",
    "max_locks_per_xact setting": "128",
}


@pytest.mark.parametrize(
    ("wanted", "before", "written"),
    [
        pytest.param({"work_mem": "8MB"}, {}, {"work_mem": "8MB"}, id="a good value"),
        pytest.param({"work_mem": "abc"}, {"work_mem": "6MB"}, {"work_mem": "6MB"}, id="kept"),
        pytest.param({"work_mem": "abc"}, {}, {}, id="nothing to keep: not set"),
        pytest.param(
            {"max_connections": "0", "work_mem": "8MB"},
            {"max_connections": "100"},
            {"max_connections": "100", "work_mem": "8MB"},
            id="the others are applied",
        ),
        pytest.param({"nosuch": "1"}, {}, {}, id="an unknown name"),
        pytest.param({"ext.x": "any"}, {}, {"ext.x": "any"}, id="an extension's"),
    ],
)
def test_vet(wanted: dict[str, str], before: dict[str, str], written: dict[str, str]) -> None:
    assert vet(wanted, before, CATALOGUE) == written


def test_without_a_catalogue_everything_is_written_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert vet({"work_mem": "abc"}, {}, {}) == {"work_mem": "abc"}
    assert "written unchecked" in caplog.text


@pytest.mark.parametrize(
    ("configured", "raised"),
    [
        pytest.param({"max_connections": "200"}, {"max_locks_per_transaction": 128}, id="above"),
        pytest.param(
            {"max_connections": "120", "max_locks_per_transaction": "128"},
            {"max_connections": 150},
            id="below the primary's",
        ),
        pytest.param(
            {"max_connections": "0x96", "max_locks_per_transaction": "256"}, {}, id="C notation"
        ),
        pytest.param({"max_connections": "abc"}, {"max_locks_per_transaction": 128}, id="bad"),
    ],
)
def test_standby_minimums(configured: dict[str, str], raised: dict[str, int]) -> None:
    assert standby_minimums(configured, CONTROL) == raised


def test_no_pg_control_raises_nothing() -> None:
    assert standby_minimums({"max_connections": "1"}, {}) == {}


def test_changes_name_each_difference() -> None:
    before, after = {"a": "1", "b": "2"}, {"b": "3", "c": "4"}
    assert changes(before, after) == "a: 1 -> (unset), b: 2 -> 3, c: (unset) -> 4"


def test_the_catalogue_comes_from_the_server_once_it_runs() -> None:
    running = [False]
    asked: list[str] = []

    def server() -> dict[str, ParameterSpec]:
        asked.append("server")
        return dict(CATALOGUE)

    def binaries() -> dict[str, ParameterSpec]:
        asked.append("binaries")
        return {"work_mem": ParameterSpec(name="work_mem", vartype="integer", unit_known=False)}

    cache = CatalogueCache(running=lambda: running[0], from_server=server, from_binaries=binaries)
    assert set(cache.get()) == {"work_mem"} and cache.source == "describe-config"
    assert set(cache.get()) == {"work_mem"} and asked == ["binaries"]  # read once
    running[0] = True
    assert set(cache.get()) == {"work_mem", "max_connections"} and cache.source == "pg_settings"
    cache.get()
    assert asked == ["binaries", "server"]
