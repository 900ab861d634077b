"""End to end: a second ``pgactor node`` for a running primary's config refuses to start.

Before the ownership lock it renewed the same leader lock beside the first
agent, and on its way out fast-stopped the primary and released the lock: an
unplanned failover caused by a typo in a unit file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from localcluster import ROOT, LocalCluster, free_port, wait_for  # type: ignore[import-not-found]

from node.ownership import lock_path

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("etcd") is None or shutil.which("pg_config") is None,
        reason="needs etcd and PostgreSQL 15 (scripts/setup installs them)",
    ),
]

EXIT_WITHIN_S = 15.0
"""Loading the config (a child process validates it) and refusing: a few seconds."""


@pytest.fixture
def single() -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="pgactor-e2e-own-", dir="/tmp"))
    c = LocalCluster(
        base,
        scope="e2e-own",
        pg_ports=[free_port()],
        api_ports=[free_port()],
        dynamic={"ttl": 10, "loop_wait": 1, "retry_timeout": 3},
    )
    try:
        c.start()
        yield c
    finally:
        c.stop()
        if os.environ.get("PGACTOR_KEEP_TEST_DIR") != "1":
            c.remove_data()


def _leader(cluster: LocalCluster) -> str | None:
    view = cluster.cluster_view(cluster.nodes[0]) or {}
    return next((m["name"] for m in view.get("members", []) if m.get("role") == "leader"), None)


def _end(agent: subprocess.Popen[bytes]) -> None:
    """A second agent that did not exit (the old code): a clean stop, which disarms its
    fence, then SIGKILL of its process group."""
    if agent.poll() is None:
        agent.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            agent.wait(60)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(agent.pid, signal.SIGKILL)
    agent.wait()


def test_a_second_agent_for_the_same_data_directory_exits_and_changes_nothing(
    single: LocalCluster,
) -> None:
    node = single.nodes[0]
    wait_for(lambda: single.healthy(1) == node.name, 90, "the primary")
    leader = wait_for(lambda: _leader(single), 30, "the leader in GET /cluster")
    postmaster = node.postmaster_pid()
    assert node.proc is not None and postmaster is not None

    argv = [str(ROOT / ".venv" / "bin" / "pgactor"), "node", "-c", str(node.config_path)]
    second = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=single.base_dir,
    )
    try:
        started = time.monotonic()
        out, _ = second.communicate(timeout=EXIT_WITHIN_S)
        took_s = time.monotonic() - started
    finally:
        _end(second)
    text = out.decode(errors="replace")
    # Nothing changed: the same postmaster, still the primary, still the leader.
    assert node.postmaster_pid() == postmaster, f"the primary was restarted or stopped:\n{text}"
    assert (single.status(node) or {}).get("role") == "primary"
    assert _leader(single) == leader
    assert node.proc.poll() is None, "the first agent runs on"
    # And the second agent said why it refused, at once.
    assert second.returncode == 2, f"exit {second.returncode} after {took_s:.1f} s:\n{text}"
    assert str(node.data_dir) in text and f"PID {node.proc.pid}, running" in text, text
    assert lock_path(str(node.data_dir)) in text, text
