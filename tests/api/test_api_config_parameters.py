"""PATCH and PUT /config judge postgresql.parameters by this node's PostgreSQL catalogue.

A small fake postmaster actor answers DescribeParameters with specs as
PostgreSQL 15's pg_settings shows them; the HTTP side, the API actor and the
fake HA actor (which stores what it is sent) are the ordinary harness.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

import pytest
from api_harness import Api, StartApi
from cluster_states import PRIMARY

from actors.runtime import names
from actors.runtime.actor import BaseActor, handles
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from messages.config import DynamicConfig
from messages.dcs import SetConfig
from messages.pg_parameters import ParameterSpec
from messages.postgres import DescribeParameters, ParameterCatalogue

PG15 = ParameterCatalogue(
    source="pg_settings",
    parameters=(
        ParameterSpec(
            name="max_connections",
            vartype="integer",
            context="postmaster",
            min_value=1,
            max_value=262143,
        ),
        ParameterSpec(
            name="work_mem", vartype="integer", min_value=64, max_value=2147483647, unit="kB"
        ),
        ParameterSpec(
            name="wal_level",
            vartype="enum",
            context="postmaster",
            enum_values=("minimal", "replica", "logical"),
        ),
    ),
)
STORED = dataclasses.replace(
    PRIMARY,
    cluster=dataclasses.replace(
        PRIMARY.cluster, config=DynamicConfig(postgresql_parameters={"work_mem": "lots"})
    ),
)
"""A stored config holding a value this server refuses (written before any check)."""


class FakePostmaster(BaseActor):
    """Answers DescribeParameters with `catalogue` and counts the questions."""

    def __init__(self, *, catalogue: ParameterCatalogue, **base: Any) -> None:
        super().__init__(**base)
        self.catalogue = catalogue
        self.lock = threading.Lock()
        self.asked = 0

    @handles(DescribeParameters)
    def handle_describe(self, msg: DescribeParameters) -> ParameterCatalogue:
        with self.lock:
            self.asked += 1
        return self.catalogue


def _postmaster(registry: Registry, catalogue: ParameterCatalogue = PG15) -> Any:
    runtime = Runtime(registry=registry)
    ref = FakePostmaster.start(name=names.POSTMASTER, runtime=runtime, catalogue=catalogue)
    registry.register(names.POSTMASTER, ref)
    return ref


@pytest.fixture
def api(start_api: StartApi, registry: Registry) -> Api:
    _postmaster(registry)
    api = start_api(config_timeout_s=1.0)
    api.push(STORED)
    return api


def _patch(api: Api, parameters: dict[str, Any]) -> Any:
    return api.request("PATCH", "/config", {"postgresql": {"parameters": parameters}})


def test_a_value_of_the_wrong_type_is_refused_with_the_name_and_the_range(api: Api) -> None:
    reply = _patch(api, {"max_connections": "abc"})
    assert (reply.code, reply.text) == (
        400,
        "invalid config: postgresql.parameters.max_connections: 'abc' is not a number;"
        " expected an integer from 1 to 262143\n",
    )
    assert api.ha_received() == []


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        ({"max_connections": 0}, "max_connections: '0' is outside the valid range: expected an"),
        ({"work_mem": "8 parsecs"}, "work_mem: '8 parsecs': valid units are B, kB, MB, GB, TB"),
        ({"wal_level": "maximal"}, "wal_level: 'maximal' is not one of minimal, replica, logical"),
        ({"wrok_mem": "8MB"}, "wrok_mem: unknown parameter"),
    ],
)
def test_each_kind_of_bad_value_is_refused(
    api: Api, parameters: dict[str, Any], problem: str
) -> None:
    reply = _patch(api, parameters)
    assert reply.code == 400 and f"postgresql.parameters.{problem}" in reply.text


def test_a_good_value_is_stored(api: Api) -> None:
    reply = _patch(api, {"max_connections": 200, "work_mem": "8MB", "pg_stat.max": "x"})
    assert reply.code == 200
    (sent,) = api.ha_received()
    assert isinstance(sent, SetConfig)
    assert sent.config.postgresql_parameters == {
        "work_mem": "8MB",
        "max_connections": "200",
        "pg_stat.max": "x",  # an extension's: the server takes any value for it
    }


def test_a_stored_value_does_not_block_an_unrelated_edit(api: Api) -> None:
    assert api.request("PATCH", "/config", {"ttl": 40}).code == 200
    assert _patch(api, {"max_connections": "150"}).code == 200


def test_put_is_judged_the_same_way(api: Api) -> None:
    body = {"ttl": 30, "postgresql": {"parameters": {"wal_level": "hot_standby", "x.y": "1"}}}
    assert api.request("PUT", "/config", body).code == 200  # a spelling PostgreSQL takes
    body["postgresql"] = {"parameters": {"max_connections": "-1"}}
    reply = api.request("PUT", "/config", body)
    assert reply.code == 400 and "max_connections: '-1' is outside the valid range" in reply.text


def test_an_edit_that_sets_no_parameter_does_not_ask_the_postmaster(
    start_api: StartApi, registry: Registry
) -> None:
    postmaster = _postmaster(registry)
    api = start_api(config_timeout_s=1.0)
    api.push(STORED)
    assert api.request("PATCH", "/config", {"pause": True}).code == 200
    assert postmaster.proxy().asked.get() == 0


def test_without_a_catalogue_values_are_taken_by_their_form_and_the_log_says_so(
    start_api: StartApi, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    _postmaster(registry, ParameterCatalogue())  # a node whose server never ran
    api = start_api(config_timeout_s=1.0)
    api.push(STORED)
    with caplog.at_level(logging.WARNING):
        assert _patch(api, {"max_connections": "abc"}).code == 200
    assert "postgresql.parameters checked by their form only" in caplog.text


def test_without_a_postmaster_actor_values_are_taken_by_their_form(
    start_api: StartApi, caplog: pytest.LogCaptureFixture
) -> None:
    api = start_api(config_timeout_s=1.0)
    api.push(STORED)
    with caplog.at_level(logging.WARNING):
        assert _patch(api, {"max_connections": "abc"}).code == 200
    assert "the postmaster actor is not running" in caplog.text
