"""Repeated heartbeats are noted in the socket thread and reach the actor's table anyway."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gossip_support import GOSSIP, HEARTBEAT_S, StartMember, node_status  # type: ignore[import-not-found]
from loopback_support import free_port, wait_until  # type: ignore[import-not-found]

from actors.gossip import membership as mb
from actors.gossip.quiet import QuietFrames
from actors.gossip.transport import open_gossip
from actors.runtime import zmq_io
from actors.runtime.actor import BaseActor, handles
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from messages.base import ActorName, MemberName
from messages.cluster import MemberStatus
from messages.codec import encode
from messages.config import CurveKeys, GossipSettings
from messages.gossip import InboundFrame, PeerStatus, PeerSuspect


def _status(name: str, seq: int) -> PeerStatus:
    return PeerStatus(member=MemberStatus(name=MemberName(name)), scope="demo", seq=seq)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_only_an_admitted_frame_stays_quiet_and_its_repeats_are_counted_with_their_time() -> None:
    clock = _Clock()
    quiet = QuietFrames(clock)
    first, second = encode(_status("node2", 1)), encode(_status("node2", 2))
    assert not quiet.heard(first)  # unknown: the actor must see it
    quiet.admit(first, _status("node2", 1))
    assert quiet.heard(first)
    clock.now = 101.5
    assert quiet.heard(first)
    assert quiet.drain() == [(_status("node2", 1), 101.5, 2)]
    assert quiet.drain() == []
    quiet.admit(second, _status("node2", 2))  # a newer frame replaces the peer's older one
    assert not quiet.heard(first)
    assert quiet.heard(second)


def test_an_admitted_peer_silent_past_the_threshold_rings_once_until_heard_again() -> None:
    clock = _Clock()
    quiet = QuietFrames(clock, silent_after_s=3.0)
    frame = encode(_status("node2", 1))
    assert quiet.seconds_to_silence() is None  # nobody admitted: nothing to watch
    quiet.watch(MemberName("node2"), 100.0)  # not admitted: not ours to watch
    assert quiet.seconds_to_silence() is None
    quiet.admit(frame, _status("node2", 1))
    quiet.watch(MemberName("node2"), 100.0)
    assert quiet.members() == {"node2"}
    assert quiet.seconds_to_silence() == 3.0
    clock.now = 101.0
    assert quiet.heard(frame)  # a repeat moves the alarm on
    quiet.watch(MemberName("node2"), 100.0)  # an older time from the table does not bring it back
    assert quiet.seconds_to_silence() == 3.0
    clock.now = 103.9
    assert not quiet.silenced()
    clock.now = 104.0
    assert quiet.silenced()
    assert not quiet.silenced() and quiet.seconds_to_silence() is None  # once
    clock.now = 104.5
    assert quiet.heard(frame)  # heard again: watched again
    assert quiet.seconds_to_silence() == 3.0
    quiet.forget(MemberName("node2"))
    assert quiet.seconds_to_silence() is None and quiet.members() == frozenset()


def test_a_forgotten_peer_wakes_the_actor_again_but_what_was_heard_is_kept() -> None:
    clock = _Clock()
    quiet = QuietFrames(clock)
    frame = encode(_status("node3", 1))
    quiet.admit(frame, _status("node3", 1))
    assert quiet.heard(frame)
    quiet.forget(MemberName("node3"))
    assert not quiet.heard(frame)
    assert quiet.drain() == [(_status("node3", 1), 100.0, 1)]


class _Recorder(BaseActor):
    def __init__(self, **base: object) -> None:
        super().__init__(**base)  # type: ignore[arg-type]
        self.frames: list[bytes] = []

    @handles(InboundFrame)
    def handle_frame(self, msg: InboundFrame) -> None:
        self.frames.append(msg.frames[0])


def test_the_socket_thread_tells_the_actor_a_known_frame_no_more(tmp_path: Path) -> None:
    """Through real sockets: a peer's known frame arrives again and again; the owner
    hears it once, the repeats are only counted, and a new frame is told at once."""
    keys = zmq_io.generate_keys(tmp_path / "curve")
    port, peer_port = free_port(), free_port()

    registry = Registry()
    owner = _Recorder.start(name=ActorName("owner"), runtime=Runtime(registry=registry))
    quiet = QuietFrames(time.monotonic)
    ours, _ = open_gossip(_settings(keys, port, peer_port), registry, ActorName("owner"), quiet)
    theirs, _ = open_gossip(_settings(keys, peer_port, port), Registry(), ActorName("nobody"))
    try:
        assert ours.loop is not None and theirs.loop is not None
        ours.loop.connect("sub", f"tcp://127.0.0.1:{peer_port}")
        frame = encode(_status("node2", 1))

        def sent_and_heard() -> bool:
            assert theirs.loop is not None
            theirs.loop.send("pub", [frame])
            return bool(owner.proxy().frames.get(timeout=5))

        wait_until(sent_and_heard, 5, "the first frame reaches the owner")
        quiet.admit(frame, _status("node2", 1))
        told = len(owner.proxy().frames.get(timeout=5))
        for _ in range(5):
            theirs.loop.send("pub", [frame])
        counted: list[int] = []

        def repeats_counted() -> bool:
            counted.extend(n for _, _, n in quiet.drain())
            return sum(counted) >= 5

        wait_until(repeats_counted, 5, "five repeats noted")
        assert len(owner.proxy().frames.get(timeout=5)) == told
        theirs.loop.send("pub", [encode(_status("node2", 2))])  # news: told at once
        wait_until(lambda: len(owner.proxy().frames.get(timeout=5)) > told, 5, "the news")
        assert owner.proxy().frames.get(timeout=5)[told:] == [encode(_status("node2", 2))]
    finally:
        ours.close()
        theirs.close()
        owner.stop()


def test_a_peer_heard_only_through_repeats_stays_up_and_one_that_resumes_is_up_at_once(
    start_member: StartMember,
) -> None:
    """node2's repeats keep it alive on node1 (they reach its table when it judges);
    once node2 falls silent it turns suspect, told by node1's socket thread, which
    noted the repeats (node1's own timers are stopped by then), and its very next
    repeat wakes node1's actor: PeerUp comes from the frame itself."""
    ports = [free_port() for _ in range(2)]
    a = start_member("node1", ports[0], [ports[1]])
    b = start_member("node2", ports[1], [ports[0]])
    for m in (a, b):
        m.registry.tell(GOSSIP, node_status(m.name))
    wait_until(lambda: a.up() == {"node2"}, 3, "node1 hears node2")
    time.sleep(6 * HEARTBEAT_S)  # past dead_after (4 heartbeats): a window, not a sync
    assert a.up() == {"node2"}
    assert not a.events(PeerSuspect), "repeats that never woke the actor did not keep node2 up"
    loop = b.ref.proxy().endpoint.get(timeout=5).loop
    frame = b.ref.proxy().frame.get(timeout=5)
    a.scheduler.stop()  # node1's actor has no timer left: the socket thread must tell it
    loop.repeat("pub", None)  # node2's heartbeats stop; its actor and sockets stay
    wait_until(lambda: a.up() == set(), 5, "node2 suspect")
    loop.send("pub", [frame])  # node2's heartbeat: its very same frame
    wait_until(lambda: a.up() == {"node2"}, 3, "node2 up again from its frame")


def test_the_next_liveness_deadline_is_the_earliest_transition_a_silent_peer_would_make() -> None:
    timing = mb.Timing(heartbeat_s=1.0, suspect_after=3, dead_after=6)
    table = mb.Table(me=MemberName("node1"), scope="demo")
    assert mb.next_transition(table, timing) is None  # nobody to watch: no tick needed
    table, _ = mb.on_status(table, _status("node2", 1), 10.0)
    table, _ = mb.on_status(table, _status("node3", 1), 11.0)
    assert mb.next_transition(table, timing) == 13.0  # node2 turns suspect first
    table, _ = mb.on_tick(table, 13.0, timing)
    assert mb.next_transition(table, timing) == 14.0  # node3 next, node2 down at 16
    table, _ = mb.on_tick(table, 16.0, timing)
    assert mb.next_transition(table, timing) == 17.0  # only node3 left to turn down
    table, _ = mb.on_tick(table, 17.0, timing)
    assert mb.next_transition(table, timing) is None


def test_the_socket_thread_repeats_a_frame_by_itself_until_told_to_stop(tmp_path: Path) -> None:
    keys = zmq_io.generate_keys(tmp_path / "curve")
    port, peer_port = free_port(), free_port()
    registry = Registry()
    owner = _Recorder.start(name=ActorName("owner"), runtime=Runtime(registry=registry))

    ours, _ = open_gossip(_settings(keys, port, peer_port), registry, ActorName("owner"))
    theirs, _ = open_gossip(_settings(keys, peer_port, port), Registry(), ActorName("nobody"))
    try:
        assert ours.loop is not None and theirs.loop is not None
        ours.loop.connect("sub", f"tcp://127.0.0.1:{peer_port}")
        frame = encode(_status("node2", 1))
        theirs.loop.repeat("pub", [frame], 0.05)  # one command, then the thread alone
        wait_until(lambda: len(owner.proxy().frames.get(timeout=5)) >= 5, 5, "five repeats")
        theirs.loop.repeat("pub", None)
        wait_until(lambda: theirs.loop is not None and not theirs.loop._repeats, 5, "stopped")
        count = len(owner.proxy().frames.get(timeout=5))
        time.sleep(0.3)  # six intervals: a window, not a sync
        assert len(owner.proxy().frames.get(timeout=5)) <= count + 1  # one may be in flight
    finally:
        ours.close()
        theirs.close()
        owner.stop()


def test_repeats_fall_on_the_wall_clocks_multiples_of_the_period_half_a_period_apart() -> None:
    """Members beat at one instant (their clocks agree), so each one's beat out and its
    peers' beats in wake its socket thread once, not three times a second."""
    for wall, gap in ((1000.0, 1.0), (1000.2, 0.8), (1000.5, 0.5), (1000.6, 1.4), (1000.99, 1.01)):
        assert zmq_io.next_beat(50.0, wall, 1.0) == pytest.approx(50.0 + gap)
    assert zmq_io.next_beat(7.0, 12.34, 0.5) == pytest.approx(7.0 + 0.66)


def _settings(keys: Path, listen: int, peer: int) -> GossipSettings:
    return GossipSettings(
        listen_host="127.0.0.1",
        listen_port=listen,
        connect_address=f"127.0.0.1:{listen}",
        peers=(f"127.0.0.1:{peer}",),
        curve=CurveKeys(keys_dir=str(keys)),
    )
