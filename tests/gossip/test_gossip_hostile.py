"""The gossip port against clients without keys: no memory for them, few log lines about them.

The bound XPUB socket is what anyone on the network reaches.  A client with
no keys once announced a 4 GiB handshake frame and sent 668 MiB of it; the
agent grew from 55 MB to 740 MB.  And a client cycling wrong keys wrote
thousands of warnings a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from gossip_support import StartMember, node_status  # type: ignore[import-not-found]
from hostile_zmtp import (  # type: ignore[import-not-found]
    connect,
    greeting,
    hangs_up_after_announcing,
    huge_frame_sent,
    rss_bytes,
)
from loopback_support import free_port, wait_until  # type: ignore[import-not-found]

from actors.gossip.transport import PUB_MAX_INBOUND_BYTES, open_gossip
from actors.runtime import zmq_io
from actors.runtime.registry import Registry
from messages.base import ActorName
from messages.config import CurveKeys, GossipSettings

MiB = 1 << 20
ATTACK_BYTES = 64 * MiB
RSS_BOUND = 16 * MiB


@pytest.fixture
def endpoint(keys: Path) -> Iterator[tuple[zmq_io.Endpoint, int]]:
    port = free_port()
    settings = GossipSettings(
        listen_port=port, connect_address=f"127.0.0.1:{port}", curve=CurveKeys(keys_dir=str(keys))
    )
    opened, _ = open_gossip(settings, Registry(), ActorName("gossip"))
    try:
        yield opened, port
    finally:
        opened.close()


def test_a_huge_frame_from_a_client_without_keys_costs_no_memory_and_peers_still_talk(
    start_member: StartMember,
) -> None:
    ports = [free_port(), free_port()]
    one = start_member("node1", ports[0], [ports[1]])
    two = start_member("node2", ports[1], [ports[0]])
    for member in (one, two):
        member.registry.tell("gossip", node_status(member.name))
    wait_until(lambda: one.up() == {"node2"} and two.up() == {"node1"}, 5, "the members to meet")
    before = rss_bytes()
    with huge_frame_sent(ports[0], send_up_to=ATTACK_BYTES) as sent:
        grown = rss_bytes() - before
    assert grown < RSS_BOUND, f"RSS grew by {grown / MiB:.1f} MiB"
    assert sent < ATTACK_BYTES, "the node read the whole frame instead of hanging up"
    heard = two.stats().received
    wait_until(lambda: two.stats().received > heard + 1, 5, "node2 to keep hearing node1")
    assert one.up() == {"node2"} and two.up() == {"node1"}


def test_the_bound_socket_takes_no_frame_larger_than_a_handshake(
    endpoint: tuple[zmq_io.Endpoint, int],
) -> None:
    _, port = endpoint
    assert hangs_up_after_announcing(port, PUB_MAX_INBOUND_BYTES + 1)


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
            for _ in range(attempts):
                public, secret = zmq.curve_keypair()
                sub = context.socket(zmq.SUB)
                sub.linger = 0
                sub.curve_publickey, sub.curve_secretkey = public, secret
                sub.curve_serverkey = server_key
                sub.connect(f"tcp://127.0.0.1:{port}")
                clients.append(sub)
            assert opened.check is not None
            wait_until(lambda: opened.check.denied >= attempts, 10, "every key to be refused")
    finally:
        context.destroy(linger=0)
    lines = [r.getMessage() for r in caplog.records if "unknown CURVE key" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "refused a peer at 127.0.0.1" in lines[0]


def _plain_connection(opened: zmq_io.Endpoint, port: int, source: str) -> None:
    [watch] = opened.refusals
    refused = watch.refused
    with connect(port, source) as sock:
        # The address is read when the accept is seen: a client gone by then is logged
        # as "an address already gone".  This client waits for it, as a slow one would.
        wait_until(lambda: source in tuple(watch.peers.values()), 5, "the accept to be seen")
        sock.sendall(greeting(b"NULL"))
        deadline = time.monotonic() + 5
        while sock.recv(4096):  # the server's greeting, then its hang-up
            assert time.monotonic() < deadline, "the plain client was not dropped"
    wait_until(lambda: watch.refused > refused, 5, "the refusal to be seen")


def test_plain_connections_are_logged_once_per_address(
    endpoint: tuple[zmq_io.Endpoint, int], caplog: pytest.LogCaptureFixture
) -> None:
    opened, port = endpoint
    with caplog.at_level(logging.WARNING, logger="actors.runtime.zmq_guard"):
        for source in ["127.0.0.1"] * 15 + ["127.0.0.2"] * 5:
            _plain_connection(opened, port, source)
    lines = [r.getMessage() for r in caplog.records if "plain" in r.getMessage()]
    assert lines == [
        "gossip: refused a plain (not CURVE) connection from 127.0.0.1",
        "gossip: refused a plain (not CURVE) connection from 127.0.0.2",
    ]
