"""GET, PATCH and PUT /config: Patroni's JSON shape, merge patches, validation, CAS outcomes."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from api_harness import Api, StartApi
from cluster_states import PRIMARY, REPLICA
from hypothesis import given
from hypothesis import strategies as st

from actors.api.config_json import (
    ConfigInvalid,
    config_from_json,
    config_to_json,
    merge_patch,
    with_aliases_renamed,
)
from messages.admin import AdminReply
from messages.config import DynamicConfig, RestApiSettings, SyncMode
from messages.dcs import ConfigOutcome, SetConfig
from node.config import ConfigError, dynamic_config_from_dict, dynamic_config_to_dict

CURRENT = PRIMARY.cluster.config
assert CURRENT is not None

# -- the converter (pure) ----------------------------------------------------------------


def test_the_json_shape_is_patronis_and_the_same_as_the_nodes() -> None:
    config = DynamicConfig(
        ttl_s=30.5,
        synchronous_mode=SyncMode.QUORUM,
        postgresql_parameters={"work_mem": "4MB"},
    )
    shown = config_to_json(config)
    assert shown == dynamic_config_to_dict(config)
    assert shown["ttl"] == 30.5 and shown["loop_wait"] == 10  # whole seconds without .0
    assert shown["synchronous_mode"] == "quorum"
    assert config_from_json(shown) == config


def test_a_merge_patch_merges_objects_and_null_deletes() -> None:
    target = {"ttl": 30, "postgresql": {"use_slots": True, "parameters": {"a": "1", "b": "2"}}}
    patch = {"ttl": None, "postgresql": {"parameters": {"a": None, "c": "3"}}, "pause": True}
    assert merge_patch(target, patch) == {
        "pause": True,
        "postgresql": {"use_slots": True, "parameters": {"b": "2", "c": "3"}},
    }


def test_a_patch_nested_absurdly_deep_is_refused() -> None:
    deep: dict[str, Any] = {}
    for _ in range(50):
        deep = {"x": deep}
    with pytest.raises(ConfigInvalid):
        merge_patch({}, deep)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"ttl": 0}, "ttl: must be greater than 0"),
        ({"ttl": "30"}, "ttl: must be a number"),
        ({"loop_wait": True}, "loop_wait: must be a number"),
        ({"retry_timeout": 0.5}, "retry_timeout: must be at least 1"),
        ({"maximum_lag_on_failover": 1.5}, "maximum_lag_on_failover: must be an integer"),
        ({"maximum_lag_on_failover": 2**64}, "must be between 0 and"),
        ({"synchronous_node_count": 0}, "synchronous_node_count: must be between 1"),
        ({"synchronous_mode": "sometimes"}, "synchronous_mode: must be false, true or quorum"),
        ({"pause": "yes"}, "pause: must be true or false"),
        ({"ttl": 10, "loop_wait": 5, "retry_timeout": 5}, "must not exceed ttl"),
        ({"standby_cluster": {}}, "standby_cluster: is a Patroni setting pgactor does not"),
        ({"tll": 30}, "tll: unknown key"),
        ({"postgresql": {"pg_hba": []}}, "postgresql.pg_hba: is set per node"),
        ({"postgresql": []}, "postgresql: must be an object"),
        ({"postgresql": {"parameters": {"bad name": "1"}}}, "is not a setting name"),
        ({"postgresql": {"parameters": {"a\nb": "1"}}}, "is not a setting name"),
        ({"postgresql": {"parameters": {"x": "a\nb"}}}, "no control characters"),
        ({"postgresql": {"parameters": {"x": [1]}}}, "must be a string, a number or a boolean"),
        ({"master_start_timeout": 1, "primary_start_timeout": 2}, "give primary_start_timeout"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigInvalid) as raised:
        config_from_json(with_aliases_renamed(data))
    assert problem in str(raised.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigInvalid) as raised:
        config_from_json({"ttl": -1, "pause": 1, "nope": 2})
    assert len(raised.value.problems) == 3


def test_patronis_old_names_and_loose_spellings_are_read() -> None:
    config = config_from_json(
        with_aliases_renamed({"master_start_timeout": 60, "synchronous_mode": "ON"})
    )
    assert (config.primary_start_timeout_s, config.synchronous_mode) == (60.0, SyncMode.ON)
    params = config_from_json({"postgresql": {"parameters": {"fsync": False, "max_wal": 8}}})
    assert params.postgresql_parameters == {"fsync": "off", "max_wal": "8"}


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.floats(-5, 100, allow_nan=False),
    st.sampled_from(["on", "off", "quorum", "x", "30"]),
)
CONFIGS = st.fixed_dictionaries(
    {},
    optional={
        key: SCALARS
        for key in (
            "ttl",
            "loop_wait",
            "retry_timeout",
            "maximum_lag_on_failover",
            "primary_start_timeout",
            "synchronous_mode",
            "synchronous_node_count",
            "pause",
            "failsafe_mode",
        )
    },
)


@given(CONFIGS)
def test_the_api_and_the_node_agree_on_what_is_a_valid_config(data: dict[str, Any]) -> None:
    data = {k: v for k, v in data.items() if v is not None}  # the node reads null as unset too
    try:
        node = dynamic_config_from_dict(data)
    except ConfigError:
        node = None
    try:
        api = config_from_json(data)
    except ConfigInvalid:
        api = None
    assert api == node


# -- over HTTP, with the fake HA actor (it answers as the leader-lock actor would) -------------


@pytest.fixture
def api(start_api: StartApi) -> Api:
    api = start_api(config_timeout_s=1.0)
    api.push(PRIMARY)
    return api


def test_get_shows_the_cluster_config(api: Api) -> None:
    reply = api.get("/config")
    assert (reply.code, reply.json()) == (200, config_to_json(CURRENT))


def test_get_before_any_status_or_config_is_unavailable(start_api: StartApi) -> None:
    api = start_api()
    assert api.get("/config").code == 503
    api.push(
        dataclasses.replace(REPLICA, cluster=dataclasses.replace(REPLICA.cluster, config=None))
    )
    assert (api.get("/config").code, api.get("/config").text) == (
        503,
        "no cluster config in the DCS yet\n",
    )


def test_a_patch_is_merged_validated_and_stored_compare_and_set(api: Api) -> None:
    reply = api.request("PATCH", "/config", {"pause": True, "ttl": 40})
    assert reply.code == 200
    assert reply.json()["pause"] is True and reply.json()["ttl"] == 40
    (sent,) = api.ha_received()
    assert isinstance(sent, SetConfig)
    assert sent.config == dataclasses.replace(CURRENT, pause=True, ttl_s=40.0)
    assert sent.expected == CURRENT  # the edit is applied only over the config it was made on
    assert sent.reply_to == "api" and sent.request_id


def test_a_patch_that_changes_nothing_writes_nothing(api: Api) -> None:
    reply = api.request("PATCH", "/config", {"synchronous_mode": True})
    assert (reply.code, reply.json()) == (200, config_to_json(CURRENT))
    assert api.ha_received() == []


def test_null_in_a_patch_restores_the_default(api: Api) -> None:
    api.request("PATCH", "/config", {"synchronous_mode": None})
    (sent,) = api.ha_received()
    assert isinstance(sent, SetConfig)
    assert sent.config.synchronous_mode is SyncMode.OFF


def test_put_replaces_the_whole_config(api: Api) -> None:
    reply = api.request("PUT", "/config", {"ttl": 20, "loop_wait": 5, "retry_timeout": 5})
    assert reply.code == 200
    (sent,) = api.ha_received()
    assert isinstance(sent, SetConfig)
    assert sent.config == DynamicConfig(ttl_s=20, loop_wait_s=5, retry_timeout_s=5)
    assert sent.expected is None


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"ttl": NaN}', "not a JSON value"),
        ('{"ttl": 30, "x": "\\ud800"}', "not valid Unicode"),
        ({"ttl": "thirty"}, "ttl: must be a number"),
        ({"loop_wait": 30}, "must not exceed ttl"),
    ],
)
def test_a_bad_edit_is_a_400_and_never_reaches_ha(
    api: Api, method: str, body: object, reason: str
) -> None:
    reply = api.request(method, "/config", body)  # type: ignore[arg-type]
    assert reply.code == 400
    assert reason in reply.text
    assert api.ha_received() == []


@pytest.mark.parametrize(
    ("outcome", "code"),
    [(ConfigOutcome.CONFLICT, 409), (ConfigOutcome.FAILED, 503), (None, 503)],
)
def test_a_lost_compare_and_set_is_409_and_no_answer_503(
    start_api: StartApi, outcome: ConfigOutcome | None, code: int
) -> None:
    api = start_api(config_outcome=outcome, config_timeout_s=0.5)
    api.push(PRIMARY)
    assert api.request("PATCH", "/config", {"pause": True}).code == code


def test_ha_refusing_a_config_edit_is_unavailable(start_api: StartApi) -> None:
    api = start_api(ha_reply=AdminReply(ok=False, detail="the DCS is not reachable"))
    api.push(PRIMARY)
    reply = api.request("PUT", "/config", {"pause": True})
    assert (reply.code, reply.text) == (503, "the DCS is not reachable\n")


def test_config_edits_need_credentials(start_api: StartApi) -> None:
    api = start_api(RestApiSettings(listen_port=0, username="admin", password="pw"))
    api.push(PRIMARY)
    for method in ("PATCH", "PUT"):
        assert api.request(method, "/config", {"pause": True}).code == 401
    assert api.ha_received() == []
    assert api.get("/config").code == 200
    ok = api.request("PATCH", "/config", {"pause": True}, auth=("admin", "pw"))
    assert (ok.code, json.loads(ok.body)["pause"]) == (200, True)
