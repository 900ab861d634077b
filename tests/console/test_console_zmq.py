"""The ConsoleActor over real ZeroMQ sockets on loopback, with CURVE keys made in a temp dir."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import zmq
from console_support import CONSOLE, start_node, status  # type: ignore[import-not-found]
from loopback_support import free_port, wait_until  # type: ignore[import-not-found]

from actors.console.transport import open_console
from actors.runtime import zmq_io
from messages.admin import NodeStatus, RestartRequest, SwitchoverRequest
from messages.base import ActorName, MemberName
from messages.cluster import Role
from messages.codec import decode, encode
from messages.config import ConsoleSettings, CurveKeys, DynamicConfig
from messages.console import AdminAction, AdminRequest, AdminResponse, FeedEvent
from messages.dcs import ConfigOutcome, FailoverResult, SetConfig
from messages.ha import Reason
from node.ctl import client
from node.ctl.client import CtlError


def request(node: Any, action: AdminAction, rid: str = "", **fields: Any) -> AdminResponse:
    req = AdminRequest(request_id=rid or client.new_request_id(), action=action, **fields)
    return client.request(node.target(), req)


def test_list_is_answered_with_the_latest_status(keys: Path) -> None:
    node = start_node(keys)
    node.push(status())
    answer = request(node, AdminAction.LIST)
    assert answer.ok and answer.member == "node1"
    assert isinstance(answer.data, NodeStatus) and len(answer.data.cluster.members) == 3


def test_a_switchover_goes_to_the_ha_actor_and_a_retry_is_not_performed_twice(
    keys: Path,
) -> None:
    node = start_node(keys)
    node.push(status())
    first = request(node, AdminAction.SWITCHOVER, rid="once", candidate=MemberName("node2"))
    again = request(node, AdminAction.SWITCHOVER, rid="once", candidate=MemberName("node2"))
    assert first == again and first.ok and first.detail == "done"
    assert node.switchovers() == [("node1", "node2")]
    [asked] = node.ha_received()
    assert isinstance(asked, SwitchoverRequest) and asked.reply_to == CONSOLE and asked.request_id
    assert node.stats().cached_replies == 1


def test_a_switchover_is_confirmed_only_once_the_dcs_stored_it(keys: Path) -> None:
    """The HA core accepting a request is not its being stored: a scheduled switchover
    accepted while etcd was already down was once confirmed, and then stored nowhere."""
    unanswered = FailoverResult(
        request_id="", outcome=ConfigOutcome.UNKNOWN, detail="the DCS did not answer"
    )
    node = start_node(keys, stored=unanswered)
    node.push(status())
    answer = request(node, AdminAction.SWITCHOVER, candidate=MemberName("node2"))
    assert not answer.ok and answer.detail == "the DCS did not answer"


def test_an_unauthorised_client_key_is_refused(keys: Path) -> None:
    node = start_node(keys)
    node.push(status())
    began = time.monotonic()
    with pytest.raises(CtlError, match="refused our key") as refused:
        client.request(
            node.target(client="intruder"), AdminRequest(request_id="x", action=AdminAction.LIST)
        )
    assert refused.value.exit_code == client.EXIT_UNREACHABLE
    assert time.monotonic() - began < 2, "a refusal is told at once, not after a timeout"
    assert node.stats().requests == 0


def test_a_client_expecting_another_server_key_never_gets_through(
    keys: Path, tmp_path: Path
) -> None:
    node = start_node(keys)
    other = zmq_io.generate_keys(tmp_path / "other")
    target = node.target()
    target = type(target)(
        addresses=target.addresses,
        server_key=zmq_io.load_public_key(other / "server.key"),
        client=target.client,
        timeout_s=1.0,
        source="test",
    )
    with pytest.raises(CtlError):
        client.request(target, AdminRequest(request_id="x", action=AdminAction.LIST), rounds=1)
    assert node.stats().requests == 0


def test_a_node_that_does_not_answer_in_time_is_a_clear_error(keys: Path) -> None:
    node = start_node(keys, reply=None)  # the HA actor hangs
    node.push(status())
    target = node.target(timeout_s=0.5)
    req = AdminRequest(request_id="slow", action=AdminAction.SWITCHOVER)
    began = time.monotonic()
    answer = client.request(target, req)  # the console's own ask times out after 1 s
    assert not answer.ok and "did not answer" in answer.detail
    assert time.monotonic() - began < 5
    absent = type(target)(addresses=("127.0.0.1:1",), server_key=target.server_key,
                          client=target.client, timeout_s=0.5, source="test")  # fmt: skip
    with pytest.raises(CtlError, match=r"127\.0\.0\.1:1 is not listening"):
        client.request(absent, req)


def test_garbage_from_an_authorised_client_is_dropped_and_the_console_lives_on(
    keys: Path,
) -> None:
    node = start_node(keys)
    node.push(status())
    context = zmq.Context()
    try:
        sock = client.dealer(context, node.target(), node.address)
        for junk in (b"\xc1 not msgpack", encode(status()), b"x" * 100_000):
            sock.send(junk)
        wait_until(lambda: node.stats().dropped >= 2, 5, "the junk to be dropped")
        sock.close(linger=0)
    finally:
        context.destroy(linger=0)
    assert request(node, AdminAction.VERSION).detail == "pgactor 9.9"


def test_a_watcher_gets_the_status_and_events_as_they_change(keys: Path) -> None:
    node = start_node(keys)
    node.push(status())
    context = zmq.Context()
    try:
        sock = client.dealer(context, node.target(), node.address)
        sock.send(encode(AdminRequest(request_id="w", action=AdminAction.WATCH)))
        first = decode(sock.recv()) if sock.poll(3000) else None
        assert isinstance(first, AdminResponse) and first.ok
        assert isinstance(first.data, NodeStatus)
        node.push(status(leader="node2", reason=Reason.FOLLOW))
        seen: list[object] = []
        while sock.poll(1000):
            seen.append(decode(sock.recv()))
        sock.close(linger=0)
    finally:
        context.destroy(linger=0)
    details = [e.detail for e in seen if isinstance(e, FeedEvent)]
    assert "leader: node1 -> node2" in details
    assert any(isinstance(e, NodeStatus) and e.cluster.leader for e in seen)


def test_pause_and_edit_config_are_config_writes_answered_by_the_dcs(keys: Path) -> None:
    node = start_node(keys)
    node.push(status())
    paused = request(node, AdminAction.PAUSE)
    assert paused.ok and paused.detail == "configuration changed"
    edited = request(
        node,
        AdminAction.EDIT_CONFIG,
        config=DynamicConfig(ttl_s=20),
        expected_config=DynamicConfig(),
    )
    assert edited.ok and edited.data == DynamicConfig(ttl_s=20)
    writes = [m for m in node.ha_received() if isinstance(m, SetConfig)]
    assert [w.config for w in writes] == [DynamicConfig(pause=True), DynamicConfig(ttl_s=20)]
    assert all(w.reply_to == CONSOLE and w.request_id for w in writes)


def test_a_restart_is_asked_only_of_the_member_it_names(keys: Path) -> None:
    node = start_node(keys)
    node.push(status())
    elsewhere = request(node, AdminAction.RESTART, member=MemberName("node2"))
    here = request(node, AdminAction.RESTART, member=MemberName("node1"), role="replica")
    assert not elsewhere.ok and "ask node2's" in elsewhere.detail
    assert here.ok
    assert [m for m in node.ha_received() if isinstance(m, RestartRequest)] == [
        RestartRequest(role=Role.REPLICA)
    ]


def test_a_console_that_cannot_start_says_why_and_leaves_nothing_running(
    keys: Path, tmp_path: Path
) -> None:
    node = start_node(keys)  # holds its port
    running = set(threading.enumerate())
    taken = ConsoleSettings(listen_port=node.port, curve=CurveKeys(keys_dir=str(keys)))
    with pytest.raises(zmq.ZMQError, match="in use"):
        open_console(taken, node.registry, ActorName("second"))
    nobody = zmq_io.generate_keys(tmp_path / "no-clients", clients=())
    unreachable = ConsoleSettings(listen_port=free_port(), curve=CurveKeys(keys_dir=str(nobody)))
    with pytest.raises(zmq_io.KeysError, match="no authorised client keys"):
        open_console(unreachable, node.registry, ActorName("second"))
    # neither a socket thread nor a ZAP handler outlives the failed start
    assert set(threading.enumerate()) <= running
