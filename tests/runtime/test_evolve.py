"""evolve must be dataclasses.replace, only faster where that is exact."""

from __future__ import annotations

import dataclasses

import pytest

from actors.ha.cycle import Node, new_node
from actors.ha.facts import Facts
from actors.ha.publish import Identity
from actors.ha.state import HaState, local_view
from actors.runtime.evolve import evolve
from messages.base import MemberName
from messages.cluster import ClusterView
from messages.config import DynamicConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Checked:
    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("n must not be negative")


@dataclasses.dataclass(frozen=True, slots=True)
class _Slotted:
    a: int
    b: str = "x"


def test_the_copy_equals_replace_and_leaves_the_original() -> None:
    state = HaState(name=MemberName("n1"))
    new = evolve(state, have_view=True, lease_cap=3.5)
    assert new == dataclasses.replace(state, have_view=True, lease_cap=3.5)
    assert (state.have_view, state.lease_cap) == (False, None)
    assert type(new) is HaState
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.have_view = False  # type: ignore[misc]


def test_nested_state_is_copied_by_reference_as_replace_does() -> None:
    me = Identity(member=MemberName("n1"), scope="s", conn_host="h", conn_port=1)
    node = new_node(me, DynamicConfig())
    again = evolve(node, pg_known=True)
    assert isinstance(again, Node) and again.ha is node.ha and again.pg_known


def test_an_unknown_field_is_the_usual_error() -> None:
    with pytest.raises(TypeError, match="nosuch"):
        evolve(HaState(name=MemberName("n1")), nosuch=1)  # type: ignore[call-arg]


def test_validation_and_slots_go_through_replace() -> None:
    with pytest.raises(ValueError, match="negative"):
        evolve(_Checked(n=1), n=-1)
    assert evolve(_Slotted(1), b="y") == _Slotted(1, "y")


def test_values_derived_and_stored_beside_the_fields_are_not_carried_over() -> None:
    facts = Facts(
        cluster=ClusterView(), local=local_view(HaState(name=MemberName("n1")), 0.0),
        config=DynamicConfig(), now=1.0,
    )  # fmt: skip
    assert facts.holds_lock is False  # cached in the instance's dict
    moved = evolve(facts, now=2.0)
    assert "holds_lock" not in vars(moved)
