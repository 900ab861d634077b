"""Membership, pure: liveness from silence, events on change, failsafe leases by gossip."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.gossip.membership import (
    Liveness,
    Peer,
    Table,
    Timing,
    failsafe_heartbeat,
    failsafe_lease_until,
    liveness,
    on_members,
    on_status,
    on_tick,
)
from messages.base import MemberName
from messages.cluster import MemberStatus, Role
from messages.gossip import (
    FailsafeHeartbeat,
    HeardLeader,
    PeerDown,
    PeerStatus,
    PeerSuspect,
    PeerUp,
)

ME = MemberName("node1")
TIMING = Timing(heartbeat_s=1.0, suspect_after=3, dead_after=6)


def snap(
    name: str,
    *,
    leader: str | None = "node1",
    role: Role = Role.REPLICA,
    holds_lock: bool = False,
    seq: int = 1,
    incarnation: int = 7,
    scope: str = "demo",
) -> PeerStatus:
    return PeerStatus(
        member=MemberStatus(name=MemberName(name), role=role),
        scope=scope,
        leader=MemberName(leader) if leader else None,
        holds_lock=holds_lock,
        seq=seq,
        incarnation=incarnation,
    )


def table(*peers: tuple[PeerStatus, float], known: tuple[str, ...] | None = ()) -> Table:
    names = None if known is None else frozenset(MemberName(k) for k in known)
    t = Table(me=ME, scope="demo", known=names)
    for status, at in peers:
        t, _ = on_status(t, status, at)
    return t


@pytest.mark.parametrize(
    ("silent_s", "expected"),
    [
        (0.0, Liveness.ALIVE),
        (2.99, Liveness.ALIVE),
        (3.0, Liveness.SUSPECT),
        (5.99, Liveness.SUSPECT),
        (6.0, Liveness.DOWN),
        (600.0, Liveness.DOWN),
    ],
)
def test_liveness_follows_missed_heartbeats(silent_s: float, expected: Liveness) -> None:
    assert liveness(silent_s, TIMING) is expected


def test_a_peer_heard_for_the_first_time_is_up_and_its_status_reported() -> None:
    status = snap("node2")
    _, events = on_status(table(), status, 10.0)
    assert events == (PeerUp(name=MemberName("node2")), status)


def test_a_repeated_snapshot_with_the_same_content_reports_nothing() -> None:
    t = table((snap("node2", seq=1), 10.0))
    t, events = on_status(t, snap("node2", seq=2), 11.0)
    assert events == ()
    assert t.peers[MemberName("node2")].heard_at == 11.0


def test_a_changed_snapshot_is_reported() -> None:
    t = table((snap("node2", seq=1), 10.0))
    changed = snap("node2", seq=2, role=Role.PRIMARY)
    _, events = on_status(t, changed, 11.0)
    assert events == (changed,)


def test_a_stale_snapshot_proves_life_but_its_content_is_ignored() -> None:
    t = table((snap("node2", seq=5), 10.0))
    t, events = on_status(t, snap("node2", seq=3, role=Role.PRIMARY), 12.0)
    assert events == ()
    peer = t.peers[MemberName("node2")]
    assert peer.status.seq == 5 and peer.heard_at == 12.0


def test_a_restarted_peer_starts_a_new_incarnation_at_any_sequence_number() -> None:
    t = table((snap("node2", seq=500), 10.0))
    reborn = snap("node2", seq=1, incarnation=8, role=Role.PRIMARY)
    t, events = on_status(t, reborn, 11.0)
    assert events == (reborn,)


@pytest.mark.parametrize(
    "status",
    [snap("node1"), snap("node2", scope="other")],
    ids=["our own snapshot", "another cluster's"],
)
def test_snapshots_that_are_not_about_a_peer_change_nothing(status: PeerStatus) -> None:
    t = table()
    assert on_status(t, status, 1.0) == (t, ())


@pytest.mark.parametrize(
    ("ticks", "expected"),
    [
        ([2.0], []),
        ([3.0], [PeerSuspect]),
        ([3.0, 4.0], [PeerSuspect]),
        ([3.0, 6.0], [PeerSuspect, PeerDown]),
        ([7.0], [PeerDown]),
        ([3.0, 6.0, 100.0], [PeerSuspect, PeerDown]),
    ],
)
def test_silence_makes_a_peer_suspect_then_down_each_once(
    ticks: list[float], expected: list[type]
) -> None:
    t = table((snap("node2"), 0.0))
    seen: list[type] = []
    for now in ticks:
        t, events = on_tick(t, now, TIMING)
        seen += [type(e) for e in events]
    assert seen == expected


def test_a_down_peer_heard_again_is_up_again() -> None:
    t = table((snap("node2", seq=1), 0.0))
    t, _ = on_tick(t, 10.0, TIMING)
    t, events = on_status(t, snap("node2", seq=2), 11.0)
    assert events == (PeerUp(name=MemberName("node2")),)
    assert t.peers[MemberName("node2")].liveness is Liveness.ALIVE


def test_a_down_peer_that_left_the_dcs_is_forgotten_but_a_listed_one_is_kept() -> None:
    t = table((snap("node2"), 0.0), (snap("node3"), 0.0))
    t, _ = on_tick(t, 10.0, TIMING)
    t = on_members(t, [ME, MemberName("node3")])
    assert set(t.peers) == {MemberName("node3")}
    assert t.known == {MemberName("node3")}


# -- failsafe ----------------------------------------------------------------------------

INCARNATION = 99
SENT = {1: (10.0, 30.0), 2: (11.0, 30.0), 3: (12.0, 30.0)}
"""Our failsafe heartbeats: seq -> (sent at, ttl)."""


def acked(name: str, seq: int, incarnation: int = INCARNATION) -> PeerStatus:
    ack = HeardLeader(name=ME, incarnation=incarnation, seq=seq)
    return dataclasses.replace(snap(name), heard=(ack,))


def lease(t: Table) -> float | None:
    return failsafe_lease_until(t, INCARNATION, SENT)


def test_the_failsafe_lease_runs_to_the_earliest_acknowledged_heartbeat_plus_its_ttl() -> None:
    t = table((acked("node2", 3), 0.0), (acked("node3", 2), 0.5), known=("node2", "node3"))
    assert lease(t) == 11.0 + 30.0


@pytest.mark.parametrize(
    "node3",
    [
        snap("node3"),
        acked("node3", 2, incarnation=1),
        acked("node3", 99),
        None,
    ],
    ids=[
        "acknowledges nothing",
        "acknowledged another incarnation of ours",
        "acknowledged a heartbeat we never sent",
        "known from the DCS but never heard",
    ],
)
def test_no_failsafe_lease_while_one_known_member_has_not_acknowledged(
    node3: PeerStatus | None,
) -> None:
    peers = [(acked("node2", 3), 0.0)] + ([(node3, 0.0)] if node3 else [])
    assert lease(table(*peers, known=("node2", "node3"))) is None


def test_a_silent_members_old_acknowledgement_still_bounds_the_lease() -> None:
    """Silence needs no rule of its own: an old promise simply runs out early."""
    t = table((acked("node2", 3), 0.0), (acked("node3", 1), 0.0), known=("node2", "node3"))
    t, _ = on_tick(t, 100.0, TIMING)
    assert lease(t) == 10.0 + 30.0


def test_failsafe_with_no_other_member_has_nobody_to_disagree() -> None:
    assert lease(table()) is None or lease(table()) is not None  # defined either way
    assert failsafe_lease_until(table(known=()), INCARNATION, SENT) is None


def test_no_failsafe_lease_before_any_dcs_view() -> None:
    assert lease(table(known=None)) is None
    assert lease(table((acked("node2", 3), 0.5), known=None)) is None


def test_a_failsafe_heartbeat_asks_for_a_promise_and_a_newer_plain_one_ends_it() -> None:
    leading = dataclasses.replace(snap("node2", seq=5), failsafe_ttl_s=30.0)
    t = table()
    beat = failsafe_heartbeat(t, leading)
    assert beat == FailsafeHeartbeat(leader=MemberName("node2"), incarnation=7, seq=5, ttl_s=30.0)
    t, _ = on_status(t, leading, 1.0)
    ended = failsafe_heartbeat(t, snap("node2", seq=6))
    assert ended is not None and ended.ttl_s == 0.0
    t, _ = on_status(t, snap("node2", seq=6), 2.0)
    assert failsafe_heartbeat(t, snap("node2", seq=7)) is None


def test_a_cached_view_from_an_unreachable_dcs_adds_members_but_forgets_nobody() -> None:
    t = table((snap("node2"), 0.0), known=("node2",))
    t, _ = on_tick(t, 10.0, TIMING)
    t = on_members(t, [ME, MemberName("node3")], reachable=False)
    assert set(t.peers) == {MemberName("node2")}
    assert t.known == {MemberName("node2"), MemberName("node3")}


# -- properties ------------------------------------------------------------------------------

names = st.sampled_from(["node2", "node3", "node4"])
heard = st.tuples(names, st.floats(0, 100), st.integers(0, 5), st.booleans())


@given(st.lists(heard, max_size=20), st.lists(st.floats(0, 200), max_size=10))
def test_events_never_repeat_a_state_the_peer_is_already_in(
    steps: list[tuple[str, float, int, bool]], ticks: list[float]
) -> None:
    t = table()
    state: dict[str, str] = {}
    inputs = sorted([("status", at, s) for s in steps for at in [s[1]]] + [
        ("tick", at, None) for at in ticks
    ], key=lambda x: x[1])  # fmt: skip
    for kind, at, step in inputs:
        if kind == "status" and step is not None:
            name, _, seq, primary = step
            status = snap(name, seq=seq, role=Role.PRIMARY if primary else Role.REPLICA)
            t, events = on_status(t, status, at)
        else:
            t, events = on_tick(t, at, TIMING)
        for e in events:
            if isinstance(e, PeerUp | PeerSuspect | PeerDown):
                new = type(e).__name__
                assert state.get(e.name) != new, f"{new} twice for {e.name}"
                state[e.name] = new


@given(st.dictionaries(names, st.sampled_from(sorted(SENT)), min_size=1))
def test_the_failsafe_lease_never_outlasts_any_members_promise(acks: dict[str, int]) -> None:
    t = table(*[(acked(n, seq), 0.0) for n, seq in acks.items()], known=tuple(acks))
    until = lease(t)
    assert until is not None
    for seq in acks.values():
        at, ttl = SENT[seq]
        assert until <= at + ttl


@given(st.floats(0, 1000), st.floats(0, 1000))
def test_longer_silence_is_never_healthier(a: float, b: float) -> None:
    order = list(Liveness)
    lo, hi = sorted((a, b))
    assert order.index(liveness(lo, TIMING)) <= order.index(liveness(hi, TIMING))


def test_peer_records_are_immutable() -> None:
    peer = Peer(status=snap("node2"), heard_at=0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        peer.heard_at = 1.0  # type: ignore[misc]
