"""Quorum mode: a standby may be promoted only when a quorum of others proves it is newest."""

from __future__ import annotations

import dataclasses

import pytest

from actors.ha.candidates import quorum_seen, sync_allows
from messages.base import MemberName
from messages.cluster import PgState, Role, SyncState
from messages.config import SyncMode

from .builders import CONFIG, cluster, expired, member

QUORUM = dataclasses.replace(CONFIG, synchronous_mode=SyncMode.QUORUM)
A = MemberName("a")


def view(quorum: int, *members: tuple[str, int, PgState]) -> object:
    published = frozenset(MemberName(n) for n, _, _ in members)
    ms = tuple(member(n, Role.REPLICA, wal=wal, state=state) for n, wal, state in members)
    return cluster(
        expired("p"),
        ms,
        sync=SyncState(leader=MemberName("p"), sync_standbys=published, quorum=quorum),
    )


UP = PgState.RUNNING
DOWN = PgState.STOPPED


def row(quorum: int, *members: tuple[str, int, PgState], ok: bool, why: str) -> object:
    return pytest.param(quorum, members, ok, id=why)


@pytest.mark.parametrize(
    ("quorum", "members", "allowed"),
    [
        row(1, ("a", 100, UP), ("b", 90, UP), ok=True, why="one other behind meets quorum 1"),
        row(1, ("a", 100, UP), ("b", 110, UP), ok=False, why="another standby is ahead"),
        row(1, ("a", 100, UP), ("b", 90, DOWN), ok=False, why="the quorum is not visible"),
        row(0, ("a", 100, UP), ("b", 90, DOWN), ok=True, why="quorum 0 needs nobody"),
        row(2, ("a", 100, UP), ("b", 90, UP), ("c", 100, UP), ok=True, why="two at or behind"),
        row(2, ("a", 100, UP), ("b", 90, UP), ("c", 80, DOWN), ok=False, why="one of two visible"),
    ],
)
def test_quorum_promotion(
    quorum: int, members: tuple[tuple[str, int, PgState], ...], allowed: bool
) -> None:
    v = view(quorum, *members)
    assert quorum_seen(A, v) is allowed  # type: ignore[arg-type]
    assert sync_allows(A, v, QUORUM) is allowed  # type: ignore[arg-type]


def test_an_unpublished_standby_is_never_allowed_in_quorum_mode() -> None:
    v = view(0, ("b", 90, UP))
    assert not sync_allows(A, v, QUORUM)  # type: ignore[arg-type]
