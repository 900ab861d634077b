"""The runtime record: one registry, scheduler and pair of clocks for every actor of a node."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pykka
import pytest

from actors.runtime.actor import BaseActor, ask, handles
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from actors.runtime.supervisor import ChildSpec, Outcome, Supervisor
from messages.base import ActorName, Message, message

CHILD = ActorName("child")
SEEN: list[Runtime] = []


@message("test.runtime.read_clocks")
class ReadClocks(Message):
    pass


@message("test.runtime.clocks")
class Clocks(Message):
    clock: float = 0.0
    wall: float = 0.0


@message("test.runtime.fail")
class Fail(Message):
    pass


class Reader(BaseActor):
    def started(self) -> None:
        SEEN.append(self.runtime)

    @handles(ReadClocks)
    def handle_read(self, msg: ReadClocks) -> Clocks:
        return Clocks(clock=self.runtime.clock(), wall=self.runtime.wall())

    @handles(Fail)
    def handle_fail(self, msg: Fail) -> None:
        raise RuntimeError("asked to fail")


@pytest.fixture
def supervised() -> Iterator[tuple[Runtime, Supervisor]]:
    """A supervisor over one Reader, on a runtime whose wall clock is fake.

    Only the wall clock is fake: the supervisor times its restarts on the
    monotonic one, which must advance for the restart to fall due.
    """
    SEEN.clear()
    runtime = Runtime(registry=Registry(), wall=lambda: 1_000_000.0)
    supervisor = Supervisor([ChildSpec(name=CHILD, actor_class=Reader)], runtime)
    outcome: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcome.append(supervisor.run()), daemon=True)
    thread.start()
    try:
        yield runtime, supervisor
    finally:
        supervisor.request_stop()
        thread.join(10)
        pykka.ActorRegistry.stop_all()


def wait_for_starts(count: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(SEEN) < count:
        assert time.monotonic() < deadline, f"{count} starts not seen in time: {len(SEEN)}"
        time.sleep(0.01)


def read(runtime: Runtime) -> Clocks:
    reply = ask(runtime.registry, CHILD, ReadClocks(), timeout_s=5)
    assert isinstance(reply, Clocks)
    return reply


def test_a_child_reads_the_clocks_of_the_runtime_its_supervisor_was_given(
    supervised: tuple[Runtime, Supervisor],
) -> None:
    runtime, _ = supervised
    wait_for_starts(1)
    assert len(SEEN) == 1 and SEEN[0] is runtime
    assert read(runtime).wall == 1_000_000.0


def test_a_restarted_child_gets_the_same_runtime_again(
    supervised: tuple[Runtime, Supervisor],
) -> None:
    runtime, supervisor = supervised
    wait_for_starts(1)
    runtime.registry.tell(CHILD, Fail())
    wait_for_starts(2)
    assert all(seen is runtime for seen in SEEN)
    assert supervisor.restarts(CHILD) == 1
    assert read(runtime).wall == 1_000_000.0


def test_timers_without_a_scheduler_are_refused_with_the_actors_name() -> None:
    with pytest.raises(ValueError, match="actor ha sets timers, but its runtime has no scheduler"):
        Runtime(registry=Registry()).timers(ActorName("ha"))
