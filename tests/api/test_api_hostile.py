"""Hostile input: whatever arrives, the answer is never a 500 and the actor lives on."""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

from api_harness import Api
from cluster_states import PRIMARY, REPLICA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.api.query import QueryError, parse_query
from actors.api.routes import ROUTES
from actors.api.switchover import Kind, Rejection, parse_request
from messages.admin import SwitchoverRequest

METHODS = st.sampled_from(
    ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT"]
) | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=8)
URL_CHARS = st.characters(min_codepoint=33, max_codepoint=126)
PATHS = st.one_of(
    st.sampled_from(sorted(ROUTES)),
    st.text(alphabet=URL_CHARS, max_size=60).map(lambda s: "/" + s),
    st.builds(
        lambda p, q: f"{p}?{q}",
        st.sampled_from(sorted(ROUTES)),
        st.text(alphabet=URL_CHARS, max_size=60),
    ),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
SWITCHOVER_BODIES: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={
        "leader": st.sampled_from(["pg1", "pg2", "", None, 7]) | st.text(max_size=300),
        "candidate": st.sampled_from(["pg1", "pg2", "pg3", None, []]) | st.text(max_size=10),
        "scheduled_at": st.sampled_from(
            ["2099-01-01T00:00:00+00:00", "2099-01-01", "9999-12-31T23:59:59-23:59", "", None, 1]
        )
        | st.text(max_size=40),
    },
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    SWITCHOVER_BODIES.map(lambda v: json.dumps(v).encode()),
)
HEADER_LINES = st.lists(
    st.sampled_from(
        [
            b"Content-Length: 0",
            b"Content-Length: 99999999999999999999",
            b"Content-Length: 70000",
            b"Content-Length: x",
            b"Transfer-Encoding: chunked",
            b"Authorization: Basic YWRtaW46czNjcmV0",
            b"Authorization: Basic \xff\xfe",
            b"Authorization: Bearer x",
            b"Connection: keep-alive",
            b"Expect: 100-continue",
            b"X-\xff: \x00",
        ]
    ),
    max_size=3,
)


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        # the server may close first (an oversized body): its answer is still there
        with contextlib.suppress(OSError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # EOF: a short body never waits for the timeout
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def test_hostile_requests_never_get_a_500_and_never_kill_the_actor(api: Api) -> None:
    api.push(REPLICA)
    seen: set[bytes] = set()

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(method=METHODS, path=PATHS, headers=HEADER_LINES, body=BODIES, sized=st.booleans())
    def hostile(method: str, path: str, headers: list[bytes], body: bytes, sized: bool) -> None:
        head = [f"{method} {path} HTTP/1.1".encode("latin-1", "replace"), b"Host: x", *headers]
        if sized and not any(h.startswith(b"Content-Length") for h in headers):
            head.append(b"Content-Length: %d" % len(body))
        answer = exchange(api.port, b"\r\n".join(head) + b"\r\n\r\n" + body)
        status_line = answer.split(b"\r\n", 1)[0]
        code = status_line[9:12]
        seen.add(code)
        assert status_line.startswith(b"HTTP/1.0 "), answer[:200]  # always an answer
        assert not code.startswith(b"5") or code in (b"501", b"503"), status_line

    hostile()
    assert api.ref.is_alive()
    api.push(PRIMARY)
    assert api.get("/primary").code == 200
    assert len(seen) > 3  # the fuzz reached more than one kind of answer


@given(st.text(max_size=200))
def test_any_query_string_parses_or_is_refused_with_a_reason(raw: str) -> None:
    try:
        parse_query(raw)
    except QueryError as exc:
        assert str(exc)


@given(body=BODIES, kind=st.sampled_from(Kind), status=st.sampled_from([PRIMARY, REPLICA]))
def test_any_body_becomes_a_request_or_a_4xx_rejection(
    body: bytes, kind: Kind, status: Any
) -> None:
    parsed = parse_request(body, kind=kind, status=status, now_epoch=1.7e9)
    assert isinstance(parsed, SwitchoverRequest) or (
        isinstance(parsed, Rejection) and parsed.code in (400, 412) and parsed.reason
    )
