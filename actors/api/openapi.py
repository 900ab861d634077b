"""The OpenAPI 3.0 document served at ``/openapi.json``, made from the route table.

The paths and methods come from :data:`actors.api.routes.ROUTES` itself
(passed in, so this module imports no route), HEAD and OPTIONS derived the
way :func:`actors.api.routes.resolve` derives them; what each operation
takes and answers comes from the table below.  A route without an entry
here fails the document's construction, so a new endpoint cannot ship
undocumented.  Status codes listed are the ones the handler can produce;
framing errors every request may get (400 for a bad Content-Length, 413 for
a body over 64 KiB) are listed only where a body is expected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from actors.api import health
from actors.api.auth import ACTION_METHODS
from actors.api.openapi_schemas import SCHEMAS, Schema
from messages.version import VERSION

JSON, TEXT = "application/json", "text/plain"


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    description: str
    media: str | None = TEXT
    schema: Schema | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    summary: str
    answers: Mapping[int, Answer]
    parameters: tuple[Schema, ...] = ()
    body: str | None = None
    """The request body's schema name in components; None: no body is read."""
    body_required: bool = True


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: str) -> Answer:
    return Answer(description, JSON, _ref(schema))


_MEMBER = "MemberStatus"
_ACTION_REFUSALS = {
    401: Answer(
        "Authentication required (basic auth); also every action of a node with no "
        "credentials configured, unless restapi.allow_unauthenticated_actions is set."
    ),
    403: Answer("A verified TLS client certificate is required."),
}
_BODY_REFUSALS = {
    400: Answer("The body is not acceptable; the text says why."),
    413: Answer("The body is larger than 64 KiB."),
}
_HA_SILENT = "The HA actor is not running or did not answer."


def _check_parameters() -> tuple[Schema, ...]:
    lag = {
        "name": "lag",
        "in": "query",
        "required": False,
        "description": "Maximum replication lag: bytes, or with a unit (16MB, 512kB).",
        "schema": {"type": "string", "pattern": r"^\s*[0-9]{1,19}\s*([bB]|[kKmMgGtT][bB])?\s*$"},
    }
    tags = tuple(
        {
            "name": f"tag_{tag}",
            "in": "query",
            "required": False,
            "description": f"Only when this member's {tag} tag has this value (any tag_<name> "
            "works the same way; read-only checks only).",
            "schema": {"type": "string"},
        }
        for tag in ("nofailover", "noloadbalance", "clonefrom", "nosync", "failover_priority")
    )
    return (lag, *tags)


_CHECK = Operation(
    summary="Health check: 200 when the condition holds for this member, 503 when not.",
    parameters=_check_parameters(),
    answers={
        200: _json("The condition holds.", _MEMBER),
        400: Answer("The lag parameter cannot be read."),
        503: _json("The condition does not hold.", _MEMBER),
    },
)


def _action(
    summary: str,
    ok: Mapping[int, str],
    refusals: Mapping[int, str],
    *,
    body: str | None = None,
    body_required: bool = True,
) -> Operation:
    answers = {code: Answer(text) for code, text in ok.items()}
    answers.update(_ACTION_REFUSALS)
    if body is not None:
        answers.update(_BODY_REFUSALS)
    answers.update({code: Answer(text) for code, text in refusals.items()})
    return Operation(summary=summary, answers=answers, body=body, body_required=body_required)


def _config_edit(summary: str) -> Operation:
    answers: dict[int, Answer] = {200: _json("The config now stored.", "Config")}
    answers.update(_ACTION_REFUSALS)
    answers.update(_BODY_REFUSALS)
    answers[409] = Answer("The config changed meanwhile (compare-and-set lost): read it again.")
    answers[503] = Answer("No status or config yet, or the HA actor or the DCS did not answer.")
    return Operation(summary=summary, answers=answers, body="ConfigEdit")


OPERATIONS: Mapping[tuple[str, str], Operation] = {
    **{(path, "GET"): _CHECK for path in health.CHECKS},
    ("/patroni", "GET"): Operation(
        summary="This member's status, as Patroni's /patroni shows it.",
        answers={
            200: _json("The member's status.", _MEMBER),
            503: _json("No status from the HA loop yet.", _MEMBER),
        },
    ),
    ("/cluster", "GET"): Operation(
        summary="Every member as the DCS shows it.",
        answers={200: _json("The cluster.", "Cluster"), 503: Answer("No status yet.")},
    ),
    ("/history", "GET"): Operation(
        summary="The timeline history.",
        answers={200: _json("The history lines.", "History"), 503: Answer("No status yet.")},
    ),
    ("/config", "GET"): Operation(
        summary="The cluster's dynamic config, in Patroni's JSON shape.",
        answers={
            200: _json("The config.", "Config"),
            503: Answer("No status yet, or no config in the DCS yet."),
        },
    ),
    ("/config", "PATCH"): _config_edit("Change the config by a JSON merge patch (null deletes)."),
    ("/config", "PUT"): _config_edit("Replace the config (absent keys take their defaults)."),
    ("/switchover", "POST"): _action(
        "Switch the leader over to a candidate (or to the best one), now or at scheduled_at.",
        {200: "Switched over: the leader changed.", 202: "Switchover scheduled (stored)."},
        {
            412: "Not possible with the cluster as it is.",
            503: "No status, no HA, not stored, failed, or no outcome in time.",
        },
        body="SwitchoverBody",
    ),
    ("/switchover", "DELETE"): _action(
        "Cancel a scheduled switchover.",
        {200: "Cancelled."},
        {404: "No switchover is scheduled.", 503: _HA_SILENT},
    ),
    ("/failover", "POST"): _action(
        "Fail over to a named candidate.",
        {200: "Failed over: the leader changed."},
        {
            412: "Not possible with the cluster as it is.",
            503: "No status, no HA, not stored, failed, or no outcome in time.",
        },
        body="FailoverBody",
    ),
    ("/restart", "POST"): _action(
        "Restart PostgreSQL on this member, if the conditions given hold.",
        {202: "Restart started."},
        {412: "A condition does not hold, or an action runs.", 503: _HA_SILENT},
        body="RestartBody",
        body_required=False,
    ),
    ("/reload", "POST"): _action(
        "Reload PostgreSQL's configuration on this member.",
        {202: "Reload scheduled."},
        {412: "PostgreSQL is not running.", 503: _HA_SILENT},
    ),
    ("/reinitialize", "POST"): _action(
        "Throw this replica's data away and clone it again from the leader.",
        {200: "Reinitialisation started."},
        {412: "Not a replica, no leader, or an action runs.", 503: _HA_SILENT},
        body="ReinitializeBody",
        body_required=False,
    ),
    ("/metrics", "GET"): Operation(
        summary="Prometheus metrics of this member (text exposition format).",
        answers={200: Answer("The metrics."), 503: Answer("The metrics actor did not answer.")},
    ),
    ("/openapi.json", "GET"): Operation(
        summary="This document.",
        answers={200: Answer("The OpenAPI document.", JSON, {"type": "object"})},
    ),
}


def _operation_id(method: str, path: str) -> str:
    name = path.strip("/").replace("/", "_").replace("-", "_").replace(".", "_") or "root"
    return f"{method.lower()}_{name}"


def _answer(answer: Answer, *, with_body: bool) -> Schema:
    rendered: Schema = {"description": answer.description}
    if with_body and answer.media is not None:
        rendered["content"] = {answer.media: {"schema": answer.schema or {"type": "string"}}}
    return rendered


def _render(op: Operation, path: str, method: str, *, with_body: bool = True) -> Schema:
    rendered: Schema = {"operationId": _operation_id(method, path), "summary": op.summary}
    if op.parameters:
        rendered["parameters"] = list(op.parameters)
    if op.body is not None:
        rendered["requestBody"] = {
            "required": op.body_required,
            "content": {JSON: {"schema": _ref(op.body)}},
        }
    answers = sorted(op.answers.items())
    rendered["responses"] = {str(code): _answer(a, with_body=with_body) for code, a in answers}
    if method in ACTION_METHODS:
        rendered["security"] = [{"basicAuth": []}, {}]
    return rendered


def _path_item(path: str, methods: Mapping[str, object]) -> Schema:
    item = {m.lower(): _render(OPERATIONS[(path, m)], path, m) for m in sorted(methods)}
    if "GET" in methods:
        get = OPERATIONS[(path, "GET")]
        item["head"] = _render(get, path, "HEAD", with_body=False)
        item["options"] = _render(get, path, "OPTIONS")
    else:
        item["options"] = {
            "operationId": _operation_id("OPTIONS", path),
            "summary": "The methods this path accepts (in the Allow header).",
            "responses": {"204": {"description": "No content; see Allow."}},
        }
    return item


def document(routes: Mapping[str, Mapping[str, object]]) -> dict[str, Any]:
    """The OpenAPI document for these routes; KeyError for a route with no entry above."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "pgactor REST API",
            "version": VERSION,
            "description": "Patroni-compatible health checks, status and admin actions.",
        },
        "paths": {path: _path_item(path, routes[path]) for path in sorted(routes)},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
        },
    }
