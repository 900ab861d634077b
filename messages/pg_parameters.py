"""PostgreSQL parameter values, judged as the server parses them, against its own catalogue.

A :data:`Catalogue` maps each parameter (lower case) to its
:class:`ParameterSpec`.  It comes from one of two places:

- ``postgres --describe-config`` (:func:`parse_describe_config`), which needs
  no running server and gives every parameter's type, context and range --
  the range in the parameter's base unit, but neither that unit nor an enum's
  values (PostgreSQL 15 prints neither);
- ``pg_settings`` of a running server (:func:`spec_from_pg_settings`), which
  gives all of it.

:func:`check_value` follows guc.c (PostgreSQL 15): booleans by unique prefix
of on/off/true/false/yes/no or 1/0; integers in C's notation (``0x1F``, and a
leading 0 means octal) or as a decimal fraction, rounded; an optional unit
after the number, converted to the base unit (``8MB`` of work_mem is 8192
kB; a fraction is rounded to the next smaller unit); then the range.  Enums
compare case-insensitively, including the spellings PostgreSQL accepts but
does not list (:data:`HIDDEN_ENUM_VALUES`).  What the spec does not say (a
unit it does not know, enum values it lacks) is never refused here: this
module refuses only what it is sure the server would refuse.  Pure: no I/O.

It lives in messages/ because three layers judge values by it: the node's
config check (node/config/pg_server.py), the PostmasterActor before it writes
the cluster's parameters, and the REST API before it stores them; a
:class:`ParameterSpec` is a message, so a catalogue can travel between actors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Literal

from messages.base import Message, message

VarType = Literal["bool", "integer", "real", "string", "enum"]
INT_MIN, INT_MAX = -(2**31), 2**31 - 1

_DESCRIBED_TYPES: Mapping[str, VarType] = {
    "BOOLEAN": "bool",
    "INTEGER": "integer",
    "REAL": "real",
    "STRING": "string",
    "ENUM": "enum",
}
# Units as pg_settings names them, in their base quantity (bytes, milliseconds), and the
# units a value may be written in, largest first: guc.c's conversion tables.
_SETTINGS_TYPES: Mapping[str, VarType] = {t: t for t in ("bool", "integer", "real", "enum")}
_MEMORY_UNITS = {"TB": 1024.0**4, "GB": 1024.0**3, "MB": 1024.0**2, "kB": 1024.0, "B": 1.0}
_TIME_UNITS = {"d": 86_400_000.0, "h": 3_600_000.0, "min": 60_000.0, "s": 1000.0, "ms": 1.0}
_TIME_UNITS_WRITTEN = {**_TIME_UNITS, "us": 0.001}
_BASE_UNITS = {**_MEMORY_UNITS, "8kB": 8192.0, **_TIME_UNITS}
_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}
HIDDEN_ENUM_VALUES: Mapping[str, tuple[str, ...]] = {
    "wal_level": ("archive", "hot_standby"),
    "compute_query_id": ("regress",),
}
"""Accepted, but left out of pg_settings.enumvals (besides the boolean spellings that every
enum listing on and off takes, and "debug" beside debug2 for the message levels)."""


@message("pg.parameter_spec")
class ParameterSpec(Message):
    name: str
    vartype: str
    """One of :data:`VarType` (the wire codec knows no Literal): bool, integer, real,
    string or enum; anything else is judged as a string (not at all)."""
    context: str = "user"
    min_value: float | None = None
    max_value: float | None = None
    unit: str | None = None
    """pg_settings' unit (kB, 8kB, ms, ...); None: none, or not known."""
    unit_known: bool = True
    """False when the source does not say (``--describe-config``): then any unit may be."""
    enum_values: tuple[str, ...] | None = None
    """None: not known (``--describe-config``)."""


Catalogue = Mapping[str, ParameterSpec]
"""Every parameter a server knows, by lower-case name."""


def catalogue_of(specs: Iterable[ParameterSpec]) -> dict[str, ParameterSpec]:
    return {spec.name.lower(): spec for spec in specs}


# -- building a catalogue ----------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_describe_config(text: str) -> dict[str, ParameterSpec]:
    """The catalogue in ``postgres --describe-config``'s output (tab-separated, one per line).

    Columns: name, context, group, type, reset value, min, max, descriptions.
    """
    catalogue = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 7 or fields[3] not in _DESCRIBED_TYPES:
            continue
        vartype = _DESCRIBED_TYPES[fields[3]]
        numeric = vartype in ("integer", "real")
        spec = ParameterSpec(
            name=fields[0],
            vartype=vartype,
            context=fields[1],
            min_value=_number(fields[5]) if numeric else None,
            max_value=_number(fields[6]) if numeric else None,
            unit_known=False,
        )
        catalogue[spec.name.lower()] = spec
    return catalogue


def _text(row: Mapping[str, object], column: str) -> str | None:
    value = row.get(column)
    return None if value is None else str(value)


def spec_from_pg_settings(row: Mapping[str, object]) -> ParameterSpec:
    """A spec from a pg_settings row: name, vartype, context, unit, min_val, max_val, enumvals."""
    kind = _SETTINGS_TYPES.get(_text(row, "vartype") or "", "string")
    low, high, enumvals = _text(row, "min_val"), _text(row, "max_val"), row.get("enumvals")
    return ParameterSpec(
        name=_text(row, "name") or "",
        vartype=kind,
        context=_text(row, "context") or "user",
        min_value=_number(low) if low is not None else None,
        max_value=_number(high) if high is not None else None,
        unit=_text(row, "unit") or None,
        enum_values=(
            tuple(str(v) for v in enumvals)
            if kind == "enum" and isinstance(enumvals, list | tuple)
            else None
        ),
    )


# -- parsing a value as guc.c does ---------------------------------------------------------

_C_INTEGER = re.compile(r"\s*[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_C_FLOAT = re.compile(
    r"\s*[+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    r"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)",
    re.IGNORECASE,
)


def parse_bool(value: str) -> bool | None:
    """guc.c's parse_bool: a unique prefix of a word ('o' alone is not), or 1/0."""
    text = value.lower()
    if text in ("1", "0"):
        return text == "1"
    if not text or text == "o":
        return None
    matches = {word for word in _BOOL_WORDS if word.startswith(text)}
    return _BOOL_WORDS[matches.pop()] if len(matches) == 1 else None


def _c_float(text: str) -> float:
    body = text.strip().lower()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    if body.startswith("0x"):
        return sign * float.fromhex(body if "p" in body else body + "p0")
    return sign * float(body)


def _c_integer(text: str) -> int:
    """A C integer literal: 0x hexadecimal, a leading 0 octal, else decimal."""
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    digits = body.lstrip("+-")
    if digits[:2].lower() == "0x":
        return sign * int(digits[2:], 16)
    return sign * int(digits, 8 if len(digits) > 1 and digits[0] == "0" else 10)


def _leading_number(value: str, *, integer: bool) -> tuple[float, str] | None:
    """strtol (base 0) falling back to strtod, as parse_int does; the number and the rest."""
    if integer and (match := _C_INTEGER.match(value)):
        rest = value[match.end() :]
        whole = _c_integer(match.group(0))
        if rest[:1] not in (".", "e", "E") and abs(whole) < 2**63:
            return float(whole), rest
    match = _C_FLOAT.match(value)
    if match is None:
        return None
    number = _c_float(match.group(0))
    if math.isnan(number) or (math.isinf(number) and "inf" not in match.group(0).lower()):
        return None  # NaN is refused; an overflow (ERANGE) too
    return number, value[match.end() :]


def integer_value(value: str) -> int | None:
    """A unitless integer setting as the server reads it (C notation; a fraction is
    rounded); None when the text is not one."""
    parsed = _leading_number(value, integer=True)
    if parsed is None or parsed[1].strip() or not math.isfinite(parsed[0]):
        return None
    number = round(parsed[0])
    return number if INT_MIN <= number <= INT_MAX else None


def _written_units(base: str) -> Mapping[str, float]:
    """The units a value of this base unit may be written in, largest first."""
    return _MEMORY_UNITS if base in _MEMORY_UNITS or base == "8kB" else _TIME_UNITS_WRITTEN


def _to_base_unit(number: float, written: str, base: str) -> float | None:
    """convert_to_base_unit: a unit of the base's kind, then rounding to the next smaller."""
    table = _written_units(base)
    units = list(table)
    if written not in table:
        return None
    converted = number * table[written] / _BASE_UNITS[base]
    smaller = units.index(written) + 1
    if smaller < len(units):
        step = table[units[smaller]] / _BASE_UNITS[base]
        converted = round(converted / step) * step
    return converted


def _numeric(spec: ParameterSpec, value: str) -> float | str | None:
    """The value in the base unit; a refusal's text; None when it cannot be judged here."""
    parsed = _leading_number(value, integer=spec.vartype == "integer")
    if parsed is None:
        return f"{value!r} is not a number"
    number, rest = parsed
    unit = rest.strip()
    if unit:
        if not spec.unit_known:
            return None  # this catalogue does not say which units it takes
        converted = _to_base_unit(number, unit, spec.unit) if spec.unit else None
        if converted is None:
            return f"{value!r}: {_units_hint(spec)}"
        number = converted
    if spec.vartype == "integer":
        number = float(round(number))
        if not INT_MIN <= number <= INT_MAX:
            return f"{value!r} is outside the integer range"
    return number


def _units_hint(spec: ParameterSpec) -> str:
    if spec.unit is None:
        return "this parameter takes no unit"
    return "valid units are " + ", ".join(reversed(list(_written_units(spec.unit))))


def _shown(number: float | None) -> str:
    if number is None:
        return "?"
    value = float(number)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"


def _range(spec: ParameterSpec) -> str:
    kind = "an integer" if spec.vartype == "integer" else "a number"
    span = f"{kind} from {_shown(spec.min_value)} to {_shown(spec.max_value)}"
    if spec.unit:
        return f"{span} (in units of {spec.unit})"
    if not spec.unit_known:
        return f"{span} (in the parameter's base unit, if it has one)"
    return span


def allowed_enum_values(spec: ParameterSpec) -> frozenset[str]:
    """Every spelling the server takes for this enum, hidden ones included (lower case)."""
    listed = {v.lower() for v in spec.enum_values or ()}
    hidden = set(HIDDEN_ENUM_VALUES.get(spec.name.lower(), ()))
    if {"on", "off"} <= listed:
        hidden |= {"true", "false", "yes", "no", "1", "0"}
    if "debug2" in listed:
        hidden.add("debug")
    return frozenset(listed | hidden)


def _within(spec: ParameterSpec, number: float) -> bool:
    low, high = spec.min_value, spec.max_value
    return (low is None or number >= low) and (high is None or number <= high)


def _check_bool(spec: ParameterSpec, value: str) -> str | None:
    if parse_bool(value) is None:
        return f"{value!r} is not a boolean (on, off, true, false, yes, no, 1 or 0)"
    return None


def _check_number(spec: ParameterSpec, value: str) -> str | None:
    number = _numeric(spec, value)
    if isinstance(number, str):
        return f"{number}; expected {_range(spec)}"
    if number is not None and not _within(spec, number):
        return f"{value!r} is outside the valid range: expected {_range(spec)}"
    return None


def _check_enum(spec: ParameterSpec, value: str) -> str | None:
    if spec.enum_values is not None and value.lower() not in allowed_enum_values(spec):
        return f"{value!r} is not one of {', '.join(spec.enum_values)}"
    return None


_CHECKS = {
    "bool": _check_bool,
    "integer": _check_number,
    "real": _check_number,
    "enum": _check_enum,
}


def check_value(spec: ParameterSpec, value: str) -> str | None:
    """Why the server would refuse `value` for this parameter; None if it would not (or
    if this spec does not say enough to be sure).  Strings take anything."""
    if spec.context == "internal":
        return "cannot be set: it is fixed when PostgreSQL is built or initialised"
    check = _CHECKS.get(spec.vartype)
    return check(spec, value) if check is not None else None


def check_parameter(catalogue: Catalogue, name: str, value: str) -> str | None:
    """Why the server would refuse `name` = `value`; None when it would take it (or the
    catalogue cannot tell).  A name with a dot is an extension's and is never refused."""
    spec = catalogue.get(name.lower())
    if spec is None:
        return None if "." in name else "unknown parameter: PostgreSQL has no setting of that name"
    return check_value(spec, value)


def parameter_problems_in(
    path: str,
    values: Mapping[str, str],
    catalogue: Catalogue,
    server_refusals: Mapping[str, str] | None,
) -> list[str]:
    """One ``path.name: why`` per value the server would refuse.

    The server decides when it was asked (`server_refusals`: what it refused,
    in its own words); the catalogue then only explains, in terms of type and
    range, where it can.  Without the server's verdicts, the catalogue
    decides on what it is sure of.
    """
    problems = []
    for name, value in values.items():
        if server_refusals is None:
            why = check_parameter(catalogue, name, value)
        elif (theirs := server_refusals.get(name)) is not None:
            expected = _range_unless_given(catalogue, name, theirs)
            why = f"PostgreSQL refuses {value!r}: {theirs}{expected}"
        else:
            why = None
        if why is not None:
            problems.append(f"{path}.{name}: {why}")
    return problems


def _range_unless_given(catalogue: Catalogue, name: str, refusal: str) -> str:
    """The catalogue's range for a number the server refused without giving one."""
    spec = catalogue.get(name.lower())
    if spec is None or spec.vartype not in ("integer", "real") or "valid range" in refusal:
        return ""
    return f"; expected {_range(spec)}"
