"""The short chaos runs (scripts/chaos/run.py --rounds 1), when this machine allows it.

Every fault once, on three members in network namespaces, with the short
timing profile (ttl 6): never two members writable at one instant, no
acknowledged write lost, and back to one primary and two streaming replicas
after each heal.  Two runs share the fault set so that both fit in about four
minutes: synchronous_mode strict takes most faults; asynchronous mode with
failsafe_mode takes the ones whose danger is asynchronous (a whole-cluster
restart keeping what only the primary acknowledged, a frozen process group,
a ttl raised under a frozen leader) or failsafe's (etcd frozen, the primary
cut from it).  The 30-minute runs (--duration 1800 --mode sync|async) fire
every fault in each mode.  A failed run keeps its logs, write history and
fault timeline (the path is in the failure message).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
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

ASYNC_FAILSAFE = ["full_restart", "freeze_group", "ttl_up_freeze", "freeze_etcd", "cut_from_dcs"]
SYNC_STRICT = [
    "kill_agent",
    "kill_postmaster",
    "kill_both",
    "pause_agent",
    "cut_from_replicas",
    "isolate_member",
    "restart_etcd",
    "netem",
    "ttl_down_freeze",
    "timing_edit_freeze",
    "switchover",
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
