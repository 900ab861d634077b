"""The cluster's dynamic config as Patroni's ``/config`` JSON, and back, validated.

``GET /config`` shows the config in the shape Patroni stores and patronictl
edits (``ttl``, ``loop_wait``, ..., ``postgresql: {use_slots, parameters}``;
seconds without pgactor's ``_s`` suffix).  ``PATCH`` applies a JSON merge
patch (RFC 7386: ``null`` deletes a key, so it falls back to its default) to
that shape, ``PUT`` replaces it; either way the result is validated here as
strictly as the node validates ``bootstrap.dcs`` in its file -- types are
not coerced, ranges and the lease rule (``loop_wait + 2 * retry_timeout <=
ttl``, safety rule 1) are checked, and every problem is reported at once.

The node's own converter lives in ``node.config``, which an actor may not
import; the two are kept in step by tests of the same cases.

``postgresql.parameters`` values are strings of any shape here; what a
value must look like is the server's to say.  :func:`parameter_problems`
judges them against a catalogue of the server's parameters (types, ranges,
enum values: messages/pg_parameters.py), which the caller gets from the
PostmasterActor.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from messages.config import DynamicConfig, SyncMode
from messages.patroni_json import dynamic_config_to_json, seconds
from messages.pg_parameters import Catalogue, check_parameter

Json = dict[str, Any]

MAX_INT = 2**63 - 1
"""The largest integer a message can carry (msgpack's signed 64 bits)."""
MAX_SECONDS = 10**9
MAX_PATCH_DEPTH = 8
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,199}", re.ASCII)
_BAD_VALUE_CHARS = re.compile(r"[\x00-\x1f\x7f]")
MAX_VALUE_CHARS = 4096

_SYNC_FROM_TEXT = {"off": SyncMode.OFF, "false": SyncMode.OFF, "on": SyncMode.ON}
_SYNC_FROM_TEXT |= {"true": SyncMode.ON, "quorum": SyncMode.QUORUM}
_ALIASES = {"master_start_timeout": "primary_start_timeout"}
_ALIASES |= {"master_stop_timeout": "primary_stop_timeout"}
_UNSUPPORTED = "is a Patroni setting pgactor does not support"
_PATRONI_ONLY = dict.fromkeys(
    ("standby_cluster", "slots", "ignore_slots", "maximum_lag_on_syncnode",
     "max_timelines_history", "member_slots_ttl"),
    _UNSUPPORTED,
)  # fmt: skip
_PER_NODE = "is set per node in pgactor (the postgresql section of each node's file)"
_PG_PATRONI_ONLY = {
    **dict.fromkeys(
        ("use_pg_rewind", "pg_hba", "remove_data_directory_on_rewind_failure"), _PER_NODE
    ),
    **dict.fromkeys(
        ("recovery_conf", "pg_ident", "remove_data_directory_on_diverged_timelines"), _UNSUPPORTED
    ),
}


class ConfigInvalid(ValueError):
    """A config that cannot be stored; `problems` names every key that is wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def config_to_json(config: DynamicConfig) -> Json:
    """Patroni's JSON shape of the config, as ``GET /config`` shows it."""
    return dynamic_config_to_json(config)


# -- merge patch ---------------------------------------------------------------------


def merge_patch(target: Any, patch: Any, depth: int = 0) -> Any:
    """RFC 7386: objects merge key by key, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    if depth >= MAX_PATCH_DEPTH:
        raise ConfigInvalid([f"patch nested deeper than {MAX_PATCH_DEPTH} levels"])
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value, depth + 1)
    return merged


def with_aliases_renamed(data: Json) -> Json:
    """Patroni's former names (``master_start_timeout``) under their current ones."""
    renamed = dict(data)
    for old, new in _ALIASES.items():
        if old in renamed:
            if new in renamed:
                raise ConfigInvalid([f"{old}: give {new} only (it replaced {old})"])
            renamed[new] = renamed.pop(old)
    return renamed


# -- validation ------------------------------------------------------------------------


def _seconds(minimum: float, *, above: bool = False) -> Callable[[object], float]:
    def parse(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number of seconds")
        if not math.isfinite(value) or value > MAX_SECONDS:
            raise ValueError(f"must be at most {MAX_SECONDS}")
        if value < minimum or (above and value == minimum):
            raise ValueError(f"must be {'greater than' if above else 'at least'} {minimum:g}")
        return float(value)

    return parse


def _count(minimum: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if not minimum <= value <= MAX_INT:
            raise ValueError(f"must be between {minimum} and {MAX_INT}")
        return value

    return parse


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _sync_mode(value: object) -> SyncMode:
    if isinstance(value, bool):
        return SyncMode.ON if value else SyncMode.OFF
    mode = _SYNC_FROM_TEXT.get(value.lower()) if isinstance(value, str) else None
    if mode is None:
        raise ValueError("must be false, true or quorum")
    return mode


_FIELDS: Mapping[str, tuple[str, Callable[[object], Any]]] = {
    "ttl": ("ttl_s", _seconds(0, above=True)),
    "loop_wait": ("loop_wait_s", _seconds(1)),
    "retry_timeout": ("retry_timeout_s", _seconds(1)),
    "maximum_lag_on_failover": ("maximum_lag_on_failover", _count(0)),
    "primary_start_timeout": ("primary_start_timeout_s", _seconds(0)),
    "primary_stop_timeout": ("primary_stop_timeout_s", _seconds(0)),
    "synchronous_mode": ("synchronous_mode", _sync_mode),
    "synchronous_mode_strict": ("synchronous_mode_strict", _flag),
    "synchronous_node_count": ("synchronous_node_count", _count(1)),
    "failsafe_mode": ("failsafe_mode", _flag),
    "pause": ("pause", _flag),
    "check_timeline": ("check_timeline", _flag),
}
"""JSON key -> (DynamicConfig field, parser raising ValueError with the reason)."""


def _parameter_value(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float) and math.isfinite(value) and abs(value) <= MAX_INT:
        return str(value)
    if not isinstance(value, str):
        raise ValueError("must be a string, a number or a boolean")
    if len(value) > MAX_VALUE_CHARS or _BAD_VALUE_CHARS.search(value):
        raise ValueError(f"must be at most {MAX_VALUE_CHARS} characters, no control characters")
    return value


def _parameters(raw: object, problems: list[str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.append("postgresql.parameters: must be an object")
        return {}
    parameters = {}
    for name, value in raw.items():
        if not _PARAMETER_NAME.fullmatch(name):
            problems.append(f"postgresql.parameters: {name[:60]!r} is not a setting name")
        elif value is not None:  # null: not set (as a merge patch deletes it)
            try:
                parameters[name] = _parameter_value(value)
            except ValueError as exc:
                problems.append(f"postgresql.parameters.{name}: {exc}")
    return parameters


def _postgresql(raw: object, problems: list[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.append("postgresql: must be an object")
        return {}
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "use_slots":
            try:
                fields["use_slots"] = _flag(value)
            except ValueError as exc:
                problems.append(f"postgresql.use_slots: {exc}")
        elif key == "parameters":
            fields["postgresql_parameters"] = _parameters(value, problems)
        else:
            problems.append(f"postgresql.{key[:60]}: {_PG_PATRONI_ONLY.get(key, 'unknown key')}")
    return fields


def _top_level(data: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in data.items():
        if key == "postgresql":
            fields.update(_postgresql(value, problems))
        elif key not in _FIELDS:
            problems.append(f"{key[:60]}: {_PATRONI_ONLY.get(key, 'unknown key')}")
        elif value is not None:
            attr, parse = _FIELDS[key]
            try:
                fields[attr] = parse(value)
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
    return fields


def config_from_json(data: Mapping[str, Any]) -> DynamicConfig:
    """The config a Patroni-shaped object describes; ConfigInvalid listing every problem."""
    problems: list[str] = []
    config = DynamicConfig(**_top_level(with_aliases_renamed(dict(data)), problems))
    worst = config.loop_wait_s + 2 * config.retry_timeout_s
    if not problems and worst > config.ttl_s:
        problems.append(
            "loop_wait + 2 * retry_timeout must not exceed ttl "
            f"({seconds(config.loop_wait_s)} + 2 * {seconds(config.retry_timeout_s)}"
            f" = {seconds(worst)} > {seconds(config.ttl_s)})"
        )
    if problems:
        raise ConfigInvalid(problems)
    return config


def parameter_problems(parameters: Mapping[str, str], catalogue: Catalogue) -> list[str]:
    """``postgresql.parameters.NAME: why`` for each value the server would refuse (by the
    name and range its catalogue gives), in name order."""
    problems = []
    for name, value in sorted(parameters.items()):
        why = check_parameter(catalogue, name, value)
        if why is not None:
            problems.append(f"postgresql.parameters.{name}: {why}")
    return problems
