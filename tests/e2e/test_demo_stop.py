"""scripts/demo --stop signals the processes that serve the demo now, never a stale PID.

After failovers and restarts the postmaster PIDs recorded at start name
processes that are gone, or other processes since: --stop reads each data
directory's postmaster.pid and checks the process before it signals it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from demo import postmasters_to_stop, stop_detached  # type: ignore[import-not-found]
from localcluster import LocalCluster, safe_stop_order  # type: ignore[import-not-found]
from localprocs import alive  # type: ignore[import-not-found]


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def bystander(procs: list[subprocess.Popen[bytes]]) -> int:
    """A process that is no postgres: what a stale PID may name by now."""
    procs.append(subprocess.Popen(["sleep", "60"]))
    return procs[-1].pid


def fake_postmaster(procs: list[subprocess.Popen[bytes]], tmp: Path, data_dir: Path) -> int:
    """A process running a program named postgres in `data_dir`, as a postmaster does."""
    program = tmp / "bin" / "postgres"
    if not program.exists():
        program.parent.mkdir(exist_ok=True)
        shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
    procs.append(subprocess.Popen([str(program), "60"], cwd=data_dir))
    return procs[-1].pid


def data_dir(tmp: Path, name: str, pid: int | None) -> Path:
    path = tmp / name / "data"
    path.mkdir(parents=True)
    if pid is not None:
        (path / "postmaster.pid").write_text(f"{pid}\n{path}\n1700000000\n5432\n")
    return path


def test_only_a_live_postgres_of_that_data_directory_is_selected(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    serving = data_dir(tmp_path, "node1", None)
    (serving / "postmaster.pid").write_text(f"{fake_postmaster(procs, tmp_path, serving)}\n")
    elsewhere = data_dir(tmp_path, "node4", None)
    dirs = [
        serving,
        data_dir(tmp_path, "node2", bystander(procs)),  # reused PID: not postgres
        data_dir(tmp_path, "node3", 2**22 + 1),  # no such process
        elsewhere,  # no postmaster.pid at all
        # a postgres, but of another data directory
        data_dir(tmp_path, "node5", fake_postmaster(procs, tmp_path, elsewhere)),
    ]
    assert postmasters_to_stop(dirs) == [procs[0].pid]


def test_stop_never_signals_the_pids_recorded_at_start(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    stale = bystander(procs)
    stale_agent = bystander(procs)
    other_etcd = bystander(procs)
    node1 = data_dir(tmp_path, "node1", stale)  # the server restarted; its old PID reused
    node2 = data_dir(tmp_path, "node2", None)
    current = fake_postmaster(procs, tmp_path, node2)
    (node2 / "postmaster.pid").write_text(f"{current}\n")
    pids = {
        "etcd": other_etcd,
        "nodes": [{"pid": stale_agent, "config": str(tmp_path / "node1" / "pgactor.yaml")}],
        "postmasters": [stale],  # what an older demo recorded at start
        "data_dirs": [str(node1), str(node2)],
    }
    (tmp_path / "pids.json").write_text(json.dumps(pids))
    assert stop_detached(tmp_path) == 0
    assert all(alive(pid) for pid in (stale, stale_agent, other_etcd)), "a stale PID was signalled"
    procs[3].wait(timeout=10)  # the current postmaster was stopped
    assert not (tmp_path / "pids.json").exists()


def test_the_primary_stops_first_and_the_replicas_together(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path, pg_ports=[1, 2, 3], api_ports=[4, 5, 6])
    roles = {"node1": "streaming", "node2": "primary", "node3": "replica"}
    order = [[n.name for n in group] for group in safe_stop_order(cluster.nodes, roles)]
    assert order == [["node2"], ["node1", "node3"]]
    # No primary (it died, or nothing answers): everyone together.
    assert len(safe_stop_order(cluster.nodes, {})) == 1
