"""Three real pgactor nodes on real PostgreSQL 15 and etcd, on free loopback ports."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from localcluster import LocalCluster, free_port
from safety_support import MakeCluster, Watch

TIMING = {"ttl": 10, "loop_wait": 1, "retry_timeout": 3}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Fixtures read this to keep a failed test's logs and history (see _cluster).
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    yield from _cluster(TIMING)


@pytest.fixture
def strict_sync_cluster() -> Iterator[LocalCluster]:
    yield from _cluster({**TIMING, "synchronous_mode": True, "synchronous_mode_strict": True})


@pytest.fixture
def make_cluster(request: pytest.FixtureRequest) -> Iterator[MakeCluster]:
    """A started cluster with the given dynamic config (timing, modes); stopped at the
    end, frozen processes resumed first.  A failed test keeps its logs and the
    client's history (not the data directories): the path is printed."""
    made: list[LocalCluster] = []

    def make(dynamic: dict[str, object]) -> LocalCluster:
        c = _new_cluster(dynamic)
        made.append(c)
        c.start()
        return c

    yield make
    failed = request.node.stash.get(FAILED, False)
    keep = os.environ.get("PGACTOR_KEEP_TEST_DIR") == "1"
    for c in made:
        if keep:
            c.stop()
            continue
        c.discard()  # its data goes too: no need for the safe, slower stop order
        if failed:
            _drop_data(c)
            print(f"logs and client history kept in {c.base_dir}")
        else:
            c.remove_data()


def _drop_data(c: LocalCluster) -> None:
    from actors.postgres.oscommand import run_dir_for

    for node in c.nodes:  # the socket dir beside each data dir goes too: no log there
        shutil.rmtree(run_dir_for(str(node.data_dir)), ignore_errors=True)
        shutil.rmtree(node.data_dir, ignore_errors=True)
    shutil.rmtree(c.base_dir / "etcd", ignore_errors=True)


def _new_cluster(dynamic: dict[str, object]) -> LocalCluster:
    base = Path(tempfile.mkdtemp(prefix="pgactor-e2e-", dir="/tmp"))
    return LocalCluster(
        base,
        scope="e2e",
        pg_ports=[free_port() for _ in range(3)],
        api_ports=[free_port() for _ in range(3)],
        dynamic=dynamic,
    )


def _cluster(dynamic: dict[str, object]) -> Iterator[LocalCluster]:
    c = _new_cluster(dynamic)
    try:
        c.start()
        yield c
    finally:
        if os.environ.get("PGACTOR_KEEP_TEST_DIR") == "1":
            c.stop()
        else:
            c.discard()  # its data goes too: no need for the safe, slower stop order
            c.remove_data()


@pytest.fixture
def watch_of() -> Iterator[Callable[[LocalCluster], Watch]]:
    """The chaos client writing to and probing a cluster; stopped before the cluster is
    (ask for this fixture after make_cluster)."""
    watches: list[Watch] = []

    def watch(cluster: LocalCluster) -> Watch:
        watches.append(Watch(cluster).start())
        return watches[-1]

    yield watch
    for w in watches:
        w.stop()
