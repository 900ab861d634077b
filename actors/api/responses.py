"""What a route hands back to the HTTP layer: a status, a body, a few headers.

Routes build :class:`Response` values instead of writing to a socket, so they
can be tested without one and the HTTP layer stays the only place that does
I/O.  Health and status answers are JSON (Patroni's shapes); action answers
and errors are short plain text, as Patroni writes them and patronictl prints
them.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """The parts of an HTTP request a route may look at (headers stay in the HTTP layer)."""

    method: str
    path: str
    query: str
    body: bytes = b""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    code: int
    body: bytes = b""
    content_type: str = TEXT
    headers: tuple[tuple[str, str], ...] = ()


def json_response(code: int, data: Any) -> Response:
    # default=str: a stray non-JSON value renders as text rather than failing the request
    body = json.dumps(data, separators=(",", ":"), default=str).encode()
    return Response(code=code, body=body, content_type=JSON)


def text_response(code: int, text: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    body = text.encode("utf-8", errors="replace") + b"\n"
    return Response(code=code, body=body, content_type=TEXT, headers=headers)
