"""Lenient typed access to JSON records written by pgactor, Patroni or a human.

Stored records are read by several tools and sometimes edited by hand
(``patronictl edit-config``, ``etcdctl put``), so numbers may arrive as strings
and booleans as ``"on"``.  These helpers accept every spelling that has one
obvious meaning and raise :class:`DcsBadData` naming the record and field for
anything else; the caller then treats the whole record as absent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from actors.leader_lock.contract import DcsBadData

JsonObject = dict[str, Any]

_TRUE = frozenset({"true", "on", "yes", "1", "t", "y"})
_FALSE = frozenset({"false", "off", "no", "0", "f", "n"})


def dumps(value: object) -> bytes:
    """Compact, key-sorted JSON: equal records encode to equal bytes."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def loads(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise DcsBadData(f"{what}: not JSON: {e}") from e


def load_object(raw: bytes, what: str) -> JsonObject:
    value = loads(raw, what)
    if not isinstance(value, dict):
        raise DcsBadData(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def get_int(obj: Mapping[str, Any], key: str, default: int, what: str) -> int:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise DcsBadData(f"{what}: {key} is a boolean, expected an integer")
    try:
        number = float(value) if isinstance(value, str) and "." in value else value
        if isinstance(number, float) and not number.is_integer():
            raise ValueError(value)
        return int(number)
    except (TypeError, ValueError, OverflowError) as e:
        raise DcsBadData(f"{what}: {key}={value!r} is not an integer") from e


def get_float(obj: Mapping[str, Any], key: str, default: float, what: str) -> float:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise DcsBadData(f"{what}: {key} is a boolean, expected a number")
    try:
        number = float(value)
    except (TypeError, ValueError) as e:
        raise DcsBadData(f"{what}: {key}={value!r} is not a number") from e
    if not math.isfinite(number):
        raise DcsBadData(f"{what}: {key}={value!r} is not finite")
    return number


def get_bool(obj: Mapping[str, Any], key: str, default: bool, what: str) -> bool:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise DcsBadData(f"{what}: {key}={value!r} is not a boolean")


def get_str(obj: Mapping[str, Any], key: str, what: str) -> str | None:
    """A string field; None when absent, null or empty."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DcsBadData(f"{what}: {key}={value!r} is not a string")
    return value


def get_object(obj: Mapping[str, Any], key: str, what: str) -> JsonObject:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DcsBadData(f"{what}: {key} is not a JSON object")
    return value


def number(value: float) -> int | float:
    """Write whole numbers as JSON integers (``30``, not ``30.0``), as Patroni does."""
    return int(value) if float(value).is_integer() else value
