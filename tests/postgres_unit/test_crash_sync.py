"""A crashed primary's restart syncs its data directory with syncfs where that is as safe
as PostgreSQL's per-file fsync (issue 16: the per-file walk took 2.2 s of a 2.4 s
restart on a host with no free core; syncfs 0.12 s)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from actors.postgres import crashsync
from actors.postgres.conffiles import server_parameters
from messages.config import Authentication, PostgresSettings, UserCredentials

USER = UserCredentials(username="postgres")


@pytest.mark.parametrize(
    ("pg", "system", "release", "expected"),
    [
        (15, "linux", "6.18.44-fc-v1272", {"recovery_init_sync_method": "syncfs"}),
        (14, "linux", "5.8.0", {"recovery_init_sync_method": "syncfs"}),
        (17, "linux", "5.10.0-28-amd64", {"recovery_init_sync_method": "syncfs"}),
        (14, "linux", "5.7.19", {}),  # syncfs did not report write-back errors yet
        (14, "linux", "4.19.0-26-amd64", {}),
        (13, "linux", "6.1.0", {}),  # no such setting: the server would refuse to start
        (None, "linux", "6.1.0", {}),  # no cluster (yet): nothing to sync
        (15, "darwin", "23.1.0", {}),
        (15, "linux", "unknown", {}),
    ],
)
def test_syncfs_only_where_it_is_as_safe_as_fsync(
    pg: int | None, system: str, release: str, expected: dict[str, str]
) -> None:
    assert crashsync.default(pg, system, release) == expected


def test_the_major_version_comes_from_the_data_directory(tmp_path: Path) -> None:
    assert crashsync.pg_major(str(tmp_path)) is None
    (tmp_path / "PG_VERSION").write_text("15\n")
    assert crashsync.pg_major(str(tmp_path)) == 15


def params(data_dir: Path, local: dict[str, str], dynamic: dict[str, str]) -> dict[str, str]:
    settings = PostgresSettings(
        data_dir=str(data_dir),
        bin_dir="/nonexistent",
        listen_host="127.0.0.1",
        listen_port=5432,
        connect_host="127.0.0.1",
        connect_port=5432,
        authentication=Authentication(superuser=USER, replication=USER),
        parameters=local,
    )
    return server_parameters(settings, scope="s", socket_dir="/tmp", dynamic=dynamic, sync_names="")


@pytest.fixture
def modern_linux(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A PostgreSQL 15 data directory on a Linux 6.1 host."""
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform, "release", lambda: "6.1.0-18-amd64")
    (tmp_path / "PG_VERSION").write_text("15\n")
    return tmp_path


def test_postgresql_conf_gets_syncfs_by_default(modern_linux: Path) -> None:
    assert params(modern_linux, {}, {})["recovery_init_sync_method"] == "syncfs"


def test_the_operators_value_wins(modern_linux: Path) -> None:
    cluster = {"recovery_init_sync_method": "fsync"}
    assert params(modern_linux, {}, cluster)["recovery_init_sync_method"] == "fsync"
    assert params(modern_linux, cluster, {})["recovery_init_sync_method"] == "fsync"


def test_an_old_kernel_keeps_postgresqls_default(
    modern_linux: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "release", lambda: "5.4.0-150-generic")
    assert "recovery_init_sync_method" not in params(modern_linux, {}, {})
