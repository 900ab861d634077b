"""The supervisor with real pykka actors: restarts, backoff, siblings, escalation, order."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from actors.runtime.actor import BaseActor, ask, handles
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from actors.runtime.restart_policy import Backoff, Intensity
from actors.runtime.supervisor import ChildSpec, Outcome, Supervisor
from messages.base import ActorName, Message, message


@message("test.crash")
class Crash(Message):
    pass


@message("test.vanish")
class Vanish(Message):
    """End the child's thread without telling the supervisor."""


@message("test.echo")
class Echo(Message):
    text: str = ""


EVENTS: list[tuple[str, str, float]] = []


class Child(BaseActor):
    def started(self) -> None:
        EVENTS.append(("start", self.name, time.monotonic()))

    def stopping(self) -> None:
        EVENTS.append(("stop", self.name, time.monotonic()))

    @handles(Crash)
    def handle_crash(self, msg: Crash) -> None:
        raise RuntimeError("boom")

    @handles(Vanish)
    def handle_vanish(self, msg: Vanish) -> None:
        self.supervisor = None  # as if the thread ended past pykka's hooks
        self.stop()

    @handles(Echo)
    def handle_echo(self, msg: Echo) -> Echo:
        return msg


def starts(name: str) -> list[float]:
    return [t for kind, n, t in EVENTS if kind == "start" and n == name]


def wait_until(pred: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


@pytest.fixture
def run() -> Iterator[Any]:
    EVENTS.clear()
    threads: list[tuple[Supervisor, threading.Thread, list[Outcome]]] = []

    def start(names: list[str], intensity: Intensity) -> tuple[Supervisor, Registry, list[Outcome]]:
        registry = Registry()
        specs = [ChildSpec(name=ActorName(n), actor_class=Child) for n in names]
        sup = Supervisor(
            specs,
            Runtime(registry=registry),
            intensity=intensity,
            backoff=Backoff(initial_s=0.05, max_s=1.0, jitter=0.0),
            check_interval_s=0.05,
        )
        out: list[Outcome] = []
        t = threading.Thread(target=lambda: out.append(sup.run()), daemon=True)
        t.start()
        threads.append((sup, t, out))
        wait_until(lambda: all(registry.get(ActorName(n)) for n in names))
        return sup, registry, out

    yield start
    for sup, t, _ in threads:
        sup.request_stop()
        t.join(10)
    pykka.ActorRegistry.stop_all()


def test_a_crashing_child_is_restarted_with_growing_backoff_siblings_untouched(run: Any) -> None:
    sup, registry, _ = run(["a", "b", "c"], Intensity(max_restarts=10, period_s=60))
    for i in range(3):
        registry.tell(ActorName("b"), Crash())
        wait_until(lambda i=i: len(starts("b")) == i + 2)
    b = starts("b")
    gaps = [b2 - b1 for b1, b2 in itertools.pairwise(b)]
    assert gaps[0] < gaps[1], f"backoff did not grow: {gaps}"
    assert len(starts("a")) == 1 and len(starts("c")) == 1
    assert sup.restarts(ActorName("b")) == 3
    assert ask(registry, ActorName("b"), Echo(text="hi"), 5) == Echo(text="hi")


def test_a_child_whose_thread_ended_unreported_is_found_and_restarted(run: Any) -> None:
    """Exits are reported as events; the periodic check backstops a thread gone silently."""
    sup, registry, _ = run(["a", "b"], Intensity(max_restarts=10, period_s=60))
    registry.tell(ActorName("a"), Vanish())
    wait_until(lambda: len(starts("a")) == 2)
    assert sup.restarts(ActorName("a")) == 1 and len(starts("b")) == 1
    assert ask(registry, ActorName("a"), Echo(text="back"), 5) == Echo(text="back")


def test_past_intensity_everything_stops_in_reverse_and_escalates(run: Any) -> None:
    _sup, registry, out = run(["a", "b", "c"], Intensity(max_restarts=2, period_s=60))
    for _ in range(3):
        n = len(starts("a"))
        registry.tell(ActorName("a"), Crash())
        wait_until(lambda n=n: len(starts("a")) > n or out)
    wait_until(lambda: bool(out))
    assert out == [Outcome.ESCALATED]
    stops = [n for kind, n, _ in EVENTS if kind == "stop"]
    assert stops[-2:] == ["c", "b"]


def test_a_clean_stop_goes_in_reverse_order(run: Any) -> None:
    sup, _, out = run(["a", "b", "c"], Intensity())
    sup.request_stop()
    wait_until(lambda: bool(out))
    assert out == [Outcome.STOPPED]
    assert [n for kind, n, _ in EVENTS if kind == "stop"] == ["c", "b", "a"]


def test_an_unknown_or_undecodable_message_is_dropped_not_fatal(run: Any) -> None:
    _, registry, _ = run(["a"], Intensity())
    registry.tell_raw(ActorName("a"), b"\x93garbage")
    assert ask(registry, ActorName("a"), Echo(text="still here"), 5) == Echo(text="still here")
    assert len(starts("a")) == 1


def test_a_stop_requested_inside_another_stop_request_cannot_deadlock() -> None:
    """request_stop runs in the SIGTERM handler, and a handler runs between any two
    bytecodes of the main thread: a second SIGTERM may run it inside the first one's
    put.  With queue.Queue (a plain lock held inside put) that second put waited for
    its own thread forever, the supervisor's get with it, and the node never stopped."""
    sup = Supervisor([], Runtime(registry=Registry()))
    nested: list[bool] = []

    def second_signal(frame: Any, event: str, arg: Any) -> None:
        # a Python call inside the first put, under its lock, where a signal's handler
        # could run (queue.Queue._put); SimpleQueue's put is C, with no such point
        if event == "call" and not nested and frame.f_code.co_name == "_put":
            nested.append(True)
            sup.request_stop()

    done = threading.Event()

    def first_signal() -> None:
        sys.settrace(second_signal)
        try:
            sup.request_stop()
        finally:
            sys.settrace(None)
        done.set()

    threading.Thread(target=first_signal, daemon=True).start()
    assert done.wait(5), "the nested stop request deadlocked"
    out: list[Outcome] = []
    runner = threading.Thread(target=lambda: out.append(sup.run()), daemon=True)
    runner.start()
    runner.join(5)
    assert out == [Outcome.STOPPED]
