"""Config problems as an operator reads them: a key path, then what is wrong.

Validation collects every problem before reporting, so one run of
``pgactor config validate`` shows them all.  Paths are the ones the operator
wrote (an alias stays an alias, a replica method's section sits under
``postgresql``), an unknown key comes with the nearest valid name, and a value
is shown only where it cannot be a secret.  As a last guard every known
password is blanked out of the final text.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from node.config.base import Section, section_type, value_type

Loc = tuple[str | int, ...]

_TYPE_MESSAGES = {
    "missing": "required",
    "bool_type": "expected true or false",
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "finite_number": "expected a finite number",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "string_too_short": "must not be empty",
    "too_short": "must not be empty",
    "string_pattern_mismatch": "must not contain '/' or whitespace",
}
_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
SECRET_KEYS = frozenset({"password", "curve_secret_key"})
"""Keys whose values are secrets, blanked out of every problem's text."""


class ConfigError(ValueError):
    """A configuration that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


def format_path(path: Sequence[str | int]) -> str:
    text = ""
    for segment in path:
        text += f"[{segment}]" if isinstance(segment, int) else f".{segment}"
    return text.lstrip(".") or "(top level)"


def closest(key: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def nearest(key: str, candidates: Iterable[str]) -> str:
    """`` (did you mean X?)`` when a candidate is close to ``key``, else nothing."""
    match = closest(key, candidates)
    return f" (did you mean {match}?)" if match else ""


def _written(root: type[Section], loc: Loc) -> tuple[list[str | int], type[Section] | None]:
    """The path as written in the file, and the section holding its last key."""
    written: list[str | int] = []
    current: Any = root
    parent: type[Section] | None = root
    for segment in loc:
        section = section_type(current)
        parent = section
        if section is not None and segment == section.INLINE:
            current = section.model_fields[segment].annotation
            continue
        written.append(segment)
        if section is not None and isinstance(segment, str):
            current = section.child(segment)
        else:
            current = value_type(current)
    return written, parent


def _number(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _unknown_key(key: str | int, section: type[Section] | None) -> str:
    if section is None or not isinstance(key, str):
        return "unknown key"
    if key in section.PATRONI_ONLY:
        return section.PATRONI_ONLY[key]
    name = section.field_named(key)
    if name is not None:
        return f"repeats {name} under another name; keep one of them"
    hint = nearest(key, section.keys()) or section.UNKNOWN_HINT
    return "unknown key" + hint


def _describe(error: ErrorDetails, section: type[Section] | None) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_key(error["loc"][-1], section)
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "string_type":
        quoted = isinstance(error["input"], bool | int | float)
        return "expected a string" + (" (quote the value)" if quoted else "")
    if kind == "literal_error":
        return f"expected {ctx.get('expected', 'one of the listed values')}"
    bound = next((op for op in _BOUNDS if op in ctx), None)
    if bound is not None:
        # Bounds apply to numbers only, never to secrets, so the value may be shown.
        return f"must be {_BOUNDS[bound]} {_number(ctx[bound])} (got {_number(error['input'])})"
    return _TYPE_MESSAGES.get(kind, error["msg"])


def render_errors(
    exc: ValidationError,
    root: type[Section],
    origins: Mapping[tuple[str, ...], str] | None = None,
) -> list[str]:
    """One line per validation error; ``origins`` names the variable that set a key."""
    problems = []
    for error in exc.errors(include_url=False):
        written, section = _written(root, tuple(error["loc"]))
        text = f"{format_path(written)}: {_describe(error, section)}"
        origin = _origin(tuple(str(s) for s in written), origins or {})
        problems.append(text + (f" (set by {origin})" if origin else ""))
    return problems


def _origin(path: tuple[str, ...], origins: Mapping[tuple[str, ...], str]) -> str | None:
    for length in range(len(path), 0, -1):
        if path[:length] in origins:
            return origins[path[:length]]
    return None


def secrets_in(data: object) -> set[str]:
    """Every password (and CURVE secret key) in a raw config tree, to blank out of error text."""
    found: set[str] = set()
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key in SECRET_KEYS and isinstance(value, str | int) and str(value):
                found.add(str(value))
            found |= secrets_in(value)
    elif isinstance(data, list):
        for item in data:
            found |= secrets_in(item)
    return found


def redact(problems: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """Blank out every secret that stands as its own token in a problem's text.

    Token boundaries keep a short password (``x``) from mangling words that
    merely contain it, while a password inside an echoed address is still caught.
    """
    # Longest first, so a password that contains another is blanked whole.
    ordered = sorted(secrets, key=len, reverse=True)
    patterns = [re.compile(rf"(?<![A-Za-z0-9_]){re.escape(s)}(?![A-Za-z0-9_])") for s in ordered]
    cleaned = []
    for problem in problems:
        for pattern in patterns:
            problem = pattern.sub("***", problem)
        cleaned.append(problem)
    return cleaned
