"""End to end: an operator's PostgreSQL parameter edit reaches every member.

``pgactor ctl edit-config --set postgresql.parameters.work_mem=8MB`` once
left work_mem at 4MB on every node, even after a restart.  Now a reloadable
parameter is live everywhere within seconds, a postmaster one shows as
pending restart in /patroni, ``ctl list`` and the metrics, and the REST API
refuses a value the server would refuse.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from localcluster import PASSWORD, LocalCluster, Node, wait_for  # type: ignore[import-not-found]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("etcd") is None or shutil.which("pg_config") is None,
        reason="needs etcd and PostgreSQL 15 (scripts/setup installs them)",
    ),
]

PGACTOR = str(Path(sys.executable).parent / "pgactor")


def show(node: Node, name: str) -> str | None:
    try:
        conn = psycopg2.connect(
            host="127.0.0.1",
            port=node.pg_port,
            user="postgres",
            password=PASSWORD,
            dbname="postgres",
            connect_timeout=3,
        )
    except psycopg2.Error:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute(f"SHOW {name}")
            return str(cur.fetchone()[0])
    finally:
        conn.close()


def ctl(cluster: LocalCluster, *args: str) -> str:
    done = subprocess.run(
        [PGACTOR, "ctl", *args, "-c", str(cluster.ctl_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def pending_everywhere(cluster: LocalCluster) -> bool:
    return all((cluster.status(n) or {}).get("pending_restart") is True for n in cluster.nodes)


def test_an_edited_parameter_reaches_every_member(cluster: LocalCluster) -> None:
    wait_for(cluster.healthy, 60, "one primary and two streaming replicas", interval_s=0.2)
    assert {show(n, "work_mem") for n in cluster.nodes} == {"4MB"}
    ctl(
        cluster,
        "edit-config",
        "--set",
        "postgresql.parameters.work_mem=8MB",
        "--set",
        "postgresql.parameters.max_files_per_process=900",
        "--force",
    )
    for node in cluster.nodes:
        wait_for(lambda n=node: show(n, "work_mem") == "8MB", 10, f"work_mem on {node.name}")
    wait_for(lambda: pending_everywhere(cluster), 15, "pending_restart in every /patroni")
    rows = json.loads(ctl(cluster, "list", "--format", "json"))
    assert [r.get("Pending restart") for r in rows] == ["*", "*", "*"]
    code, text = cluster.request(cluster.nodes[0], "GET", "/metrics")
    flags = [line for line in text.splitlines() if line.startswith("pgactor_pending_restart")]
    assert code == 200 and flags and float(flags[0].split()[-1]) == 1, flags

    code, text = cluster.request(
        cluster.nodes[0], "PATCH", "/config", {"postgresql": {"parameters": {"work_mem": "abc"}}}
    )
    assert code == 400 and text.startswith("invalid config: postgresql.parameters.work_mem:")
    assert "expected an integer from 64 to 2147483647 (in units of kB)" in text
