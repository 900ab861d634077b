"""A killed postmaster's socket lock file is removed before the next start, not a live one's."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from actors.postgres import procfs
from actors.postgres.shutdown import clear_leftovers


def _lock(directory: Path, port: int, pid: object) -> Path:
    path = directory / f".s.PGSQL.{port}.lock"
    path.write_text(f"{pid}\n/data\n")
    return path


def test_a_lock_of_a_dead_or_zombie_process_goes_a_live_ones_stays(tmp_path: Path) -> None:
    data, sockets = tmp_path / "data", tmp_path / "run"
    data.mkdir()
    sockets.mkdir()
    zombie = subprocess.Popen(["true"])  # never waited for: a zombie, as PostgreSQL sees it
    try:
        deadline = time.monotonic() + 10
        while procfs.pid_alive(zombie.pid):  # it exits at once; until then, not a zombie yet
            assert time.monotonic() < deadline, "true did not exit"
            time.sleep(0.01)
        stale = _lock(sockets, 5001, zombie.pid)
        live = _lock(sockets, 5002, os.getpid())
        garbage = _lock(sockets, 5003, "not a pid")
        assert clear_leftovers(str(data), str(sockets))
        assert not stale.exists()
        assert live.exists() and garbage.exists()
    finally:
        zombie.wait()
