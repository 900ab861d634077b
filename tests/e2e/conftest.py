"""Three real pgactor nodes on real PostgreSQL 15 and etcd, on free loopback ports."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from localcluster import LocalCluster, free_port

TIMING = {"ttl": 10, "loop_wait": 1, "retry_timeout": 3}


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    yield from _cluster(TIMING)


@pytest.fixture
def strict_sync_cluster() -> Iterator[LocalCluster]:
    yield from _cluster({**TIMING, "synchronous_mode": True, "synchronous_mode_strict": True})


def _cluster(dynamic: dict[str, object]) -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="pgactor-e2e-", dir="/tmp"))
    c = LocalCluster(
        base,
        scope="e2e",
        pg_ports=[free_port() for _ in range(3)],
        api_ports=[free_port() for _ in range(3)],
        dynamic=dynamic,
    )
    try:
        c.start()
        yield c
    finally:
        c.stop()
        if os.environ.get("PGACTOR_KEEP_TEST_DIR") != "1":
            c.remove_data()
