"""The fence outlives whatever stops, hangs up or kills its agent's process group.

A stand-in agent (fence_agent.py: a real WatchdogActor in a process of its
own, leader of its own process group) arms the fence over a real primary; the
test then signals the agent's whole group, as Ctrl-Z, a frozen terminal, a
hangup or ``kill -9 -PGID`` would.  The fence must still kill PostgreSQL at
the armed time: a frozen agent's primary must not keep acknowledging writes
while another member promotes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from actors.postgres import procfs
from actors.postgres.control import Postmaster
from actors.postgres.oscommand import run_dir
from messages.cluster import Role
from messages.codec import encode
from messages.config import StopMode

from .conftest import PgFactory, wait_for

pytestmark = pytest.mark.integration

AGENT = os.path.join(os.path.dirname(__file__), "fence_agent.py")
LEAD_S = 2.0
"""How far ahead the fence is armed: time enough to signal the group before it is due."""
LATE_S = 1.0
"""How late after the armed time the kill may come (the fence's own wake-up, our polling)."""


@pytest.fixture(scope="module")
def shared(pg: PgFactory) -> Iterator[Postmaster]:
    pm = pg.bootstrap_primary(f"session-{time.monotonic_ns()}")
    yield pm
    pm.stop(StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=10)


@pytest.fixture
def server(shared: Postmaster) -> Postmaster:
    """The module's primary, running (a previous test's fence killed it)."""
    if not shared.is_alive():
        started = shared.start(Role.PRIMARY, None, 30)
        assert started.ok, started.detail
    return shared


def _record(pm: Postmaster) -> tuple[int, float | None] | None:
    try:
        with open(os.path.join(run_dir(pm.settings), "fence.json")) as fh:
            state = json.load(fh)
    except (OSError, ValueError):
        return None
    return int(state["pid"]), state["fire_at"]


def _gone(pm: Postmaster) -> bool:
    return not pm.is_alive() and not procfs.processes_in_dir(pm.settings.data_dir)


def _start_agent(pm: Postmaster) -> subprocess.Popen[bytes]:
    args = [sys.executable, AGENT, encode(pm.settings).hex()]
    return subprocess.Popen(args, stdin=subprocess.PIPE, start_new_session=True)


def _arm(agent: subprocess.Popen[bytes], pm: Postmaster) -> tuple[int, float]:
    """Arm through the agent; the fence's PID and the armed time, once the fence holds it."""
    # the fence runs first: the new record replaces any earlier test's
    wait_for(lambda: (_record(pm) or (agent.pid, 0))[0] != agent.pid, 10, "the fence to start")
    fire_at = time.monotonic() + LEAD_S
    assert agent.stdin is not None
    agent.stdin.write(f"arm {fire_at:.6f}\n".encode())
    agent.stdin.flush()

    def armed() -> int | None:
        record = _record(pm)
        held = record is not None and record[1] is not None and abs(record[1] - fire_at) < 1e-3
        return record[0] if record is not None and held else None

    return wait_for(armed, 10, "the fence to record the arming"), fire_at


def _end(agent: subprocess.Popen[bytes], fence_pid: int | None) -> None:
    """Everything this test started, by PID: the agent's group, then the fence."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(agent.pid, signal.SIGCONT)
    with contextlib.suppress(OSError):
        assert agent.stdin is not None
        agent.stdin.write(b"quit\n")
        agent.stdin.close()
    try:
        agent.wait(10)
    except subprocess.TimeoutExpired:
        agent.kill()
        agent.wait()
    if fence_pid is not None and procfs.pid_alive(fence_pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(fence_pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "sig",
    [signal.SIGSTOP, signal.SIGHUP, signal.SIGINT, signal.SIGKILL],
    ids=["stopped", "hung-up", "interrupted", "killed"],
)
def test_a_signal_to_the_agents_process_group_leaves_the_fence_firing_on_time(
    server: Postmaster, sig: signal.Signals
) -> None:
    agent = _start_agent(server)
    fence_pid = None
    try:
        old = server.postmaster_pid()
        fence_pid, fire_at = _arm(agent, server)
        os.killpg(agent.pid, sig)
        assert time.monotonic() < fire_at, "the group was signalled only after the armed time"
        assert procfs.pid_alive(fence_pid), f"the fence died of {sig.name} sent to the agent"
        wait_for(lambda: _gone(server), LEAD_S + 5, "the fence to kill PostgreSQL")
        killed_at = time.monotonic()
        assert fire_at <= killed_at <= fire_at + LATE_S, f"killed {killed_at - fire_at:+.2f} s"
        assert old is not None and not procfs.pid_alive(old)
    finally:
        _end(agent, fence_pid)


def test_a_clean_agent_stop_still_ends_its_fence(server: Postmaster) -> None:
    agent = _start_agent(server)
    fence_pid = None
    try:
        fence_pid, _ = _arm(agent, server)
        assert agent.stdin is not None
        agent.stdin.write(b"quit\n")  # the actor's clean stop: it tells its fence to quit
        agent.stdin.flush()
        assert agent.wait(10) == 0
        wait_for(lambda: not procfs.pid_alive(fence_pid), 5, "the fence to exit")
        assert server.is_alive()
    finally:
        _end(agent, fence_pid)
