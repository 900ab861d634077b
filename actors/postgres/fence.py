"""The fence: a small process that kills PostgreSQL when its agent stops re-arming it.

Patroni guards against a hung agent with the kernel's watchdog device, which
resets the machine.  Containers rarely have one, so pgactor runs this instead:
a separate process (``python -m actors.postgres.fence DATA_DIR STATE_DIR``) that reads
commands on stdin, one per line::

    arm <fire_at>     kill PostgreSQL at monotonic time <fire_at>
    disarm            kill nothing
    quit              disarm and exit

After each line it answers on stdout with the arming it now holds
(``armed <fire_at>`` or ``disarmed``): the agent's proof that a live fence
took the command.  The answer is dropped rather than written when the pipe is
full: a fence must never wait on its agent.

CLOCK_MONOTONIC is one clock for every process of the machine, so the agent's
deadlines mean the same here.  Being another process, the fence keeps running
when the agent is frozen (SIGSTOP, a stuck thread holding the GIL) or killed:
on end of input it still fires at the armed time, unless a newer fence for
the same data directory (the agent started again) has armed a later time by
then.  Each fence records its arming in ``fence.json`` in STATE_DIR (the
instance's run directory) for that hand-over, and with it the firings of every
fence of this data directory so far (``fired``, a count carried from fence to
fence, and ``fired_at``, the wall time of the last): a fence fires exactly when
its agent cannot see it, so the agent learns of a firing from this file when it
runs again (see read_record).  Writing the file is best-effort: a fence that
cannot write it still fires.

The agent starts the fence in a session of its own, so what stops or kills
the agent's process group (Ctrl-Z, ``kill -STOP -PGID``, a terminal's hangup)
never reaches it; it ignores SIGHUP and SIGINT besides, and a log line it
cannot write (a closed terminal, a dead log pipe) is dropped, never fatal.
(A cgroup freeze takes every process of the cgroup, this one too: only a
fence in another cgroup, or the kernel's watchdog, survives that.)

Firing SIGKILLs the postmaster, its children and any PostgreSQL process left
in the data directory: no backend may acknowledge a commit after that moment.
A standby is killed too: the agent keeps the fence armed only while it holds
the lock or may still be primary, and a lock holder arms before it promotes,
so a "standby" under an armed fence may be one promotion away from taking
writes (an agent frozen in the middle of a slow promote).  Killing a standby
costs a restart; sparing one could cost two writers.
Only stdlib and procfs are imported: the fence must start fast and stay small.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import sys
import time
from typing import NamedTuple

from actors.postgres import procfs

STATE_FILE = "fence.json"
_MAX_LINE = 256


class Record(NamedTuple):
    """What ``fence.json`` says: the recording fence and its arming, and every firing."""

    pid: int
    fire_at: float | None
    fired: int = 0
    fired_at: float | None = None
    """Wall-clock (epoch) seconds of the last firing; None before the first."""


def read_record(state_dir: str) -> Record | None:
    """The record in `state_dir`; None when there is none or it cannot be read."""
    try:
        with open(os.path.join(state_dir, STATE_FILE), encoding="utf-8") as fh:
            state = json.load(fh)
        fire_at, fired_at = state["fire_at"], state.get("fired_at")
        return Record(
            pid=int(state["pid"]),
            fire_at=None if fire_at is None else float(fire_at),
            fired=max(0, int(state.get("fired", 0))),
            fired_at=None if fired_at is None else float(fired_at),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


class Fence:
    def __init__(self, data_dir: str, state_dir: str) -> None:
        self.data_dir = data_dir
        self.state_dir = state_dir
        self.state_path = os.path.join(state_dir, STATE_FILE)
        self.fire_at: float | None = None
        self.fired = 0  # of every fence of this directory: see _record
        self.fired_at: float | None = None

    def command(self, line: str) -> bool:
        """Apply one command; False on ``quit``.  A bad line is reported and ignored."""
        word, _, arg = line.strip().partition(" ")
        if word == "arm":
            try:
                fire_at = float(arg)
            except ValueError:
                fire_at = math.nan
            if not math.isfinite(fire_at):
                _say(f"ignored: arm needs a monotonic time, got {arg!r}")
                return True
            self.fire_at = fire_at
        elif word in ("disarm", "quit"):
            self.fire_at = None
        elif word:
            _say(f"ignored: unknown command {word!r}")
            return True
        self._record()
        return word != "quit"

    def holding(self) -> str:
        return answer_for(self.fire_at)

    def fire_if_due(self, now: float) -> None:
        if self.fire_at is None or now < self.fire_at:
            return
        self.fire_at = None
        if self._superseded(now):  # and its record stays the one that counts
            _say("a newer fence guards this data directory: standing down")
            return
        self._fire()
        self._record(fired=True)  # after the kill: recording must never delay it

    def _fire(self) -> None:
        # Whatever role the server claims (standby.signal is only a promotion away
        # from gone): see the module docstring.
        pid_file = procfs.read_pid_file(self.data_dir)
        killed = procfs.kill_server(pid_file.pid if pid_file else None, self.data_dir)
        _say(f"the agent did not re-arm in time: killed PostgreSQL {killed}")

    def _record(self, *, fired: bool = False) -> None:
        # Count on from any firing another fence of this directory recorded since this
        # one started (the fence of a dead agent, firing beside its successor's).
        recorded = read_record(self.state_dir)
        if recorded is not None and recorded.fired > self.fired:
            self.fired, self.fired_at = recorded.fired, recorded.fired_at
        if fired:
            self.fired, self.fired_at = self.fired + 1, time.time()
        state = {
            "pid": os.getpid(),
            "fire_at": self.fire_at,
            "fired": self.fired,
            "fired_at": self.fired_at,
        }
        tmp = f"{self.state_path}.{os.getpid()}"
        with contextlib.suppress(OSError):
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(state, fh)
            os.replace(tmp, self.state_path)

    def _superseded(self, now: float) -> bool:
        """Another live fence armed past `now`: the agent runs again and renews."""
        record = read_record(self.state_dir)
        if record is None or record.pid == os.getpid() or not procfs.pid_alive(record.pid):
            return False
        return record.fire_at is not None and record.fire_at > now


def run(fence: Fence, fd: int, out_fd: int | None = None) -> None:
    """Serve commands from `fd` until ``quit``, or until end of input and firing;
    answer each with the arming held, on `out_fd`."""
    pending = b""
    while True:
        now = time.monotonic()
        fence.fire_if_due(now)
        wait = None if fence.fire_at is None else max(0.0, fence.fire_at - now)
        readable, _, _ = select.select([fd], [], [], wait)
        if not readable:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:  # the agent is gone: still guard what it armed
            _drain(fence)
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) > _MAX_LINE:
            _say("ignored: a line too long")
            pending = b""
        for line in lines:
            if not fence.command(line.decode("ascii", "replace")):
                return
            if out_fd is not None:
                _answer(out_fd, fence.holding())


def answer_for(fire_at: float | None) -> str:
    """The answer for an arming: the agent builds the same text to compare."""
    return "disarmed" if fire_at is None else f"armed {fire_at:.6f}"


def _answer(fd: int, text: str) -> None:
    # Writable means PIPE_BUF bytes free, and a shorter write never blocks: a frozen
    # agent that stopped reading answers costs answers, never the fence's firing.
    with contextlib.suppress(OSError, ValueError):
        if select.select([], [fd], [], 0)[1]:
            os.write(fd, text.encode("ascii") + b"\n")


def _drain(fence: Fence) -> None:
    while fence.fire_at is not None:
        time.sleep(max(0.0, fence.fire_at - time.monotonic()))
        fence.fire_if_due(time.monotonic())


def _say(text: str) -> None:
    # The agent's log line layout, so the fence's lines sort in among the agent's.
    stamp = time.strftime("%Y-%m-%d %H:%M:%S") + f",{int(time.time() * 1000) % 1000:03d}"
    with contextlib.suppress(OSError):  # a hung-up terminal or a dead log reader
        print(f"{stamp} WARNING fence[{os.getpid()}]: {text}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        _say("usage: python -m actors.postgres.fence DATA_DIR STATE_DIR")
        return 2
    # Ctrl-C or a hangup meant for the agent (sent to its terminal or group by hand):
    # the agent stops cleanly and then tells us; a fence dying of it first would leave
    # a frozen agent unguarded.  SIGTERM still ends the fence (a service manager's stop).
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    run(Fence(argv[0], argv[1]), sys.stdin.fileno(), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
