"""Starting, stopping and losing a postmaster; callbacks."""

from __future__ import annotations

import base64
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import psycopg2
import pytest

from actors.postgres import procfs
from actors.postgres.bootstrap import initdb
from actors.postgres.callbacks import CallbackAction, CallbackRunner
from actors.postgres.control import Postmaster
from messages.cluster import PgState, Role
from messages.config import Callbacks, StopMode

from .conftest import PgFactory, sql, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scratch_settings(pg: PgFactory):  # type: ignore[no-untyped-def]
    settings = pg.settings("scratch")
    assert initdb(settings).ok
    return settings


@pytest.fixture
def scratch(pg: PgFactory, scratch_settings) -> Iterator[Postmaster]:  # type: ignore[no-untyped-def]
    """A primary of its own, started for each test and stopped after it."""
    pm = pg.postmaster(scratch_settings, "scratch")
    started = pm.start(Role.PRIMARY, None, 30)
    assert started.ok, started.detail
    yield pm
    assert pm.stop(StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=10).ok


def test_a_killed_postmaster_is_seen_within_a_second(scratch: Postmaster) -> None:
    pid = scratch.postmaster_pid()
    assert pid is not None and scratch.is_alive()
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: not scratch.is_alive(), 1.0, "is_alive() to notice", poll_s=0.2)
    assert time.monotonic() - killed_at < 1.0
    status = scratch.status()
    assert status.state is PgState.CRASHED
    assert status.shutdown_role is Role.PRIMARY
    assert status.system_identifier is not None
    restarted = scratch.start(Role.PRIMARY, None, 30)
    assert restarted.ok, restarted.detail
    assert scratch.postmaster_pid() not in (None, pid)


def test_a_stop_past_its_timeout_escalates_and_leaves_nothing(scratch: Postmaster) -> None:
    settings = scratch.settings
    session = psycopg2.connect(
        host="127.0.0.1", port=settings.listen_port, user="postgres", password="su-secret"
    )
    safepoints: list[float] = []
    try:
        started = time.monotonic()
        result = scratch.stop(
            StopMode.SMART,
            checkpoint_first=False,
            timeout_s=0.5,
            on_safepoint=lambda: safepoints.append(time.monotonic() - started),
        )
    finally:
        session.close()
    assert result.ok and result.escalated, result
    assert len(safepoints) == 1 and safepoints[0] >= 0.5  # the open session held it
    assert not scratch.is_alive()
    assert not os.path.exists(os.path.join(settings.data_dir, procfs.PID_FILE))
    assert procfs.processes_in_dir(settings.data_dir) == []
    assert scratch.status().state is PgState.STOPPED


def test_a_fast_stop_reaches_the_safepoint_and_shuts_down_cleanly(scratch: Postmaster) -> None:
    sql(scratch.settings, "CREATE TABLE IF NOT EXISTS t (id int)")
    safepoints: list[bool] = []
    result = scratch.stop(
        StopMode.FAST,
        checkpoint_first=True,
        timeout_s=10,
        on_safepoint=lambda: safepoints.append(scratch.is_alive()),
    )
    assert result.ok and not result.escalated, result
    assert safepoints in ([True], [False])
    assert scratch.controldata()["Database cluster state"] == "shut down"
    status = scratch.status()
    assert status.state is PgState.STOPPED and status.shutdown_role is Role.PRIMARY
    assert status.checkpoint_lsn is not None and status.checkpoint_lsn > 0
    stopped_again = scratch.stop(StopMode.FAST, checkpoint_first=False, timeout_s=1)
    assert stopped_again.ok and stopped_again.detail == "not running"


def test_restart_keeps_the_role_and_serves_again(scratch: Postmaster) -> None:
    before = scratch.postmaster_pid()
    result = scratch.restart(30)
    assert result.ok, result.detail
    assert scratch.postmaster_pid() not in (None, before)
    assert scratch.status().role is Role.PRIMARY


_START_AND_DIE = """
import base64, os, pickle, sys
from actors.postgres.control import Postmaster
from messages.cluster import Role
settings = pickle.loads(base64.b64decode(sys.argv[1]))
result = Postmaster(settings, name="scratch", scope="itest").start(Role.PRIMARY, None, 30)
print(result.ok, flush=True)
os._exit(0)
"""


def test_the_server_outlives_the_process_that_started_it(
    pg: PgFactory,
    scratch_settings,  # type: ignore[no-untyped-def]
) -> None:
    arg = base64.b64encode(pickle.dumps(scratch_settings)).decode()
    child = subprocess.run(
        [sys.executable, "-c", _START_AND_DIE, arg],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.getcwd(),
    )
    assert child.stdout.strip() == "True", child.stderr
    pm = pg.postmaster(scratch_settings, "scratch")
    assert pm.is_alive()
    assert pm.status().state is PgState.RUNNING
    assert sql(scratch_settings, "SELECT 1") == [(1,)]
    assert pm.stop(StopMode.FAST, checkpoint_first=False, timeout_s=10).ok


def test_a_failed_start_reports_the_server_log(pg: PgFactory, scratch_settings) -> None:  # type: ignore[no-untyped-def]
    broken = scratch_settings.__class__(
        **{
            **{f: getattr(scratch_settings, f) for f in scratch_settings.__dataclass_fields__},
            "parameters": {"shared_buffers": "lots"},
        }
    )
    pm = pg.postmaster(broken, "scratch")
    result = pm.start(Role.PRIMARY, None, 10)
    assert not result.ok
    assert "shared_buffers" in result.detail
    assert not pm.is_alive()


def test_callbacks_run_with_their_arguments_without_blocking(pg: PgFactory, base_dir: str) -> None:
    out = os.path.join(base_dir, "callbacks.out")
    script = pg.script("callback.sh", f'sleep 0.5\necho "$@" >> {out}\n')
    runner = CallbackRunner(Callbacks(on_start=script, on_role_change=script), scope="itest")
    before = time.monotonic()
    assert runner.run(CallbackAction.ON_START, Role.REPLICA) is not None
    assert runner.run(CallbackAction.ON_ROLE_CHANGE, Role.PRIMARY) is not None
    assert runner.run(CallbackAction.ON_STOP, Role.PRIMARY) is None  # not configured
    assert time.monotonic() - before < 0.3
    assert runner.join(5)
    with open(out) as fh:
        lines = sorted(fh.read().splitlines())
    assert lines == ["on_role_change primary itest", "on_start replica itest"]


def test_a_callback_past_its_timeout_is_killed(pg: PgFactory) -> None:
    script = pg.script("slow_callback.sh", "sleep 30\n")
    runner = CallbackRunner(Callbacks(on_reload=script, timeout_s=0.3), scope="itest")
    thread = runner.run(CallbackAction.ON_RELOAD, Role.PRIMARY)
    assert isinstance(thread, threading.Thread)
    assert runner.join(5)
