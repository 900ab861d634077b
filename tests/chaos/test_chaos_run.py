"""The short chaos runs (scripts/chaos/run.py --rounds 1), when this machine allows it.

Faults on three members in network namespaces, with the short timing profile
(ttl 6): never two members writable at one instant, no acknowledged write
lost, and back to one primary and two streaming replicas after each heal.
CI's round takes the faults only the namespaces can make, or that no other
test makes: synchronous_mode strict takes the deaths, the freeze, the cuts,
the isolation, etcd's restart and the degraded link; asynchronous mode with
failsafe_mode takes failsafe's (etcd frozen, the primary cut from it).  The
faults tests/e2e/test_safety.py already makes on a plain local cluster (timing
edits under a frozen leader, a whole-cluster restart, a frozen process group)
and switchovers (every e2e module makes them) fire in the 30-minute runs
(--duration 1800 --mode sync|async), which fire every fault in each mode.  A
failed run keeps its logs, write history and fault timeline (the path is in
the failure message).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from chaos.netns import namespaces_available  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("pg_config") is None, reason="needs PostgreSQL 15"),
    pytest.mark.skipif(
        os.geteuid() != 0 or not namespaces_available(),
        reason="needs root to make network namespaces",
    ),
]

ASYNC_FAILSAFE = ["freeze_etcd", "cut_from_dcs"]
SYNC_STRICT = [
    "kill_agent",
    "kill_postmaster",
    "kill_both",
    "pause_agent",
    "cut_from_replicas",
    "isolate_member",
    "restart_etcd",
    "netem",
]


def run_round(*args: str) -> dict[str, object]:
    out = Path(tempfile.mkdtemp(prefix="pgactor-chaos-", dir="/tmp"))
    argv = [sys.executable, str(ROOT / "scripts" / "chaos" / "run.py"), "--rounds", "1"]
    run = subprocess.run(
        [*argv, "--ttl", "6", "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    print(run.stdout[-4000:], run.stderr[-4000:])
    assert run.returncode == 0, f"chaos run failed; logs, history and timeline in {out}"
    result = json.loads((out / "result.json").read_text())
    assert result["ok"] and not result["lost"] and not result["split_brain"]
    assert result["acknowledged"] > 0, "the writers never got a write acknowledged"
    shutil.rmtree(out, ignore_errors=True)
    return dict(result)


@pytest.mark.timeout(450)
def test_sync_strict_faults_once_lose_nothing_and_never_split_the_brain() -> None:
    run_round("--mode", "sync", "--faults", ",".join(SYNC_STRICT))


@pytest.mark.timeout(450)
def test_async_failsafe_faults_once_lose_nothing_planned_and_never_split_the_brain() -> None:
    result = run_round("--mode", "async", "--failsafe", "--faults", ",".join(ASYNC_FAILSAFE))
    assert not result["failsafe_gaps"]


@pytest.mark.timeout(120)
def test_a_terminated_run_leaves_no_process_and_no_namespace_behind() -> None:
    """SIGTERM in the middle of a run (an operator's Ctrl-C through a service manager,
    a CI timeout) unwinds through the run's cleanup."""
    out = Path(tempfile.mkdtemp(prefix="pgactor-chaos-term-", dir="/tmp"))
    argv = [sys.executable, str(ROOT / "scripts" / "chaos" / "run.py"), "--rounds", "1"]
    run = subprocess.Popen(
        [*argv, "--ttl", "6", "--out", str(out), "--faults", "switchover"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    prefix = f"pgc{run.pid % 100000}-"
    try:
        deadline = time.monotonic() + 60
        while len(_processes_under(out, run.pid)) < 5 and time.monotonic() < deadline:
            time.sleep(0.2)  # a poll: etcd, the three agents and the client appear
        assert len(_processes_under(out, run.pid)) >= 5, "the run did not start its cluster"
        assert any(n.startswith(prefix) for n in _namespaces())
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) != 0
        assert _processes_under(out) == [], "processes of the run outlived it"
        assert not any(n.startswith(prefix) for n in _namespaces()), "namespaces left"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for pid in _processes_under(out):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for name in _namespaces():
            if name.startswith(prefix):
                subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(out, ignore_errors=True)


def _processes_under(out: Path, besides: int = 0) -> list[int]:
    """Processes whose command line names a path below `out` (agents, etcd, client)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != besides:
            with contextlib.suppress(OSError):
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
                if any(str(out).encode() in a for a in argv):
                    found.append(int(entry))
    return found


def _namespaces() -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]
