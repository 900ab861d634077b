"""The admin console's protocol: requests, responses and the live feed.

A client (``pgactor ctl``, ``pgactor console``) sends one msgpack
:class:`AdminRequest` per ZeroMQ message to a node's console endpoint and gets
one :class:`AdminResponse` carrying the same ``request_id``.  A client that
retries sends the same id again; the node answers a retry from its cache and
never performs the action twice.  A client that sent ``watch`` also receives
the node's :class:`~messages.admin.NodeStatus` on every change and
:class:`FeedEvent` records, for as long as it renews the watch.

Data travels as messages (a NodeStatus, a DynamicConfig), never as free JSON,
so the client decodes it with the same checks as everything else.
"""

from __future__ import annotations

import enum

from messages.admin import NodeStatus
from messages.base import MemberName, Message, message
from messages.config import DynamicConfig
from messages.ha import Reason


class AdminAction(enum.Enum):
    """patronictl's vocabulary, plus ``watch`` for the live feed."""

    LIST = "list"
    TOPOLOGY = "topology"
    SWITCHOVER = "switchover"
    FAILOVER = "failover"
    RESTART = "restart"
    RELOAD = "reload"
    REINIT = "reinit"
    PAUSE = "pause"
    RESUME = "resume"
    SHOW_CONFIG = "show-config"
    EDIT_CONFIG = "edit-config"
    HISTORY = "history"
    VERSION = "version"
    WATCH = "watch"


@message("console.request")
class AdminRequest(Message):
    request_id: str
    """Chosen by the client, unique per action; a retry carries the same id."""
    action: AdminAction
    member: MemberName | None = None
    """The member a restart or reinit is for."""
    leader: MemberName | None = None
    candidate: MemberName | None = None
    scheduled_at: float | None = None
    """Wall-clock epoch seconds of a scheduled switchover (the operator's time)."""
    role: str | None = None
    """restart --role: only members of this role (primary, replica, any)."""
    pending: bool = False
    """restart --pending: only members with a pending restart."""
    config: DynamicConfig | None = None
    """edit-config: the whole new cluster config."""
    expected_config: DynamicConfig | None = None
    """edit-config: the config the edit was made from; the write fails if it changed since."""
    force: bool = False
    """reinit --force."""


@message("console.response")
class AdminResponse(Message):
    request_id: str
    ok: bool
    detail: str = ""
    member: MemberName | None = None
    """The member that answered."""
    data: NodeStatus | DynamicConfig | None = None


class EventKind(enum.Enum):
    DECISION = "decision"
    LEADER = "leader"
    MEMBER_JOINED = "member joined"
    MEMBER_LEFT = "member left"
    ADMIN = "admin"


@message("console.event")
class FeedEvent(Message):
    """One line of the live event log, as a node saw it."""

    wall_time: float
    """Epoch seconds on the node that saw it; for display only."""
    member: MemberName
    kind: EventKind
    detail: str = ""
    reason: Reason | None = None


# -- the ConsoleActor's own plumbing ----------------------------------------------------


@message("console.frame")
class ConsoleFrame(Message):
    """A request as it arrived on the ROUTER socket, not yet decoded (hostile until then)."""

    envelope: tuple[bytes, ...]
    """The routing frames to send the answer back with."""
    frames: tuple[bytes, ...]
    client_key: str = ""
    """The client's CURVE public key (Z85), as the authenticator accepted it."""


@message("console.finished")
class ActionFinished(Message):
    """A worker thread finished asking the HA actor; the response to cache and send."""

    client_key: str
    response: AdminResponse


@message("console.get_stats")
class GetConsoleStats(Message):
    pass


@message("console.stats")
class ConsoleStats(Message):
    requests: int = 0
    executed: int = 0
    """Requests that reached an action (not answered from the cache)."""
    cached_replies: int = 0
    dropped: int = 0
    watchers: int = 0
