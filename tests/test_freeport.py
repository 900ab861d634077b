"""The one free_port every suite uses (scripts/freeport.py), under parallel workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def ports_of(worker: str, count: str, n: int = 300) -> list[int]:
    """`n` ports handed out by a fresh process as pytest-xdist's worker `worker` would."""
    code = f"from freeport import free_port; print(*[free_port() for _ in range({n})])"
    env = {"PYTEST_XDIST_WORKER": worker, "PYTEST_XDIST_WORKER_COUNT": count}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=SCRIPTS,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return [int(p) for p in done.stdout.split()]


@pytest.mark.parametrize("worker", ["gw0", "gw1"])
def test_two_workers_never_hand_out_the_same_port(worker: str) -> None:
    """Each worker draws from its own lane: a port one worker handed out (and whose
    server has not bound it yet) is never handed out by the other."""
    lane = int(worker[2:])
    assert {port % 2 for port in ports_of(worker, "2")} == {lane}


def test_one_process_never_hands_out_a_port_twice_in_a_row() -> None:
    """A cluster takes a dozen ports before any server binds one: no repeats."""
    ports = ports_of("", "", n=400)
    assert len(set(ports)) == len(ports)
    assert not {5433, 5434, 5435, 8008, 8009, 8010} & set(ports)
