"""The message base: every message is a frozen, slotted, keyword-only dataclass.

A message type is declared with :func:`message`, which makes the dataclass and
registers it under a wire tag and a schema version.  The tag, not the Python
class name, is what crosses process boundaries, so classes may be renamed or
moved without breaking peers; the version lets a decoder refuse a shape it
does not know instead of guessing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, NewType, TypeVar, dataclass_transform

MemberName = NewType("MemberName", str)
"""A member's name: unique within a cluster scope (a pod name in Kubernetes)."""

Lsn = NewType("Lsn", int)
"""A WAL position as a 64-bit integer (PostgreSQL's pg_lsn as a number)."""

Timeline = NewType("Timeline", int)
"""A PostgreSQL timeline id."""

ActorName = NewType("ActorName", str)
"""The registry name of an actor within a node (stable across restarts)."""


class Message:
    """Base of every message; gives each class its wire tag and version."""

    __slots__ = ()
    TAG: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1


REGISTRY: dict[str, type[Message]] = {}
"""Every registered message class by wire tag; the codec decodes only these."""

M = TypeVar("M", bound=type[Message])


@dataclass_transform(frozen_default=True, kw_only_default=True)
def message(tag: str, version: int = 1) -> Callable[[M], M]:
    """Declare a message type: frozen, slotted, keyword-only, registered as `tag`."""

    def wrap(cls: M) -> M:
        if tag in REGISTRY:
            raise ValueError(f"message tag {tag!r} registered twice")
        made: Any = dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)
        made.TAG = tag
        made.VERSION = version
        REGISTRY[tag] = made
        return made  # type: ignore[no-any-return]

    return wrap


def is_message(value: object) -> bool:
    return isinstance(value, Message) and dataclasses.is_dataclass(value)
