"""Route handlers for the config, PostgreSQL actions and metrics.

``/config``: GET shows the config from this member's latest status; PATCH
and PUT validate the new config here (400 with every problem), then ask the
HA actor, which hands a compare-and-set write to the leader-lock actor.  The
write's outcome is told back to the API actor and reaches the waiting HTTP
thread through :class:`actors.api.replies.Replies`: 200 with the config
stored, 409 when the stored config changed since the edit was made (the
caller reads it again and retries, as with Patroni), 503 when the DCS did
not answer.

A value in ``postgresql.parameters`` that the edit sets or changes is
judged against the catalogue of this node's PostgreSQL (its types, ranges
and enum values), asked of the PostmasterActor: a value the server would
refuse is a 400 naming the parameter and what it accepts.  Without an
answer (no postmaster actor, or none in time, or no catalogue yet) values
are taken by their form only, and a warning says so: the PostmasterActor
judges them again before it writes them, and skips what it refuses.

``/restart``, ``/reload``, ``/reinitialize`` are asked of the HA actor,
which checks them against its own view (412 with its reason when it
refuses) and starts them; they answer before PostgreSQL has finished.
"""

from __future__ import annotations

import logging

from actors.api.config_json import (
    ConfigInvalid,
    config_from_json,
    config_to_json,
    merge_patch,
    parameter_problems,
    with_aliases_renamed,
)
from actors.api.context import NO_STATUS, ApiContext, Unanswered, ask_actor, ask_ha, ask_stored
from actors.api.json_body import parse_object
from actors.api.pg_actions import parse_reinitialize, parse_restart
from actors.api.responses import Request, Response, json_response, text_response
from actors.runtime import names
from messages.admin import ReloadRequest
from messages.config import DynamicConfig
from messages.dcs import ConfigOutcome, ConfigResult, SetConfig
from messages.metrics import MetricsText, RenderMetrics
from messages.pg_parameters import Catalogue, catalogue_of
from messages.postgres import DescribeParameters, ParameterCatalogue

log = logging.getLogger(__name__)

NO_CONFIG = "no cluster config in the DCS yet"


def _current(ctx: ApiContext) -> DynamicConfig | Response:
    status = ctx.box.read().status
    if status is None:
        return text_response(503, NO_STATUS)
    if status.cluster.config is None:
        return text_response(503, NO_CONFIG)
    return status.cluster.config


def get_config(ctx: ApiContext, request: Request) -> Response:
    current = _current(ctx)
    if isinstance(current, Response):
        return current
    return json_response(200, config_to_json(current))


def patch_config(ctx: ApiContext, request: Request) -> Response:
    current = _current(ctx)
    if isinstance(current, Response):
        return current
    patch = parse_object(request.body)
    if isinstance(patch, Response):
        return patch
    try:
        merged = merge_patch(config_to_json(current), with_aliases_renamed(patch))
        config = config_from_json(merged)
    except ConfigInvalid as exc:
        return text_response(400, f"invalid config: {exc}")
    refused = _refused_parameters(ctx, config, current)
    return refused or _store(ctx, config, expected=current)


def put_config(ctx: ApiContext, request: Request) -> Response:
    status = ctx.box.read().status
    if status is None:
        return text_response(503, NO_STATUS)
    data = parse_object(request.body)
    if isinstance(data, Response):
        return data
    try:
        config = config_from_json(data)
    except ConfigInvalid as exc:
        return text_response(400, f"invalid config: {exc}")
    if status.cluster.config == config:
        return json_response(200, config_to_json(config))
    refused = _refused_parameters(ctx, config, status.cluster.config)
    return refused or _store(ctx, config, expected=None)


def _refused_parameters(
    ctx: ApiContext, config: DynamicConfig, current: DynamicConfig | None
) -> Response | None:
    """A 400 for the parameter values the edit sets that the server would refuse.

    Only what the edit sets or changes is judged: a value already stored
    (perhaps accepted by an older server) does not block an unrelated edit.
    """
    before = current.postgresql_parameters if current is not None else {}
    new = {n: v for n, v in config.postgresql_parameters.items() if before.get(n) != v}
    catalogue = _catalogue(ctx) if new else None
    problems = parameter_problems(new, catalogue) if catalogue else []
    return text_response(400, f"invalid config: {'; '.join(problems)}") if problems else None


def _catalogue(ctx: ApiContext) -> Catalogue | None:
    """This node's PostgreSQL parameters, from its PostmasterActor; None (and a warning)
    when it cannot say."""
    why = "the postmaster actor knows no catalogue yet"
    try:
        reply = ask_actor(ctx, names.POSTMASTER, DescribeParameters(), "postmaster actor")
    except Unanswered as exc:
        reply, why = None, exc.response.body.decode(errors="replace").strip()
    if isinstance(reply, ParameterCatalogue) and reply.parameters:
        return catalogue_of(reply.parameters)
    log.warning("postgresql.parameters checked by their form only: %s", why)
    return None


def _store(ctx: ApiContext, config: DynamicConfig, *, expected: DynamicConfig | None) -> Response:
    if expected == config:  # nothing to write (Patroni answers 200 without writing too)
        return json_response(200, config_to_json(config))
    log.info("config change requested: %s", config)

    def make(request_id: str) -> SetConfig:
        return SetConfig(
            config=config, expected=expected, request_id=request_id, reply_to=ctx.api_actor
        )

    asked, answer = ask_stored(ctx, make, ConfigResult, refused=503)
    if answer is None:
        return asked
    if answer.outcome is ConfigOutcome.CONFLICT:
        return text_response(409, answer.detail or "the config changed meanwhile; read it again")
    if answer.outcome is not ConfigOutcome.STORED:
        return text_response(503, answer.detail or "the DCS did not store the config")
    return json_response(200, config_to_json(answer.config or config))


def restart(ctx: ApiContext, request: Request) -> Response:
    parsed = parse_restart(request.body)
    if isinstance(parsed, Response):
        return parsed
    log.info("restart requested: %s", parsed)
    return ask_ha(ctx, parsed, accepted=202)


def reload(ctx: ApiContext, request: Request) -> Response:
    log.info("reload requested")
    return ask_ha(ctx, ReloadRequest(), accepted=202)


def reinitialize(ctx: ApiContext, request: Request) -> Response:
    parsed = parse_reinitialize(request.body)
    if isinstance(parsed, Response):
        return parsed
    log.info("reinitialize requested")
    return ask_ha(ctx, parsed)


def metrics(ctx: ApiContext, request: Request) -> Response:
    try:
        reply = ask_actor(ctx, ctx.metrics_actor, RenderMetrics(), "metrics actor")
    except Unanswered as exc:
        return exc.response
    if not isinstance(reply, MetricsText):
        return text_response(503, "the metrics actor gave no answer")
    return Response(code=200, body=reply.text.encode(), content_type=reply.content_type)
