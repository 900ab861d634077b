"""DeathWatch: a process's end is told at once, a cancelled watch tells nothing."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading

from actors.postgres.deathwatch import DeathWatch


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_the_end_of_the_watched_process_is_told_once_with_its_pid() -> None:
    told: queue.SimpleQueue[int] = queue.SimpleQueue()
    watch = DeathWatch(told.put)
    proc = sleeper()
    try:
        assert watch.watch(proc.pid)
        assert told.empty()
        proc.kill()
        assert told.get(timeout=5) == proc.pid
    finally:
        proc.kill()
        proc.wait()
        watch.close()
    assert told.empty()


def test_a_watch_replaced_or_closed_tells_nothing() -> None:
    told: queue.SimpleQueue[int] = queue.SimpleQueue()
    watch = DeathWatch(told.put)
    first, second = sleeper(), sleeper()
    try:
        assert watch.watch(first.pid)
        assert watch.watch(second.pid) and watch.pid == second.pid
        first.kill()
        first.wait()
        watch.close()
        second.kill()
        second.wait()
        # Both watching threads have ended (by the cancel) without telling anything.
        for thread in threading.enumerate():
            if thread.name == "deathwatch":
                thread.join(5)
        assert told.empty()
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait()


def test_a_process_that_is_gone_cannot_be_watched() -> None:
    proc = sleeper()
    proc.kill()
    proc.wait()
    assert not DeathWatch(lambda pid: None).watch(proc.pid)
    assert DeathWatch(lambda pid: None).watch(None)
