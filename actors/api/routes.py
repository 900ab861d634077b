"""The REST API's routes: path and method to a handler, as a table.

A handler takes the :class:`ApiContext` (the status box, the registry, whom
to ask) and a :class:`Request`, and returns a :class:`Response`.  Reading
routes answer from one status snapshot; action routes validate the body
(:mod:`actors.api.switchover`, :mod:`actors.api.admin_routes`) and then *ask*
the HA actor, with a timeout -- the one place the API waits on another actor,
which is why it happens in the HTTP thread and never in the API actor's own.
``/openapi.json`` is made from this very table (:mod:`actors.api.openapi`).

HEAD and OPTIONS are derived from GET, so every check answers HAProxy's
default ``OPTIONS /`` probe with the same status code as ``GET``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping

from actors.api import admin_routes, health, openapi
from actors.api.context import NO_STATUS, ApiContext, ask_ha, ask_stored
from actors.api.query import QueryError, parse_query
from actors.api.responses import Request, Response, json_response, text_response
from actors.api.switchover import Kind, Outcome, Rejection, outcome_wait_s, parse_request
from actors.api.views import cluster_json, history_json, member_json
from messages.admin import CancelSwitchover, NodeStatus, SwitchoverRequest
from messages.dcs import ConfigOutcome, FailoverResult

log = logging.getLogger(__name__)

Handler = Callable[[ApiContext, Request], Response]


# -- reading ---------------------------------------------------------------------


def _check(path: str) -> Handler:
    def handler(ctx: ApiContext, request: Request) -> Response:
        try:
            query = parse_query(request.query)
        except QueryError as exc:
            return text_response(400, str(exc))
        code, body = health.answer(path, ctx.box.read(), query)
        return json_response(code, body)

    return handler


def _patroni(ctx: ApiContext, request: Request) -> Response:
    snap = ctx.box.read()
    # Patroni answers /patroni with 200 whatever PostgreSQL's state; the body says it
    return json_response(200 if snap.status is not None else 503, member_json(snap))


def _with_status(render: Callable[[NodeStatus], object]) -> Handler:
    def handler(ctx: ApiContext, request: Request) -> Response:
        status = ctx.box.read().status
        if status is None:
            return text_response(503, NO_STATUS)
        return json_response(200, render(status))

    return handler


# -- actions -----------------------------------------------------------------------


def _request_change(kind: Kind) -> Handler:
    def handler(ctx: ApiContext, request: Request) -> Response:
        snap = ctx.box.read()
        if snap.status is None:
            return text_response(503, NO_STATUS)
        parsed = parse_request(
            request.body, kind=kind, status=snap.status, now_epoch=snap.wall_time
        )
        if isinstance(parsed, Rejection):
            return text_response(parsed.code, parsed.reason)
        log.info(
            "%s requested: leader=%r candidate=%r scheduled_at=%r",  # %r: names come from clients
            kind.value,
            parsed.leader,
            parsed.candidate,
            parsed.scheduled_at,
        )
        leader = snap.status.cluster.leader
        before = parsed.leader or (leader.name if leader is not None else None)
        outcome = Outcome(kind=kind, before=before, candidate=parsed.candidate)
        since = ctx.box.mark()  # every status from the request on: none of its steps missed
        asked = _stored(ctx, parsed)
        if asked.code != 200 or parsed.scheduled_at is not None:
            return asked
        return _carried_out(ctx, outcome, snap.status, since)

    return handler


def _stored(ctx: ApiContext, request: SwitchoverRequest) -> Response:
    """Answered only once the DCS stored it: an accepted request the DCS never stored
    (it went down meanwhile) must not be answered as accepted."""

    def make(request_id: str) -> SwitchoverRequest:
        return dataclasses.replace(request, request_id=request_id, reply_to=ctx.api_actor)

    # Patroni answers an accepted *scheduled* switchover with 202
    accepted = 202 if request.scheduled_at else 200
    asked, answer = ask_stored(ctx, make, FailoverResult, accepted=accepted)
    if answer is not None and answer.outcome is not ConfigOutcome.STORED:
        return text_response(503, answer.detail or "the DCS did not store the request")
    return asked


def _carried_out(ctx: ApiContext, outcome: Outcome, status: NodeStatus, since: int) -> Response:
    """As Patroni: an immediate switchover is answered once the leader changed (200), or
    the request is gone with the leader unchanged (503 "... failed"), or after a wait
    (503 "... status unknown"), so a script may act on a 200 at once."""
    wait = ctx.outcome_wait_s if ctx.outcome_wait_s is not None else outcome_wait_s(status)
    code, text = ctx.box.wait_for(outcome.judge, wait, since=since) or outcome.unknown()
    log.info("%s: %s", outcome.kind.value, text)
    return text_response(code, text)


def _cancel_switchover(ctx: ApiContext, request: Request) -> Response:
    log.info("cancellation of a scheduled switchover requested")
    return ask_ha(ctx, CancelSwitchover(), refused=404)  # Patroni: nothing scheduled is a 404


@functools.cache
def _openapi_body() -> Response:
    return json_response(200, openapi.document(ROUTES))


def _openapi(ctx: ApiContext, request: Request) -> Response:
    return _openapi_body()


# -- the table ---------------------------------------------------------------------

ROUTES: Mapping[str, Mapping[str, Handler]] = {
    **{path: {"GET": _check(path)} for path in health.CHECKS},
    "/patroni": {"GET": _patroni},
    "/cluster": {"GET": _with_status(cluster_json)},
    "/history": {"GET": _with_status(history_json)},
    "/config": {
        "GET": admin_routes.get_config,
        "PATCH": admin_routes.patch_config,
        "PUT": admin_routes.put_config,
    },
    "/switchover": {"POST": _request_change(Kind.SWITCHOVER), "DELETE": _cancel_switchover},
    "/failover": {"POST": _request_change(Kind.FAILOVER)},
    "/restart": {"POST": admin_routes.restart},
    "/reload": {"POST": admin_routes.reload},
    "/reinitialize": {"POST": admin_routes.reinitialize},
    "/metrics": {"GET": admin_routes.metrics},
    "/openapi.json": {"GET": _openapi},
}
"""Path -> method -> handler.  Paths match exactly: no prefix or substring matching."""


def _with_headers(handler: Handler, headers: tuple[tuple[str, str], ...]) -> Handler:
    def with_headers(ctx: ApiContext, request: Request) -> Response:
        response = handler(ctx, request)
        return dataclasses.replace(response, headers=response.headers + headers)

    return with_headers


def allowed_methods(methods: Mapping[str, Handler]) -> str:
    allowed = set(methods) | {"OPTIONS"}
    if "GET" in methods:
        allowed.add("HEAD")
    return ", ".join(sorted(allowed))


def resolve(method: str, path: str) -> Handler | Response:
    """The handler for a request, or the 404/405/204 answer when there is none."""
    methods = ROUTES.get(path)
    if methods is None:
        return text_response(404, f"no such endpoint: {path[:80]}")
    allow = (("Allow", allowed_methods(methods)),)
    if method == "HEAD" and "GET" in methods:
        return methods["GET"]  # the HTTP layer drops the body
    if method == "OPTIONS" and "GET" in methods:
        return _with_headers(methods["GET"], allow)
    if method == "OPTIONS":  # an action-only path: just say what it accepts
        return Response(code=204, headers=allow)
    handler = methods.get(method)
    if handler is None:
        return text_response(405, f"{method} is not allowed on {path}", headers=allow)
    return handler
