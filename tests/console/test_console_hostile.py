"""The console port against clients without keys: no memory for them, few log lines about them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from console_support import start_node, status  # type: ignore[import-not-found]
from hostile_zmtp import (  # type: ignore[import-not-found]
    connect,
    greeting,
    hangs_up_after_announcing,
    huge_frame_sent,
    rss_bytes,
)
from loopback_support import free_port, wait_until  # type: ignore[import-not-found]

from actors.console.transport import open_console
from actors.runtime import zmq_io
from actors.runtime.registry import Registry
from messages.base import ActorName
from messages.config import ConsoleSettings, CurveKeys
from messages.console import AdminAction, AdminRequest
from node.ctl import client

MiB = 1 << 20
ATTACK_BYTES = 64 * MiB
RSS_BOUND = 16 * MiB


@pytest.fixture
def endpoint(keys: Path) -> Iterator[tuple[zmq_io.Endpoint, int]]:
    port = free_port()
    settings = ConsoleSettings(listen_port=port, curve=CurveKeys(keys_dir=str(keys)))
    opened = open_console(settings, Registry(), ActorName("console"))
    try:
        yield opened, port
    finally:
        opened.close()


def test_a_huge_frame_from_a_client_without_keys_costs_no_memory_and_admins_still_get_answers(
    keys: Path,
) -> None:
    node = start_node(keys)
    node.push(status())
    before = rss_bytes()
    with huge_frame_sent(node.port, send_up_to=ATTACK_BYTES) as sent:
        grown = rss_bytes() - before
    assert grown < RSS_BOUND, f"RSS grew by {grown / MiB:.1f} MiB"
    assert sent < ATTACK_BYTES, "the node read the whole frame instead of hanging up"
    answer = client.request(node.target(), AdminRequest(request_id="a", action=AdminAction.LIST))
    assert answer.ok


def test_the_console_takes_no_frame_over_its_limit_before_authentication(
    endpoint: tuple[zmq_io.Endpoint, int],
) -> None:
    _, port = endpoint
    limit = ConsoleSettings().max_frame_bytes
    assert hangs_up_after_announcing(port, limit + 1)


def test_a_client_cycling_wrong_keys_is_logged_once_per_address(
    endpoint: tuple[zmq_io.Endpoint, int], keys: Path, caplog: pytest.LogCaptureFixture
) -> None:
    opened, port = endpoint
    server_key = zmq_io.load_public_key(keys / "server.key")
    context = zmq.Context()
    attempts = 25
    clients = []  # held: a socket that is garbage-collected closes before it is refused
    try:
        with caplog.at_level(logging.WARNING, logger="actors.runtime.zmq_guard"):
            for i in range(attempts):
                public, secret = zmq.curve_keypair()
                dealer = context.socket(zmq.DEALER)
                dealer.linger = 0
                dealer.curve_publickey, dealer.curve_secretkey = public, secret
                dealer.curve_serverkey = server_key
                source = "127.0.0.2" if i == 0 else "127.0.0.1"
                dealer.connect(f"tcp://{source}:0;127.0.0.1:{port}")
                clients.append(dealer)
            assert opened.check is not None
            wait_until(lambda: opened.check.denied >= attempts, 10, "every key to be refused")
    finally:
        context.destroy(linger=0)
    lines = sorted(r.getMessage() for r in caplog.records if "unknown CURVE key" in r.getMessage())
    assert len(lines) == 2, lines
    assert "console: refused a peer at 127.0.0.1 " in lines[0]
    assert "console: refused a peer at 127.0.0.2 " in lines[1]


def test_a_plain_connection_to_the_console_is_logged(
    endpoint: tuple[zmq_io.Endpoint, int], caplog: pytest.LogCaptureFixture
) -> None:
    opened, port = endpoint
    [watch] = opened.refusals
    with caplog.at_level(logging.WARNING, logger="actors.runtime.zmq_guard"):
        with connect(port) as sock:
            wait_until(lambda: watch.peers, 5, "the accept to be seen")
            sock.sendall(greeting(b"NULL"))
            while sock.recv(4096):
                pass
        wait_until(lambda: watch.refused, 5, "the refusal to be seen")
    assert "console: refused a plain (not CURVE) connection from 127.0.0.1" in caplog.text
