"""The REST API's connection gate, as tables: run now, wait for a share, or be refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.api.admission import Admission, Verdict

RUN, WAIT, REFUSE = Verdict.RUN, Verdict.WAIT, Verdict.REFUSE


def gate(
    per_address: int = 2, max_active: int = 4, max_waiting: int = 3, per_address_waiting: int = 2
) -> Admission[str]:
    return Admission(
        per_address=per_address,
        max_active=max_active,
        max_waiting=max_waiting,
        max_waiting_per_address=per_address_waiting,
    )


def test_one_address_gets_its_share_then_waits_then_is_refused() -> None:
    g = gate()
    verdicts = [g.arrive("a", f"a{i}") for i in range(5)]
    assert verdicts == [RUN, RUN, WAIT, WAIT, REFUSE]
    assert (g.active, g.waiting) == (2, 2)


def test_another_address_runs_at_once_beside_a_busy_one() -> None:
    g = gate()
    for i in range(4):
        g.arrive("attacker", f"x{i}")
    assert g.arrive("probe", "p") is RUN


def test_past_the_total_every_address_waits_and_the_waiting_queue_is_bounded() -> None:
    g = gate(per_address=2, max_active=4, max_waiting=3)
    assert [g.arrive(a, a) for a in ("a", "a", "b", "b")] == [RUN] * 4
    assert [g.arrive(a, a + "2") for a in ("c", "d", "e", "f")] == [WAIT, WAIT, WAIT, REFUSE]


def test_a_finished_connection_hands_its_thread_to_the_next_of_its_address_in_order() -> None:
    g = gate()
    for i in range(4):
        g.arrive("a", f"a{i}")
    assert g.finish("a") == ("a", "a2")
    assert g.finish("a") == ("a", "a3")
    assert g.finish("a") is None
    assert (g.active, g.waiting) == (1, 0)


def test_when_the_total_frees_up_waiting_addresses_are_served_round_robin() -> None:
    g = gate(per_address=4, max_active=2, max_waiting=10, per_address_waiting=10)
    g.arrive("a", "a0")
    g.arrive("a", "a1")
    for name in ("a2", "b0", "a3", "b1"):
        assert g.arrive(name[0], name) is WAIT
    served = [g.finish("a") for _ in range(4)]
    assert [item for _, item in served if item] == ["a2", "b0", "a3", "b1"]


@given(st.lists(st.tuples(st.booleans(), st.sampled_from("abcd")), max_size=200))
def test_no_bound_is_ever_passed_and_nothing_waits_while_it_could_run(
    steps: list[tuple[bool, str]],
) -> None:
    g = gate(per_address=2, max_active=5, max_waiting=6, per_address_waiting=3)
    running: list[str] = []
    for arrive, address in steps:
        if arrive:
            if g.arrive(address, address) is RUN:
                running.append(address)
        elif address in running:
            running.remove(address)
            handed = g.finish(address)
            if handed is not None:
                running.append(str(handed[0]))
        assert g.active == len(running) <= 5
        assert all(running.count(a) <= 2 for a in running)
        assert g.waiting <= 6
        # a connection waits only while its address's share or the total is taken
        waiting = set(g._waiting)
        assert g.active == 5 or all(g.in_progress(a) == 2 for a in waiting)


def test_draining_returns_every_waiting_connection_once() -> None:
    g = gate()
    for i in range(4):
        g.arrive("a", f"a{i}")
    assert g.drain() == ["a2", "a3"]
    assert g.drain() == []
    assert g.waiting == 0
