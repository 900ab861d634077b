"""HTTP-level contract: methods, unknown paths, bodies of bad shape, the JSON views."""

from __future__ import annotations

import concurrent.futures
import logging
import socket

import pytest
from api_harness import Api
from cluster_states import PRIMARY, SCHEDULED, SCOPE, SYNC_REPLICA

from actors.api import routes
from actors.api.handler import MAX_BODY_BYTES
from actors.api.responses import Response


def raw_request(api: Api, data: bytes) -> bytes:
    """Send bytes as they are, half-close, and read the whole answer."""
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_an_unknown_path_is_not_found(api: Api) -> None:
    for path in ("/nope", "/primary/", "/primaryx", "/PATRONI", "*", "/switchover/x"):
        assert api.get(path).code == 404, path


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/primary", "GET, HEAD, OPTIONS"),
        ("DELETE", "/patroni", "GET, HEAD, OPTIONS"),
        ("GET", "/switchover", "DELETE, OPTIONS, POST"),
        ("PUT", "/failover", "OPTIONS, POST"),
        ("PATCH", "/cluster", "GET, HEAD, OPTIONS"),
    ],
)
def test_a_wrong_method_is_not_allowed_and_says_what_is(
    api: Api, method: str, path: str, allow: str
) -> None:
    reply = api.request(method, path)
    assert (reply.code, reply.headers["Allow"]) == (405, allow)


def test_options_on_an_action_path_lists_its_methods(api: Api) -> None:
    reply = api.request("OPTIONS", "/switchover")
    assert (reply.code, reply.headers["Allow"], reply.body) == (204, "DELETE, OPTIONS, POST", b"")


def test_head_sends_the_headers_of_get_without_the_body(api: Api) -> None:
    api.push(PRIMARY)
    get, head = api.get("/patroni"), api.request("HEAD", "/patroni")
    assert head.code == get.code == 200
    assert head.body == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"] != "0"


def test_an_oversized_body_is_refused_with_413(api: Api) -> None:
    api.push(PRIMARY)
    reply = api.request("POST", "/switchover", b"x" * (MAX_BODY_BYTES + 1))
    assert reply.code == 413
    assert api.ha_received() == []


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: 12abc",
        b"Content-Length: -1",
        b"Content-Length: 5\r\nContent-Length: 6",
        b"Transfer-Encoding: chunked",
        b"Content-Length: 100",  # more than is sent
    ],
)
def test_a_body_of_bad_framing_is_a_bad_request(api: Api, head: bytes) -> None:
    api.push(PRIMARY)
    answer = raw_request(api, b"POST /switchover HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.0 400 ")


def test_a_garbage_request_line_is_a_bad_request(api: Api) -> None:
    assert raw_request(api, b"\x16\x03\x01\x00garbage\r\n\r\n").startswith(b"HTTP/1.0 400 ")


def test_patroni_shows_the_member_as_patroni_does(api: Api) -> None:
    api.push(PRIMARY)
    body = api.get("/patroni").json()
    assert body["state"] == "running"
    assert body["role"] == "primary"
    assert body["timeline"] == 2
    assert body["xlog"] == {"location": PRIMARY.wal_position}
    assert [r["application_name"] for r in body["replication"]] == ["pg2", "pg3"]
    assert body["replication"][0]["sync_state"] == "sync"
    assert body["patroni"]["scope"] == SCOPE
    assert body["patroni"]["name"] == "pg1"
    assert isinstance(body["dcs_last_seen"], int)
    assert "pending_restart" not in body and "pause" not in body


def test_patroni_shows_a_replica_positions_and_flags(api: Api) -> None:
    api.push(SYNC_REPLICA)
    body = api.get("/patroni").json()
    assert body["role"] == "replica"
    assert set(body["xlog"]) == {"received_location", "replayed_location"}
    assert body["replication_state"] == "streaming"
    assert body["sync_standby"] is True


def test_patroni_before_the_first_status_is_unavailable(api: Api) -> None:
    reply = api.get("/patroni")
    assert reply.code == 503
    assert reply.json()["state"] == "unknown"
    assert api.get("/cluster").code == 503


def test_cluster_lists_members_with_roles_and_lag(api: Api) -> None:
    api.push(SCHEDULED)
    body = api.get("/cluster").json()
    members = {m["name"]: m for m in body["members"]}
    assert [m["name"] for m in body["members"]] == ["pg1", "pg2", "pg3"]
    assert {n: m["role"] for n, m in members.items()} == {
        "pg1": "leader",
        "pg2": "sync_standby",
        "pg3": "replica",
    }
    assert "lag" not in members["pg1"]
    assert (members["pg2"]["lag"], members["pg3"]["lag"]) == (0, 64 * 1024 * 1024)
    assert members["pg1"]["host"] == "10.0.0.1" and members["pg1"]["port"] == 5432
    assert members["pg1"]["api_url"].endswith("/patroni")
    assert body["scope"] == SCOPE
    assert body["scheduled_switchover"] == {
        "at": "2030-01-01T00:00:00+00:00",
        "from": "pg1",
        "to": "pg2",
    }


def test_history_is_patroni_lines(api: Api) -> None:
    api.push(PRIMARY)
    assert api.get("/history").json() == [
        [1, 50331808, "no recovery target"],
        [2, 83886240, "switchover", "2024-05-01T10:00:00+00:00", "pg1"],
    ]


def test_answers_are_never_cached(api: Api) -> None:
    assert api.get("/health").headers["Cache-Control"] == "no-store"


def test_a_burst_of_concurrent_checks_is_answered_in_full(api: Api) -> None:
    api.push(PRIMARY)
    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        codes = list(pool.map(lambda _: api.get("/primary").code, range(300)))
    assert codes == [200] * 300


def test_a_bug_in_a_route_is_a_logged_500_and_the_server_keeps_serving(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(ctx: object, request: object) -> Response:
        raise RuntimeError("boom")

    monkeypatch.setattr(routes, "ROUTES", {**routes.ROUTES, "/broken": {"GET": broken}})
    with caplog.at_level(logging.ERROR, logger="actors.api.handler"):
        assert api.get("/broken").code == 500
    assert "unexpected error answering GET '/broken'" in caplog.text
    assert api.get("/liveness").code == 200
