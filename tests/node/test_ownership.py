"""The data directory's ownership lock: one agent at a time, released when it dies.

The owners here are real processes: a child that takes the lock (and, in one
test, starts a grandchild of its own the way the agent starts a postmaster or
a fence), so what the kernel does with the lock when an owner dies is what
is checked.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.ownership import AlreadyOwned, OwnershipError, lock_path, take

# Takes the lock, starts a grandchild that keeps every descriptor it may inherit
# (close_fds=False: only close-on-exec keeps the lock out of it), prints both PIDs.
OWNER = """
import subprocess, sys
from node.ownership import take
held = take(sys.argv[1])
kid = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                       stdin=subprocess.PIPE, close_fds=False)
print(kid.pid, flush=True)
sys.stdin.read()
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    """A process holding the lock of ``<tmp>/pg/data``, and its grandchild's PID."""
    data_dir = str(tmp_path / "pg" / "data")  # neither it nor its parent exists yet
    proc = subprocess.Popen(
        [sys.executable, "-c", OWNER, data_dir],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    grandchild = int(proc.stdout.readline())
    try:
        yield proc, grandchild, data_dir
    finally:
        for pid in (proc.pid, grandchild):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()


def test_a_second_agent_is_refused_with_the_owners_pid(
    owner: tuple[subprocess.Popen[str], int, str],
) -> None:
    proc, _, data_dir = owner
    with pytest.raises(AlreadyOwned) as refused:
        take(data_dir)
    assert refused.value.owner_pid == proc.pid
    message = str(refused.value)
    assert data_dir in message and f"PID {proc.pid}, running" in message, message


def test_the_lock_is_released_when_its_owner_is_killed_and_its_children_never_hold_it(
    owner: tuple[subprocess.Popen[str], int, str],
) -> None:
    proc, grandchild, data_dir = owner
    path = lock_path(data_dir)
    held = {
        os.path.realpath(f"/proc/{grandchild}/fd/{fd}")
        for fd in os.listdir(f"/proc/{grandchild}/fd")
    }
    assert path not in held, "the agent's child inherited the lock's descriptor"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _alive(grandchild), "a child of the dead owner still runs (as a postmaster would)"
    ownership = take(data_dir)  # no stale lock after kill -9
    try:
        assert Path(path).read_text() == f"{os.getpid()}\n"
    finally:
        ownership.release()


def test_a_released_lock_can_be_taken_again_and_the_file_stays(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    first = take(data_dir)
    with pytest.raises(AlreadyOwned):
        take(data_dir)  # a second open file in this very process is refused too
    first.release()
    take(data_dir).release()
    assert os.path.exists(lock_path(data_dir))


def test_every_spelling_of_the_data_directory_shares_one_lock(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    held = take(str(tmp_path / "real"))
    try:
        with pytest.raises(AlreadyOwned):
            take(str(tmp_path / "link") + "/")
    finally:
        held.release()


def test_a_symlink_planted_at_the_lock_path_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    Path(lock_path(str(tmp_path / "data"))).symlink_to(victim)
    with pytest.raises(OwnershipError, match=re.escape("data.pgactor.lock")):
        take(str(tmp_path / "data"))
    assert victim.read_text() == "precious\n"


def test_a_lock_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OwnershipError, match="cannot open the ownership lock"):
        take(str(tmp_path / "file" / "data"))
