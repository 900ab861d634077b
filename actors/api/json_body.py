"""Reading an action's JSON body, treating it as hostile.

A body becomes a JSON object or a 400 with the reason.  Beyond "is it
JSON", two things json.loads lets through would fail later, far from the
request, as a 500: ``NaN``/``Infinity`` (not JSON, and not a number any
setting can take) and lone UTF-16 surrogates from ``\\ud800`` escapes (text
that cannot be encoded to UTF-8, so not onto the wire to another actor).
"""

from __future__ import annotations

import json
from typing import Any

from actors.api.responses import Response, text_response

BAD_REQUEST = 400


class _NotJson(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


def parse_object(body: bytes, *, optional: bool = False) -> dict[str, Any] | Response:
    """The body as a JSON object; an empty body is ``{}`` when `optional`."""
    if optional and not body.strip():
        return {}
    try:
        data = json.loads(body, parse_constant=_no_constants)
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return text_response(BAD_REQUEST, "body has text that is not valid Unicode")
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return text_response(BAD_REQUEST, f"body is not valid JSON: {str(exc)[:120]}")
    if not isinstance(data, dict):
        return text_response(BAD_REQUEST, "body must be a JSON object")
    return data


def unknown_keys(data: dict[str, Any], known: frozenset[str]) -> str | None:
    """The refusal text naming up to five unknown keys, or None when all are known."""
    unknown = sorted(set(data) - known)
    if not unknown:
        return None
    return "unknown field(s): " + ", ".join(repr(key[:40]) for key in unknown[:5])
