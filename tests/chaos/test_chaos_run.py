"""The short chaos run (scripts/chaos/run.py --rounds 1), when this machine allows it.

Every fault once, on three members in network namespaces with synchronous_mode
strict: no acknowledged write lost, never two members taking writes at once,
and back to one primary and two streaming replicas after each heal.  A failed
run keeps its logs, write history and fault timeline (the path is in the
failure message).
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


@pytest.mark.timeout(900)
def test_every_fault_once_loses_nothing_and_never_splits_the_brain() -> None:
    out = Path(tempfile.mkdtemp(prefix="pgactor-chaos-", dir="/tmp"))
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "chaos" / "run.py"),
            "--rounds",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    print(run.stdout[-4000:], run.stderr[-4000:])
    result_path = out / "result.json"
    assert run.returncode == 0, f"chaos run failed; logs, history and timeline in {out}"
    result = json.loads(result_path.read_text())
    assert result["ok"] and not result["lost"] and not result["split_brain"]
    assert result["acknowledged"] > 0, "the writers never got a write acknowledged"
    shutil.rmtree(out, ignore_errors=True)
