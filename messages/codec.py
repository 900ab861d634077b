"""The one wire codec: messages to msgpack bytes and back.

Every encoded message is a map ``{"t": tag, "v": version, "f": {field: value}}``.
Nested messages carry the same envelope, so a field may hold any of several
message types (an action, say) and the decoder still knows which.

Decoding treats its input as hostile: it bounds sizes, accepts only text map
keys, checks every field against the dataclass's type hints, and raises
:class:`DecodeError` naming the problem -- never anything else.  The checks
are compiled once per type (decoding.py), so a decode costs a few times a
plain msgpack unpack, not a walk of the type hints.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any

import msgpack

from messages import decoding
from messages.base import REGISTRY, Message

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Largest encoded message accepted; a cluster view of 100 members fits easily."""

_UNPACK_LIMITS = {
    "max_str_len": 1024 * 1024,
    "max_bin_len": 1024 * 1024,
    "max_array_len": 100_000,
    "max_map_len": 100_000,
    "max_ext_len": 0,
}


class DecodeError(ValueError):
    """Bytes that are not a valid message; the text names what was wrong."""


def encode(msg: Message) -> bytes:
    """Encode a registered message; raises TypeError for an unregistered object."""
    packed: bytes = msgpack.packb(_to_wire(msg), use_bin_type=True)
    return packed


def decode(data: bytes) -> Message:
    """Decode bytes into a message, or raise DecodeError saying why not."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    if len(data) > MAX_MESSAGE_BYTES:
        raise DecodeError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        raw = msgpack.unpackb(bytes(data), raw=False, strict_map_key=True, **_UNPACK_LIMITS)
    except Exception as exc:  # msgpack raises many types; all mean "not msgpack"
        raise DecodeError(f"not valid msgpack: {type(exc).__name__}: {exc}") from None
    try:
        return decoding.envelope(raw)
    except decoding.Invalid as bad:
        raise DecodeError(bad.render()) from None
    except RecursionError:
        raise DecodeError("message nested too deeply") from None


def shareable(cls: type[Message]) -> bool:
    """Whether every value a message of `cls` can hold is immutable (scalars, enums,
    tuples, frozensets, read-only mappings, other such messages; no dict): then one
    instance may reach several actors of a process without encoding, and none can
    change what another sees.  Computed once per class, from its type hints.

    A field hinted ``Mapping[...]`` (not ``dict``) counts as read-only: such a
    message freezes it at construction (a types.MappingProxyType over a copy of its
    own, see DynamicConfig), and tests/messages holds every such field to that."""
    known = _SHAREABLE.get(cls)
    if known is None:
        _SHAREABLE[cls] = False  # a message that holds itself: encoded, to be safe
        known = _SHAREABLE[cls] = all(
            _immutable(hint) for name, hint in _hints(cls).items() if name in _field_names(cls)
        )
    return known


_SHAREABLE: dict[type[Message], bool] = {}
_PLAIN = frozenset({int, float, str, bool, bytes, type(None)})
_FIELDS: dict[type[Message], tuple[str, ...]] = {}


def _field_order(cls: type[Message]) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    return names


_SCALARS = (int, float, str, bool, bytes, type(None))


def _field_names(cls: type[Message]) -> frozenset[str]:
    return frozenset(_field_order(cls))


def _immutable(hint: Any) -> bool:
    hint = _unwrap_newtype(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType, tuple, frozenset, Mapping):
        return all(_immutable(a) for a in typing.get_args(hint) if a is not Ellipsis)
    if isinstance(hint, type) and issubclass(hint, Message):
        return shareable(hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return True
    return hint in _SCALARS


def _to_wire(value: Any) -> Any:  # noqa: PLR0911 - one branch per kind
    kind = type(value)
    if kind in _PLAIN:  # most values: no isinstance chain for them
        return value
    if isinstance(value, Message):
        if kind.TAG not in REGISTRY:
            raise TypeError(f"{kind.__name__} is not a registered message")
        fields = {name: _to_wire(getattr(value, name)) for name in _field_order(kind)}
        return {"t": kind.TAG, "v": kind.VERSION, "f": fields}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_to_wire(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted((_to_wire(v) for v in value), key=repr)
    if isinstance(value, Mapping):
        return {k: _to_wire(v) for k, v in value.items()}
    return value


_HINTS: dict[type[Message], dict[str, Any]] = {}


def _hints(cls: type[Message]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _unwrap_newtype(hint: Any) -> Any:
    while hasattr(hint, "__supertype__"):
        hint = hint.__supertype__
    return hint
