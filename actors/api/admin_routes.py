"""Route handlers for the config, PostgreSQL actions and metrics.

``/config``: GET shows the config from this member's latest status; PATCH
and PUT validate the new config here (400 with every problem), then ask the
HA actor, which hands a compare-and-set write to the leader-lock actor.  The
write's outcome is told back to the API actor and reaches the waiting HTTP
thread through :class:`actors.api.replies.Replies`: 200 with the config
stored, 409 when the stored config changed since the edit was made (the
caller reads it again and retries, as with Patroni), 503 when the DCS did
not answer.

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
    with_aliases_renamed,
)
from actors.api.context import NO_STATUS, ApiContext, Unanswered, ask_actor, ask_ha
from actors.api.json_body import parse_object
from actors.api.pg_actions import parse_reinitialize, parse_restart
from actors.api.responses import Request, Response, json_response, text_response
from messages.admin import ReloadRequest
from messages.config import DynamicConfig
from messages.dcs import ConfigOutcome, ConfigResult, SetConfig
from messages.metrics import MetricsText, RenderMetrics

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
    return _store(ctx, config, expected=current)


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
    return _store(ctx, config, expected=None)


def _store(ctx: ApiContext, config: DynamicConfig, *, expected: DynamicConfig | None) -> Response:
    if expected == config:  # nothing to write (Patroni answers 200 without writing too)
        return json_response(200, config_to_json(config))
    log.info("config change requested: %s", config)
    with ctx.replies.expect() as waiting:
        msg = SetConfig(
            config=config,
            expected=expected,
            request_id=waiting.request_id,
            reply_to=ctx.api_actor,
        )
        asked = ask_ha(ctx, msg, refused=503)
        if asked.code != 200:
            return asked
        answer = waiting.wait(ctx.config_timeout_s)
    if not isinstance(answer, ConfigResult):
        return text_response(503, f"the DCS did not confirm within {ctx.config_timeout_s:g} s")
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
