"""Checking decoded msgpack against the messages' type hints, compiled once per type.

The codec's decoder used to walk each message's type hints for every value it
decoded and format the path of every field on the way, in case of an error:
most of a decode's time.  Here each type hint becomes a converter function the
first time it is met, and a path is put together only when something is
wrong: :class:`Invalid` collects its segments on the way out and renders
``message<cluster_view>.members[2].role: ...``.  The rules are the codec's
(see codec.py): exact scalar types (an int is accepted for a float), text map
keys, enums by value, nested messages in their own envelope.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from messages.base import REGISTRY, Message

Convert = Callable[[Any], Any]


class Invalid(Exception):
    """A value that does not fit; `where` grows outwards as the error unwinds."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text
        self.where: list[str] = []

    def at(self, segment: str) -> Invalid:
        self.where.append(segment)
        return self

    def render(self, root: str = "message") -> str:
        return f"{root}{''.join(reversed(self.where))}: {self.text}"


def envelope(raw: Any, allowed: tuple[type[Message], ...] | None = None) -> Message:
    """A message from its envelope ``{"t": tag, "v": version, "f": fields}``."""
    if not isinstance(raw, dict) or raw.keys() != {"t", "v", "f"}:
        raise Invalid("expected a message envelope with keys t, v, f")
    tag, version, fields = raw["t"], raw["v"], raw["f"]
    if not isinstance(tag, str) or tag not in REGISTRY:
        raise Invalid(f"unknown message type {tag!r}")
    cls = REGISTRY[tag]
    if allowed is not None and not issubclass(cls, allowed):
        names = ", ".join(a.TAG or a.__name__ for a in allowed)
        raise Invalid(f"message type {tag!r} not allowed here (expected {names})")
    if type(version) is not int or version != cls.VERSION:
        raise Invalid(f"{tag} schema version {version!r} unknown (have {cls.VERSION})")
    if not isinstance(fields, dict):
        raise Invalid(f"fields of {tag} must be a map")
    try:
        return _build(cls, fields)
    except Invalid as bad:
        raise bad.at(f"<{tag}>") from None


_Plan = tuple[frozenset[str], tuple[tuple[str, Convert, bool], ...]]
_PLANS: dict[type[Message], _Plan] = {}


def _plan(cls: type[Message]) -> _Plan:
    """Each field's name, converter and whether it must be present."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        steps = tuple(
            (
                f.name,
                converter(hints[f.name]),
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        )
        plan = _PLANS[cls] = (frozenset(name for name, _, _ in steps), steps)
    return plan


def _build(cls: type[Message], fields: dict[str, Any]) -> Message:
    names, steps = _plan(cls)
    unknown = fields.keys() - names
    if unknown:
        raise Invalid(f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    kwargs: dict[str, Any] = {}
    for name, convert, required in steps:
        if name in fields:
            try:
                kwargs[name] = convert(fields[name])
            except Invalid as bad:
                raise bad.at(f".{name}") from None
        elif required:
            raise Invalid(f"missing field {name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # __post_init__ checks
        raise Invalid(str(exc)) from None


_CONVERTERS: dict[Any, Convert] = {}


def converter(hint: Any) -> Convert:
    """The converter for one type hint, made the first time the hint is met."""
    try:
        return _CONVERTERS[hint]
    except KeyError:
        made = _CONVERTERS[hint] = _compile(hint)
        return made


def _compile(hint: Any) -> Convert:  # noqa: PLR0911 - one branch per kind
    while hasattr(hint, "__supertype__"):  # NewType: its base type decides
        hint = hint.__supertype__
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(hint))
    if origin is tuple:
        return _tuple(typing.get_args(hint))
    if origin is frozenset:
        return _collection(frozenset, converter(typing.get_args(hint)[0]))
    if origin in (dict, Mapping):
        key_hint, value_hint = typing.get_args(hint)
        return _mapping(converter(key_hint), converter(value_hint))
    if isinstance(hint, type) and issubclass(hint, Message):
        allowed = (hint,)
        return lambda raw: envelope(raw, allowed)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum(hint)
    return _scalar(hint)


def _union(options: tuple[Any, ...]) -> Convert:
    nullable = type(None) in options
    others = tuple(o for o in options if o is not type(None))
    if all(isinstance(o, type) and issubclass(o, Message) for o in others):
        allowed = others

        def one_of_messages(raw: Any) -> Any:
            return None if raw is None and nullable else envelope(raw, allowed)

        return one_of_messages
    convs = tuple(converter(o) for o in others)

    def one_of(raw: Any) -> Any:
        if raw is None and nullable:
            return None
        errors = []
        for convert in convs:
            try:
                return convert(raw)
            except Invalid as bad:
                errors.append(bad.render(root="").lstrip(": "))
        raise Invalid(f"value {_show(raw)} matches no allowed type ({'; '.join(errors)})")

    return one_of


def _tuple(args: tuple[Any, ...]) -> Convert:
    if len(args) == 2 and args[1] is Ellipsis:
        return _collection(tuple, converter(args[0]))
    convs = tuple(converter(a) for a in args)

    def fixed(raw: Any) -> tuple[Any, ...]:
        items = _exactly(raw, list)
        if len(items) != len(convs):
            raise Invalid(f"expected {len(convs)} items, got {len(items)}")
        return tuple(_item(c, v, i) for i, (c, v) in enumerate(zip(convs, items, strict=True)))

    return fixed


def _collection(kind: type, convert: Convert) -> Convert:
    def many(raw: Any) -> Any:
        return kind(_item(convert, v, i) for i, v in enumerate(_exactly(raw, list)))

    return many


def _item(convert: Convert, value: Any, index: int) -> Any:
    try:
        return convert(value)
    except Invalid as bad:
        raise bad.at(f"[{index}]") from None


def _mapping(key: Convert, value: Convert) -> Convert:
    def mapping(raw: Any) -> dict[Any, Any]:
        out = {}
        for k, v in _exactly(raw, dict).items():
            try:
                out[key(k)] = value(v)
            except Invalid as bad:
                raise bad.at(f".{k}") from None
        return out

    return mapping


def _enum(kind: type[enum.Enum]) -> Convert:
    def member(raw: Any) -> enum.Enum:
        try:
            return kind(raw)
        except (ValueError, TypeError):
            allowed = ", ".join(repr(m.value) for m in kind)
            raise Invalid(f"{_show(raw)} is not one of {allowed}") from None

    return member


def _scalar(hint: Any) -> Convert:
    if hint is Any:

        def untyped(raw: Any) -> Any:
            raise Invalid("untyped fields are not decodable")

        return untyped
    if hint is float:
        return lambda raw: float(raw) if type(raw) is int else _exactly(raw, float)
    if not isinstance(hint, type):
        name = str(hint)

        def unknown(raw: Any) -> Any:
            raise Invalid(f"expected {name}, got {type(raw).__name__}")

        return unknown
    return lambda raw: _exactly(raw, hint)


def _exactly(raw: Any, kind: type) -> Any:
    if type(raw) is not kind:
        raise Invalid(f"expected {kind.__name__}, got {type(raw).__name__}")
    return raw


def _show(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."
