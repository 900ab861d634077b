"""Each actor's OS thread carries its name, so per-actor CPU can be read from /proc."""

from __future__ import annotations

import threading
from pathlib import Path

from actors.runtime.actor import BaseActor
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from actors.runtime.thread_name import name_os_thread
from messages.base import ActorName


class Named(BaseActor):
    def where(self) -> tuple[int, str]:
        """Runs on the actor's thread, called through a proxy."""
        return threading.get_native_id(), threading.current_thread().name


def _comm(native_id: int) -> str:
    return Path(f"/proc/self/task/{native_id}/comm").read_text().strip()


def test_an_actor_thread_is_named_after_the_actor() -> None:
    ref = Named.start(name=ActorName("named"), runtime=Runtime(registry=Registry()))
    try:
        native_id, thread_name = ref.proxy().where().get(timeout=10)
        assert thread_name.startswith("Named")  # pykka's: the class and a number
        assert _comm(native_id) == thread_name[:15]
    finally:
        ref.stop()


def test_a_long_name_is_cut_to_what_linux_keeps() -> None:
    done: list[str] = []

    def run() -> None:
        name_os_thread("a-rather-long-thread-name")
        done.append(_comm(threading.get_native_id()))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert done == ["a-rather-long-t"]
