"""The one wire codec: messages to msgpack bytes and back.

Every encoded message is a map ``{"t": tag, "v": version, "f": {field: value}}``.
Nested messages carry the same envelope, so a field may hold any of several
message types (an action, say) and the decoder still knows which.

Decoding treats its input as hostile: it bounds sizes, accepts only text map
keys, checks every field against the dataclass's type hints, and raises
:class:`DecodeError` naming the problem -- never anything else.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any

import msgpack

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
        return _envelope(raw, "message", None)
    except DecodeError:
        raise
    except RecursionError:
        raise DecodeError("message nested too deeply") from None


def shareable(cls: type[Message]) -> bool:
    """Whether every value a message of `cls` can hold is immutable (scalars, enums,
    tuples, frozensets, other such messages; no dict): then one instance may reach
    several actors of a process without encoding, and none can change what another
    sees.  Computed once per class, from its type hints."""
    known = _SHAREABLE.get(cls)
    if known is None:
        _SHAREABLE[cls] = False  # a message that holds itself: encoded, to be safe
        known = _SHAREABLE[cls] = all(
            _immutable(hint) for name, hint in _hints(cls).items() if name in _field_names(cls)
        )
    return known


_SHAREABLE: dict[type[Message], bool] = {}
_SCALARS = (int, float, str, bool, bytes, type(None))


def _field_names(cls: type[Message]) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]


def _immutable(hint: Any) -> bool:
    hint = _unwrap_newtype(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType, tuple, frozenset):
        return all(_immutable(a) for a in typing.get_args(hint) if a is not Ellipsis)
    if isinstance(hint, type) and issubclass(hint, Message):
        return shareable(hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return True
    return hint in _SCALARS


def _to_wire(value: Any) -> Any:
    if isinstance(value, Message):
        if type(value).TAG not in REGISTRY:
            raise TypeError(f"{type(value).__name__} is not a registered message")
        fields = {f.name: _to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}  # type: ignore[arg-type]
        return {"t": type(value).TAG, "v": type(value).VERSION, "f": fields}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_to_wire(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted((_to_wire(v) for v in value), key=repr)
    if isinstance(value, Mapping):
        return {k: _to_wire(v) for k, v in value.items()}
    return value


def _envelope(raw: Any, path: str, allowed: tuple[type[Message], ...] | None) -> Message:
    if not isinstance(raw, dict) or set(raw) != {"t", "v", "f"}:
        raise DecodeError(f"{path}: expected a message envelope with keys t, v, f")
    tag, version, fields = raw["t"], raw["v"], raw["f"]
    if not isinstance(tag, str) or tag not in REGISTRY:
        raise DecodeError(f"{path}: unknown message type {tag!r}")
    cls = REGISTRY[tag]
    if allowed is not None and not any(issubclass(cls, a) for a in allowed):
        names = ", ".join(a.TAG or a.__name__ for a in allowed)
        raise DecodeError(f"{path}: message type {tag!r} not allowed here (expected {names})")
    if type(version) is not int or version != cls.VERSION:
        raise DecodeError(f"{path}: {tag} schema version {version!r} unknown (have {cls.VERSION})")
    if not isinstance(fields, dict):
        raise DecodeError(f"{path}: fields of {tag} must be a map")
    return _build(cls, fields, f"{path}<{tag}>")


def _build(cls: type[Message], fields: dict[str, Any], path: str) -> Message:
    hints = _hints(cls)
    unknown = sorted(set(fields) - set(hints))
    if unknown:
        raise DecodeError(f"{path}: unknown field(s) {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in fields:
            kwargs[f.name] = _convert(fields[f.name], hints[f.name], f"{path}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise DecodeError(f"{path}: missing field {f.name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # __post_init__ checks
        raise DecodeError(f"{path}: {exc}") from None


_HINTS: dict[type[Message], dict[str, Any]] = {}


def _hints(cls: type[Message]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _convert(raw: Any, hint: Any, path: str) -> Any:  # noqa: PLR0911 - one branch per kind
    hint = _unwrap_newtype(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _convert_union(raw, typing.get_args(hint), path)
    if origin is tuple:
        return _convert_tuple(raw, typing.get_args(hint), path)
    if origin is frozenset:
        (item,) = typing.get_args(hint)
        return frozenset(_convert(v, item, f"{path}[]") for v in _expect(raw, list, path))
    if origin in (dict, Mapping):
        key_hint, value_hint = typing.get_args(hint)
        items = _expect(raw, dict, path).items()
        return {
            _convert(k, key_hint, path): _convert(v, value_hint, f"{path}.{k}") for k, v in items
        }
    if isinstance(hint, type) and issubclass(hint, Message):
        return _envelope(raw, path, (hint,))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _convert_enum(raw, hint, path)
    return _convert_scalar(raw, hint, path)


def _unwrap_newtype(hint: Any) -> Any:
    while hasattr(hint, "__supertype__"):
        hint = hint.__supertype__
    return hint


def _convert_union(raw: Any, options: tuple[Any, ...], path: str) -> Any:
    if raw is None and type(None) in options:
        return None
    messages = tuple(o for o in options if isinstance(o, type) and issubclass(o, Message))
    if messages and len(messages) == len([o for o in options if o is not type(None)]):
        return _envelope(raw, path, messages)
    errors = []
    for option in options:
        if option is type(None):
            continue
        try:
            return _convert(raw, option, path)
        except DecodeError as exc:
            errors.append(str(exc))
    raise DecodeError(f"{path}: value {_show(raw)} matches no allowed type ({'; '.join(errors)})")


def _convert_tuple(raw: Any, args: tuple[Any, ...], path: str) -> tuple[Any, ...]:
    items = _expect(raw, list, path)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(items))
    if len(items) != len(args):
        raise DecodeError(f"{path}: expected {len(args)} items, got {len(items)}")
    return tuple(
        _convert(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(items, args, strict=True))
    )


def _convert_enum(raw: Any, hint: type[enum.Enum], path: str) -> enum.Enum:
    try:
        return hint(raw)
    except (ValueError, TypeError):
        allowed = ", ".join(repr(m.value) for m in hint)
        raise DecodeError(f"{path}: {_show(raw)} is not one of {allowed}") from None


def _convert_scalar(raw: Any, hint: Any, path: str) -> Any:
    if hint is float and type(raw) is int:
        return float(raw)
    if hint is Any:
        raise DecodeError(f"{path}: untyped fields are not decodable")
    if hint is type(None) and raw is None:
        return None
    if not isinstance(hint, type) or type(raw) is not hint:
        name = getattr(hint, "__name__", str(hint))
        raise DecodeError(f"{path}: expected {name}, got {type(raw).__name__}")
    return raw


def _expect(raw: Any, kind: type, path: str) -> Any:
    if type(raw) is not kind:
        raise DecodeError(f"{path}: expected {kind.__name__}, got {type(raw).__name__}")
    return raw


def _show(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."
