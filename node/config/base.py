"""Pydantic building blocks shared by every section of the config schema.

Every section forbids unknown keys and validates strictly: YAML already gives
typed values, so a string where a number belongs (or a number where a
password belongs, which YAML may have mangled: ``012`` reads as 10) is an
error to report, not a value to coerce.  A key with an empty value counts as
unset, as in Patroni.  The notations of :mod:`node.config.values` are attached
here as validators.

Sections also describe their keys to the two readers that work from key paths
alone, the error renderer and the environment overrides: :meth:`Section.child`
says what a key holds, including keys that are aliases or that Patroni writes
inline (each custom replica method's section sits directly under
``postgresql``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PlainValidator, model_validator

from node.config.values import (
    HostPort,
    ListenAddress,
    ip_address_text,
    option_value,
    parameter_value,
    parse_host_port,
    parse_listen,
)


class Section(BaseModel):
    """A mapping of the config file: strict, closed, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    PATRONI_ONLY: ClassVar[Mapping[str, str]] = {}
    """Patroni keys this section does not support, with what to do instead."""

    INLINE: ClassVar[str | None] = None
    """A mapping field whose entries the file writes directly in this section."""

    UNKNOWN_HINT: ClassVar[str] = ""
    """Said of an unknown key that resembles no valid one."""

    KEEP_EMPTY: ClassVar[frozenset[str]] = frozenset()
    """Keys whose empty value means an empty section, not an unset key."""

    @model_validator(mode="before")
    @classmethod
    def _empty_means_unset(cls, data: object) -> object:
        if not isinstance(data, Mapping):
            return data
        return {
            key: {} if value is None else value
            for key, value in data.items()
            if value is not None or key in cls.KEEP_EMPTY
        }

    @classmethod
    def field_named(cls, key: str) -> str | None:
        """The field a key of the file sets, by its name or an alias."""
        for name, field in cls.model_fields.items():
            if key == name or key in _aliases(field.validation_alias):
                return name
        return None

    @classmethod
    def keys(cls) -> list[str]:
        """Every key this section accepts as written (names and aliases)."""
        names: list[str] = []
        for name, field in cls.model_fields.items():
            if name != cls.INLINE:
                names.append(name)
                names.extend(a for a in _aliases(field.validation_alias) if a != name)
        return names

    @classmethod
    def child(cls, key: str) -> Any | None:
        """The type a key of this section holds, None for an unknown key."""
        name = cls.field_named(key)
        if name is not None:
            return cls.model_fields[name].annotation
        if cls.INLINE is not None:
            return value_type(cls.model_fields[cls.INLINE].annotation)
        return None


def _aliases(alias: object) -> list[str]:
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [alias] if isinstance(alias, str) else []


def strip_type(annotation: Any) -> Any:
    """The type under ``Annotated[...]`` and ``X | None``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (types.UnionType, typing.Union):
            rest = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def section_type(annotation: Any) -> type[Section] | None:
    bare = strip_type(annotation)
    if isinstance(bare, type) and issubclass(bare, Section):
        return bare
    return None


def value_type(annotation: Any) -> Any | None:
    """The item type of a mapping or list type, None for anything else."""
    bare = strip_type(annotation)
    origin = typing.get_origin(bare)
    if origin is dict:
        return typing.get_args(bare)[1]
    if origin is list:
        return typing.get_args(bare)[0]
    return None


def is_text(annotation: Any) -> bool:
    """Whether a value of this type is written as a string (an address, a name, a mode)."""
    bare = strip_type(annotation)
    if typing.get_origin(bare) is typing.Literal:
        return all(isinstance(arg, str) for arg in typing.get_args(bare))
    return bare in (str, HostPort, ListenAddress)


Text = Annotated[str, Field(min_length=1)]
"""A non-empty string."""

Identifier = Annotated[str, Field(min_length=1, pattern=r"^[^/\s]+$")]
"""A scope or member name: it becomes part of DCS keys, so no slash or whitespace."""

ParameterValue = Annotated[str, PlainValidator(parameter_value)]
"""A PostgreSQL setting written as any YAML scalar."""

OptionValue = Annotated[str, PlainValidator(option_value)]
"""A command-line option value written as any YAML scalar."""

HostPortField = Annotated[HostPort, PlainValidator(parse_host_port)]
ListenField = Annotated[ListenAddress, PlainValidator(parse_listen)]
IpAddressField = Annotated[str, PlainValidator(ip_address_text)]
