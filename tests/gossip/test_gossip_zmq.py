"""Gossip over real ZeroMQ sockets on loopback, with CURVE keys made in a temp dir."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import msgpack
import pytest
import zmq
from gossip_support import HEARTBEAT_S, StartMember, node_status  # type: ignore[import-not-found]
from loopback_support import free_port, wait_until  # type: ignore[import-not-found]

from actors.gossip.transport import open_gossip
from actors.runtime import zmq_io
from messages.base import ActorName, MemberName
from messages.cluster import ClusterView, MemberStatus
from messages.codec import encode
from messages.config import CurveKeys, GossipSettings
from messages.dcs import DcsView
from messages.gossip import FailsafeStatus, PeerDown, PeerStatus, PeerUp
from messages.runtime import Ping


def test_three_members_see_each_other_within_two_heartbeats(start_member: StartMember) -> None:
    ports = [free_port() for _ in range(3)]
    names = ["node1", "node2", "node3"]
    began = time.monotonic()
    members = [
        start_member(name, port, [p for p in ports if p != port])
        for name, port in zip(names, ports, strict=True)
    ]
    for m in members:
        m.registry.tell("gossip", node_status(m.name))
    for m in members:
        others = set(names) - {m.name}
        wait_until(lambda m=m, o=others: m.up() == o, 2 * HEARTBEAT_S + 0.5, f"{m.name} hears all")
    took = time.monotonic() - began
    assert took < 2 * HEARTBEAT_S + 0.5, f"took {took:.2f} s"
    # each peer's snapshot reached the HA core with what the peer said of itself
    statuses = {e.member.name: e for _, e in members[0].events(PeerStatus)}
    assert statuses["node2"].leader == "node1" and not statuses["node2"].holds_lock
    assert statuses["node2"].member.gossip_url == f"tcp://127.0.0.1:{ports[1]}"


def test_idle_heartbeats_keep_peers_alive_and_tell_the_ha_core_nothing(
    start_member: StartMember,
) -> None:
    """Nothing changes and nobody leans on failsafe: the heartbeats resend one frame
    (decoded once by each peer), which keeps every peer up past dead_after, and the
    HA core hears no event at all -- no repeated FailsafeStatus, no PeerStatus."""
    ports = [free_port() for _ in range(2)]
    a = start_member("node1", ports[0], [ports[1]])
    b = start_member("node2", ports[1], [ports[0]])
    for m in (a, b):
        m.registry.tell("gossip", node_status(m.name))
    wait_until(lambda: a.up() == {"node2"} and b.up() == {"node1"}, 3, "both hear each other")
    quiet_from = len(a.events())
    received = a.stats().received
    time.sleep(6 * HEARTBEAT_S)  # past dead_after (4 heartbeats): a window, not a sync
    assert a.stats().received >= received + 4, "the heartbeats stopped arriving"
    assert a.up() == {"node2"} and b.up() == {"node1"}
    assert a.events()[quiet_from:] == [], "the HA core heard something while nothing changed"


def test_a_stopped_member_is_reported_down_and_the_failsafe_lease_stops_growing(
    start_member: StartMember,
) -> None:
    """The leader leans on failsafe: both others acknowledge its heartbeats (their HA
    core promises), so it has a lease; once one is gone the lease no longer grows."""
    ports = [free_port() for _ in range(3)]
    members = [
        start_member(f"node{i + 1}", port, [p for p in ports if p != port])
        for i, port in enumerate(ports)
    ]
    view = DcsView(
        view=ClusterView(members=tuple(MemberStatus(name=MemberName(m.name)) for m in members))
    )
    for m in members:
        m.registry.tell("gossip", view)  # the DCS lists all three: failsafe must hear each
        m.registry.tell("gossip", node_status(m.name, failsafe_ttl_s=10.0))
    leader = members[0]
    wait_until(lambda: leader.stats().failsafe_confirmed, 3, "failsafe confirmed on the leader")
    assert leader.up() == {"node2", "node3"}
    leases = [e.lease_until for _, e in leader.events(FailsafeStatus) if e.lease_until]
    assert leases and all(until <= time.monotonic() + 10.0 for until in leases)

    stopped_at = time.monotonic()
    members[2].stop()
    down = wait_until(lambda: leader.events(PeerDown), 10 * HEARTBEAT_S, "node3 reported down")
    at, event = down[0]
    assert isinstance(event, PeerDown) and event.name == "node3"
    # dead_after is 4 heartbeats; one more for the tick that notices
    assert at - stopped_at < 5 * HEARTBEAT_S + 0.3
    assert "node3" in leader.stats().down
    last = leader.events(FailsafeStatus)[-1][1]
    assert isinstance(last, FailsafeStatus) and last.lease_until is not None
    assert last.lease_until <= stopped_at + 10.0, "the lease outgrew node3's last promise"
    assert members[1].up() == {"node1"}


def test_a_member_with_a_wrong_curve_key_is_never_heard(
    start_member: StartMember, tmp_path: Path
) -> None:
    ports = [free_port() for _ in range(3)]
    good = [
        start_member(f"node{i + 1}", ports[i], [p for p in ports if p != ports[i]])
        for i in range(2)
    ]
    wrong_keys = zmq_io.generate_keys(tmp_path / "other-cluster")
    intruder = start_member("node3", ports[2], ports[:2], keys_dir=wrong_keys)
    for m in [*good, intruder]:
        m.registry.tell("gossip", node_status(m.name))
    wait_until(lambda: good[0].up() == {"node2"}, 3, "the good members to hear each other")
    time.sleep(4 * HEARTBEAT_S)
    for m in good:
        assert "node3" not in m.up()
        assert m.stats().received > 0
    assert intruder.up() == set()
    assert intruder.stats().received == 0


def test_garbage_and_oversized_frames_are_dropped_and_counted(
    start_member: StartMember, keys: Path
) -> None:
    # A publisher that holds the cluster key (so ZAP lets it in) but sends junk.
    evil_port, port = free_port(), free_port()
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.linger = 0
    cluster = zmq_io.load_keypair(keys / "server.key_secret")
    auth = zmq_io.start_authenticator(context, zmq_io.KeyCheck(frozenset({cluster.public}), "evil"))
    zmq_io.curve_server(pub, cluster)
    pub.bind(f"tcp://127.0.0.1:{evil_port}")
    try:
        member = start_member("node1", port, [evil_port], max_frame_bytes=4096)
        member.registry.tell("gossip", node_status("node1"))
        other_scope = encode(PeerStatus(member=MemberStatus(name=MemberName("x")), scope="x"))
        junk = [
            [b"\xc1\xff not msgpack"],
            [msgpack.packb({"t": "nope", "v": 1, "f": {}})],
            [encode(Ping())],
            [other_scope],
            [b"a", b"b"],
            [b"\0" * 10_000],
        ]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # resend until the subscription is in place
            for frames in junk:
                pub.send_multipart(frames)
            stats = member.stats()
            if stats.dropped.get("oversized") and stats.dropped.get("undecodable"):
                break
            time.sleep(0.05)
        stats = member.stats()
        assert stats.dropped["oversized"] >= 1
        assert stats.dropped["undecodable"] >= 2  # not msgpack; an unknown type; two frames
        assert stats.dropped["foreign"] >= 2  # not a PeerStatus; another cluster's
        assert stats.received == 0
        assert member.ref.is_alive()
        assert not member.events(PeerUp)
    finally:
        auth.stop()
        pub.close()
        context.term()


def test_a_member_that_cannot_bind_says_why_and_leaves_nothing_running(
    start_member: StartMember, keys: Path
) -> None:
    port = free_port()
    member = start_member("node1", port, [])
    member.stats()  # answered only once the member has bound its port
    running = set(threading.enumerate())
    taken = GossipSettings(listen_port=port, curve=CurveKeys(keys_dir=str(keys)))
    with pytest.raises(zmq.ZMQError, match="in use"):
        open_gossip(taken, member.registry, ActorName("second"))
    # neither a socket thread nor a ZAP handler outlives the failed start
    assert set(threading.enumerate()) <= running
