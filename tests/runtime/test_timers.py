"""The scheduler: each callback at its deadline, whatever order they were set in."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import pytest

from actors.runtime.timers import Scheduler


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    made = Scheduler()
    made.start()
    yield made
    made.stop()


def test_an_earlier_deadline_set_while_waiting_for_a_later_one_fires_on_time(
    scheduler: Scheduler,
) -> None:
    fired: dict[str, float] = {}
    done = threading.Event()
    began = time.monotonic()
    scheduler.call_later(5.0, lambda: fired.setdefault("late", time.monotonic()))
    time.sleep(0.05)  # the scheduler now waits for the late one: the subject
    scheduler.call_later(0.1, lambda: (fired.setdefault("early", time.monotonic()), done.set()))
    assert done.wait(3), "the earlier deadline waited for the later one"
    assert fired["early"] - began < 1.0 and "late" not in fired


def test_later_deadlines_set_after_an_earlier_one_all_fire_in_order(scheduler: Scheduler) -> None:
    order: list[str] = []
    done = threading.Event()
    scheduler.call_later(0.05, lambda: order.append("a"))
    scheduler.call_later(0.2, lambda: order.append("c"))
    scheduler.call_later(0.1, lambda: order.append("b"))
    scheduler.call_later(0.3, done.set)
    assert done.wait(3)
    assert order == ["a", "b", "c"]


def test_a_repeating_timer_keeps_its_interval(scheduler: Scheduler) -> None:
    times: list[float] = []
    done = threading.Event()

    def tick() -> None:
        times.append(time.monotonic())
        if len(times) == 4:
            done.set()

    handle = scheduler.call_later(0.05, tick, every_s=0.05)
    assert done.wait(3)
    handle.cancel()
    assert all(b - a >= 0.04 for a, b in itertools.pairwise(times))
