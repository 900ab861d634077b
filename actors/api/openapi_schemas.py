"""JSON schemas of the REST API's bodies, for the OpenAPI document (OpenAPI 3.0 dialect).

Each schema describes exactly what :mod:`actors.api.views` and
:mod:`actors.api.config_json` produce or accept: objects are closed
(``additionalProperties: false``) wherever the server writes or accepts a
fixed set of keys, and flags Patroni writes only when true are ``enum:
[true]``.  The tests validate every body the views render against these,
and schemathesis validates live answers, so a drift fails a test.
"""

from __future__ import annotations

from typing import Any

from actors.api.config_json import MAX_INT, MAX_SECONDS
from messages.cluster import PgState, Role

Schema = dict[str, Any]

_STRING: Schema = {"type": "string"}
_BOOL: Schema = {"type": "boolean"}
_TRUE: Schema = {"type": "boolean", "enum": [True]}
_LSN: Schema = {"type": "integer", "minimum": 0}
_STATES = [state.value for state in PgState]


def _object(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


TAGS = _object(
    {
        "nofailover": _BOOL,
        "noloadbalance": _BOOL,
        "clonefrom": _BOOL,
        "nosync": _BOOL,
        "failover_priority": {"type": "integer"},
    }
)

MEMBER_STATUS = _object(
    {
        "state": {"type": "string", "enum": [*_STATES, "unknown"]},
        "role": {"type": "string", "enum": [role.value for role in Role]},
        "timeline": {"type": "integer", "minimum": 0},
        "xlog": _object({"location": _LSN, "received_location": _LSN, "replayed_location": _LSN}),
        "replication": {
            "type": "array",
            "items": _object(
                {
                    "application_name": _STRING,
                    "state": _STRING,
                    "sync_state": _STRING,
                    "flush_lsn": _LSN,
                    "replay_lsn": _LSN,
                },
                required=("application_name", "state", "sync_state"),
            ),
        },
        "replication_state": _STRING,
        "pending_restart": _TRUE,
        "pause": _TRUE,
        "cluster_unlocked": _TRUE,
        "sync_standby": _TRUE,
        "tags": _ref("Tags"),
        "dcs_last_seen": {"type": "integer"},
        "patroni": _object(
            {"version": _STRING, "scope": _STRING, "name": _STRING}, required=("version", "scope")
        ),
    },
    required=("state", "role", "patroni"),
)

_SWITCH_ENDS = {"from": _STRING, "to": _STRING}

CLUSTER_MEMBER = _object(
    {
        "name": _STRING,
        "role": {
            "type": "string",
            "enum": ["leader", "sync_standby", "quorum_standby", "replica"],
        },
        "state": {"type": "string", "enum": _STATES},
        "api_url": _STRING,
        "host": _STRING,
        "port": {"type": "integer"},
        "timeline": {"type": "integer", "minimum": 0},
        "pending_restart": _TRUE,
        "tags": _ref("Tags"),
        "lag": {"anyOf": [_LSN, {"type": "string", "enum": ["unknown"]}]},
    },
    required=("name", "role", "state", "timeline"),
)

CLUSTER = _object(
    {
        "members": {"type": "array", "items": _ref("ClusterMember")},
        "scope": _STRING,
        "pause": _TRUE,
        "failover": _object(_SWITCH_ENDS),
        "scheduled_switchover": _object(
            {"at": {"type": "string", "format": "date-time"}, **_SWITCH_ENDS}, required=("at",)
        ),
    },
    required=("members", "scope"),
)

HISTORY: Schema = {
    "type": "array",
    "description": "Patroni's lines: [timeline, lsn, reason, timestamp, new_leader].",
    "items": {
        "type": "array",
        "minItems": 3,
        "maxItems": 5,
        "items": {"anyOf": [{"type": "integer"}, _STRING]},
    },
}


def _seconds(minimum: float, *, above: bool = False, nullable: bool = False) -> Schema:
    schema: Schema = {"type": "number", "minimum": minimum, "maximum": MAX_SECONDS}
    if above:
        schema["exclusiveMinimum"] = True
    return {**schema, "nullable": True} if nullable else schema


def _count(minimum: int, *, nullable: bool = False) -> Schema:
    schema: Schema = {"type": "integer", "minimum": minimum, "maximum": MAX_INT}
    return {**schema, "nullable": True} if nullable else schema


def _maybe(schema: Schema, nullable: bool) -> Schema:
    return {**schema, "nullable": True} if nullable else schema


_PARAMETER_VALUE: Schema = {"anyOf": [_STRING, {"type": "number"}, _BOOL]}
_SYNC_SHOWN: Schema = {"anyOf": [_BOOL, {"type": "string", "enum": ["quorum"]}]}


def _config(*, request: bool) -> Schema:
    """The config as GET shows it (every key), or as PATCH/PUT take it (any key, null deletes)."""
    sync_mode: Schema = {"anyOf": [_BOOL, {"type": "string", "enum": ["quorum", "on", "off"]}]}
    properties = {
        "ttl": _seconds(0, above=True, nullable=request),
        "loop_wait": _seconds(1, nullable=request),
        "retry_timeout": _seconds(1, nullable=request),
        "maximum_lag_on_failover": _count(0, nullable=request),
        "primary_start_timeout": _seconds(0, nullable=request),
        "primary_stop_timeout": _seconds(0, nullable=request),
        "synchronous_mode": _maybe(sync_mode, request) if request else _SYNC_SHOWN,
        "synchronous_mode_strict": _maybe(_BOOL, request),
        "synchronous_node_count": _count(1, nullable=request),
        "failsafe_mode": _maybe(_BOOL, request),
        "pause": _maybe(_BOOL, request),
        "check_timeline": _maybe(_BOOL, request),
        "postgresql": _maybe(
            _object(
                {
                    "use_slots": _maybe(_BOOL, request),
                    "parameters": _maybe(
                        {
                            "type": "object",
                            "additionalProperties": _maybe(_PARAMETER_VALUE, request)
                            if request
                            else _STRING,
                        },
                        request,
                    ),
                },
                required=() if request else ("use_slots", "parameters"),
            ),
            request,
        ),
    }
    if request:
        return _object(properties)
    return _object(properties, required=tuple(properties))


_NAME: Schema = {"type": "string", "maxLength": 253, "nullable": True}

SWITCHOVER_BODY = _object({"leader": _NAME, "candidate": _NAME, "scheduled_at": _NAME})
FAILOVER_BODY = _object({"leader": _NAME, "candidate": _NAME})
RESTART_BODY = _object(
    {
        "role": {"type": "string", "enum": ["primary", "replica", "master"], "nullable": True},
        "restart_pending": {"type": "boolean", "nullable": True},
        "timeout": {
            "nullable": True,
            "anyOf": [
                {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 86400},
                {"type": "string", "pattern": r"^\s*[0-9]{1,5}\s*(ms|s|min|h)?\s*$"},
            ],
        },
    }
)
REINITIALIZE_BODY = _object(
    {
        "force": {"type": "boolean", "nullable": True},
        "from_leader": {"type": "boolean", "nullable": True},
    }
)

SCHEMAS: dict[str, Schema] = {
    "Tags": TAGS,
    "MemberStatus": MEMBER_STATUS,
    "ClusterMember": CLUSTER_MEMBER,
    "Cluster": CLUSTER,
    "History": HISTORY,
    "Config": _config(request=False),
    "ConfigEdit": _config(request=True),
    "SwitchoverBody": SWITCHOVER_BODY,
    "FailoverBody": FAILOVER_BODY,
    "RestartBody": RESTART_BODY,
    "ReinitializeBody": REINITIALIZE_BODY,
}
