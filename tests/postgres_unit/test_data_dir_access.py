"""Whether PostgreSQL's OS user can read its data directory, judged as the kernel would.

pgactor runs as root in these tests; ``nobody`` stands in for PostgreSQL's user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.postgres.datadir import is_gone, unreadable
from actors.postgres.oscommand import OsUser


@pytest.fixture
def nobody() -> OsUser:
    entry = pwd.getpwnam("nobody")
    return OsUser("nobody", entry.pw_uid, entry.pw_gid, "/", switch=True)


@pytest.fixture
def base() -> Iterator[Path]:
    """A dir every user may enter (pytest's own tmp dirs are 0700: nobody could)."""
    path = Path(tempfile.mkdtemp(prefix="pgactor-access-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_dir(base: Path, nobody: OsUser) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("judging another user's access needs root to set the files up")
    path = base / "data"
    (path / "global").mkdir(parents=True)
    (path / "PG_VERSION").write_text("15\n")
    (path / "global" / "pg_control").write_bytes(b"\0" * 8192)
    for item in (path, path / "global", path / "PG_VERSION", path / "global" / "pg_control"):
        os.chown(item, nobody.uid, nobody.gid)
    os.chmod(path, 0o700)
    yield path
    os.chmod(path, 0o700)


def test_a_readable_directory_has_no_problem(data_dir: Path, nobody: OsUser) -> None:
    assert unreadable(str(data_dir), nobody) == ""


@pytest.mark.parametrize(
    ("relative", "mode"),
    [("", 0o000), ("", 0o300), ("global", 0o600), ("PG_VERSION", 0o200), ("global/pg_control", 0)],
)
def test_what_the_user_cannot_read_is_named(
    data_dir: Path, nobody: OsUser, relative: str, mode: int
) -> None:
    target = data_dir / relative if relative else data_dir
    os.chmod(target, mode)
    try:
        problem = unreadable(str(data_dir), nobody)
    finally:
        os.chmod(target, 0o700)
    assert problem == f"cannot read {target}: permission denied for the OS user nobody"


def test_group_and_other_bits_count_for_a_user_that_does_not_own_the_files(
    data_dir: Path, nobody: OsUser
) -> None:
    os.chown(data_dir, 0, 0)
    os.chmod(data_dir, 0o705)  # other: read and enter
    assert unreadable(str(data_dir), nobody) == ""
    os.chmod(data_dir, 0o750)  # group root: nobody is not in it
    assert "permission denied" in unreadable(str(data_dir), nobody)


def test_an_ancestor_the_user_cannot_enter_makes_the_directory_unreadable(
    data_dir: Path, nobody: OsUser
) -> None:
    os.chmod(data_dir.parent, 0o700)  # owned by root
    try:
        problem = unreadable(str(data_dir), nobody)
    finally:
        os.chmod(data_dir.parent, 0o755)
    assert problem.startswith(f"cannot read {data_dir.parent}:")


def test_an_absent_directory_is_not_unreadable_but_gone(tmp_path: Path, nobody: OsUser) -> None:
    missing = tmp_path / "missing"
    assert unreadable(str(missing), nobody) == ""
    assert is_gone(str(missing))
