"""The REST API's routes: path and method to a handler, as a table.

A handler takes the :class:`ApiContext` (the status box, the registry, whom
to ask) and a :class:`Request`, and returns a :class:`Response`.  Reading
routes answer from one status snapshot; action routes validate the body
(:mod:`actors.api.switchover`) and then *ask* the HA actor, with a timeout --
the one place the API waits on another actor, which is why it happens in the
HTTP thread and never in the API actor's own.

HEAD and OPTIONS are derived from GET, so every check answers HAProxy's
default ``OPTIONS /`` probe with the same status code as ``GET``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping

import pykka

from actors.api import health
from actors.api.query import QueryError, parse_query
from actors.api.responses import Request, Response, json_response, text_response
from actors.api.snapshot import StatusBox
from actors.api.switchover import Kind, Rejection, parse_request
from actors.api.views import cluster_json, history_json, member_json
from actors.runtime.actor import ask
from actors.runtime.registry import Registry
from messages.admin import AdminReply, CancelSwitchover, NodeStatus
from messages.base import ActorName, Message
from messages.codec import DecodeError

log = logging.getLogger(__name__)

ADMIN_TIMEOUT_S = 5.0
NO_STATUS = "no status from the HA loop yet"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ApiContext:
    box: StatusBox
    registry: Registry
    ha_actor: ActorName
    admin_timeout_s: float = ADMIN_TIMEOUT_S


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


def _ask_ha(ctx: ApiContext, msg: Message, accepted: int = 200) -> Response:
    try:
        reply = ask(ctx.registry, ctx.ha_actor, msg, timeout_s=ctx.admin_timeout_s)
    except (LookupError, pykka.ActorDeadError):
        return text_response(503, "the HA actor is not running")
    except pykka.Timeout:
        return text_response(503, f"the HA actor did not answer within {ctx.admin_timeout_s} s")
    except DecodeError as exc:
        log.warning("undecodable reply from %s: %s", ctx.ha_actor, exc)
        return text_response(503, "the HA actor gave no usable answer")
    if not isinstance(reply, AdminReply):
        return text_response(503, "the HA actor gave no answer")
    if not reply.ok:
        return text_response(412, reply.detail or "refused")
    return text_response(accepted, reply.detail or "accepted")


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
        # Patroni answers an accepted *scheduled* switchover with 202
        return _ask_ha(ctx, parsed, accepted=202 if parsed.scheduled_at else 200)

    return handler


def _cancel_switchover(ctx: ApiContext, request: Request) -> Response:
    log.info("cancellation of a scheduled switchover requested")
    return _ask_ha(ctx, CancelSwitchover())


# -- the table ---------------------------------------------------------------------

ROUTES: Mapping[str, Mapping[str, Handler]] = {
    **{path: {"GET": _check(path)} for path in health.CHECKS},
    "/patroni": {"GET": _patroni},
    "/cluster": {"GET": _with_status(cluster_json)},
    "/history": {"GET": _with_status(history_json)},
    "/switchover": {"POST": _request_change(Kind.SWITCHOVER), "DELETE": _cancel_switchover},
    "/failover": {"POST": _request_change(Kind.FAILOVER)},
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
