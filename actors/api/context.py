"""What every route handler may use, and the one way the API asks another actor.

A handler runs in an HTTP connection's thread.  It reads the status box,
and for an action it *asks* an actor (the HA actor, the MetricsActor) with a
timeout -- the API is an edge, where an ask is allowed, and the HTTP thread
is never the API actor's own, so an HA actor telling the API a status while
it is being asked cannot deadlock.  Every way an ask can fail becomes a 503:
the node cannot serve the request now, the request itself was fine.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TypeVar

import pykka

from actors.api.replies import Replies
from actors.api.responses import Response, text_response
from actors.api.snapshot import StatusBox
from actors.runtime.actor import ask
from actors.runtime.registry import Registry
from messages.admin import AdminReply
from messages.base import ActorName, Message
from messages.codec import DecodeError

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Message)

ADMIN_TIMEOUT_S = 5.0
CONFIG_TIMEOUT_S = 15.0
"""A config write may retry against the DCS for retry_timeout (10 s by default)."""
NO_STATUS = "no status from the HA loop yet"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ApiContext:
    box: StatusBox
    registry: Registry
    ha_actor: ActorName
    metrics_actor: ActorName = ActorName("metrics")
    api_actor: ActorName = ActorName("api")
    """The API actor's own name: where answers told back for an HTTP thread arrive."""
    replies: Replies = dataclasses.field(default_factory=Replies)
    admin_timeout_s: float = ADMIN_TIMEOUT_S
    config_timeout_s: float = CONFIG_TIMEOUT_S
    outcome_wait_s: float | None = None
    """How long an immediate switchover waits for its outcome; None: as Patroni."""


class Unanswered(Exception):
    """An ask that got no usable answer; `response` is the 503 to send."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.body)
        self.response = response


def ask_actor(ctx: ApiContext, name: ActorName, msg: Message, what: str) -> Message:
    """Ask `name` with the admin timeout; Unanswered (a 503) for every kind of silence."""
    try:
        reply = ask(ctx.registry, name, msg, timeout_s=ctx.admin_timeout_s)
    except (LookupError, pykka.ActorDeadError):
        raise Unanswered(text_response(503, f"the {what} is not running")) from None
    except pykka.Timeout:
        raise Unanswered(
            text_response(503, f"the {what} did not answer within {ctx.admin_timeout_s} s")
        ) from None
    except DecodeError as exc:
        log.warning("undecodable reply from %s: %s", name, exc)
        raise Unanswered(text_response(503, f"the {what} gave no usable answer")) from None
    if reply is None:
        raise Unanswered(text_response(503, f"the {what} gave no answer"))
    return reply


def ask_ha(ctx: ApiContext, msg: Message, *, accepted: int = 200, refused: int = 412) -> Response:
    """Ask the HA actor to act: `accepted` when it does, `refused` (with its reason) when not."""
    try:
        reply = ask_actor(ctx, ctx.ha_actor, msg, "HA actor")
    except Unanswered as exc:
        return exc.response
    if not isinstance(reply, AdminReply):
        return text_response(503, "the HA actor gave no answer")
    if not reply.ok:
        return text_response(refused, reply.detail or "refused")
    return text_response(accepted, reply.detail or "accepted")


def ask_stored(
    ctx: ApiContext,
    make: Callable[[str], Message],
    answer_type: type[A],
    *,
    accepted: int = 200,
    refused: int = 412,
) -> tuple[Response, A | None]:
    """Ask the HA core for a DCS write (`make(request_id)`), then wait for the leader-lock
    actor's outcome: the HA core accepting a write is not the DCS storing it.

    Returns the HA core's answer and the outcome; no outcome when the HA core refused
    (its answer says why) or the DCS did not confirm in time (a 503 in its place).
    """
    with ctx.replies.expect() as waiting:
        asked = ask_ha(ctx, make(waiting.request_id), accepted=accepted, refused=refused)
        if asked.code != accepted:
            return asked, None
        answer = waiting.wait(ctx.config_timeout_s)
    if not isinstance(answer, answer_type):
        silent = f"the DCS did not confirm within {ctx.config_timeout_s:g} s"
        return text_response(503, silent), None
    return asked, answer
