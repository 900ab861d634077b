"""Messages the runtime itself sends: timer ticks and supervision reports."""

from __future__ import annotations

import enum

from messages.base import ActorName, Message, message


@message("rt.tick")
class Tick(Message):
    """A timer fired; `timer` names which of the actor's timers."""

    timer: str


@message("rt.ping")
class Ping(Message):
    """Answered at once; used to wait until an actor has started."""


class ExitKind(enum.Enum):
    NORMAL = "normal"
    FAILED = "failed"


@message("rt.child_exit")
class ChildExit(Message):
    """A supervised actor stopped: normally, or by an exception (`error` says which)."""

    name: ActorName
    kind: ExitKind
    error: str = ""


@message("rt.resend")
class Resend(Message):
    """Send your latest state again (a subscriber that started after you asks this)."""
