"""The admin console endpoint: ZeroMQ, CURVE, authorised client keys only.

:class:`ConsoleActor` is the shell; beside it ``requests`` (pure: what a
request asks for), ``cache`` (retries answered, never performed twice),
``feed`` (pure: watchers and events) and ``transport`` (the ROUTER socket).
"""

from __future__ import annotations

from actors.console.actor import ConsoleActor

__all__ = ["ConsoleActor"]
