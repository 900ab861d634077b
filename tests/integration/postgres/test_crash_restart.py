"""A crashed primary started again runs its crash recovery with syncfs where the host
allows (issue 16: PostgreSQL's per-file fsync of the data directory took 2.2 s of a
2.4 s restart on a host with no free core; see actors/postgres/crashsync.py)."""

from __future__ import annotations

import os
import platform
import signal
import sys

import pytest

from actors.postgres import crashsync
from actors.postgres.bootstrap import initdb
from messages.cluster import Role
from messages.config import StopMode

from .conftest import PgFactory, wait_for

pytestmark = pytest.mark.integration


@pytest.mark.skipif(
    crashsync.default(14, sys.platform, platform.release()) == {},
    reason="syncfs is pgactor's default on Linux 5.8 or later only",
)
def test_a_crashed_primary_recovers_with_syncfs(pg: PgFactory) -> None:
    settings = pg.settings("crashsync")
    assert initdb(settings).ok
    pm = pg.postmaster(settings, "crashsync")
    assert pm.start(Role.PRIMARY, None, 30).ok
    try:
        pid = pm.postmaster_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not pm.is_alive(), 10, "the postmaster to die")
        restarted = pm.start(Role.PRIMARY, None, 30)
        assert restarted.ok, restarted.detail
        with open(pm.log_path, encoding="utf-8", errors="replace") as fh:
            assert "automatic recovery in progress" in fh.read()  # it did crash recovery
        assert pm.query("SHOW recovery_init_sync_method") == [("syncfs",)]
    finally:
        assert pm.stop(StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=10).ok
