"""pgactor ctl against three real nodes (PostgreSQL 15, etcd) on free loopback ports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from localcluster import LocalCluster, free_port, wait_for  # noqa: E402

from actors.runtime.zmq_io import generate_keys  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("etcd") is None or shutil.which("pg_config") is None,
        reason="needs etcd and PostgreSQL 15 (scripts/setup installs them)",
    ),
]
PGACTOR = str(ROOT / ".venv" / "bin" / "pgactor")


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="pgactor-ctl-e2e-", dir="/tmp"))
    c = LocalCluster(
        base,
        scope="ctl-e2e",
        pg_ports=[free_port() for _ in range(3)],
        api_ports=[free_port() for _ in range(3)],
        dynamic={"ttl": 10, "loop_wait": 1, "retry_timeout": 3},
    )
    try:
        c.start()
        yield c
    finally:
        if os.environ.get("PGACTOR_KEEP_TEST_DIR") == "1":
            c.stop()
        else:
            c.discard()  # its data goes too: no need for the safe, slower stop order
            c.remove_data()


def ctl(
    cluster: LocalCluster, *args: str, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGACTOR")}
    return subprocess.run(
        [PGACTOR, "ctl", "-c", str(config or cluster.ctl_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def leader_of(cluster: LocalCluster) -> str | None:
    done = ctl(cluster, "list", "--format", "json")
    if done.returncode != 0:
        return None
    rows = json.loads(done.stdout)
    return next((r["Member"] for r in rows if r["Role"] == "Leader"), None)


def test_ctl_lists_switches_over_and_refuses_an_unknown_key(cluster: LocalCluster) -> None:
    primary = wait_for(cluster.healthy, 90, "one primary and two streaming replicas", 0.2)

    listed = ctl(cluster, "list")
    assert listed.returncode == 0, listed.stderr
    assert "+ Cluster: ctl-e2e" in listed.stdout
    for node in cluster.nodes:
        assert f"| {node.name} " in listed.stdout
    assert wait_for(lambda: leader_of(cluster) == primary, 10, "ctl to name the leader")

    candidate = next(n.name for n in cluster.nodes if n.name != primary)
    switched = ctl(cluster, "switchover", "--candidate", candidate, "--force", "--wait", "60")
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert f'Successfully switched over to "{candidate}"' in switched.stdout
    assert wait_for(cluster.healthy, 60, "the cluster healthy again", 0.2) == candidate

    stranger = generate_keys(cluster.base_dir / "stranger", ["intruder"])
    ctl_file = yaml.safe_load(cluster.ctl_path.read_text())
    ctl_file["client_key"] = str(stranger / "intruder.key_secret")
    intruder = cluster.base_dir / "intruder.yaml"
    intruder.write_text(yaml.safe_dump(ctl_file))
    refused = ctl(cluster, "list", config=intruder)
    assert refused.returncode == 3
    assert "refused our key" in refused.stderr

    # the members gossip with each other as well (the nodes log each peer coming up)
    for node in cluster.nodes:
        log = node.log_path.read_text()
        others = [n.name for n in cluster.nodes if n is not node]
        assert all(f"peer {name} is up" in log for name in others), node.name
