"""End to end: bootstrap, node death, return, switchover -- nothing acknowledged is lost."""

from __future__ import annotations

import os
import shutil
import signal
import time

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


def connect(node: Node) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(
        host="127.0.0.1",
        port=node.pg_port,
        user="postgres",
        password=PASSWORD,
        dbname="postgres",
        connect_timeout=3,
    )
    conn.autocommit = True
    return conn


def write_rows(node: Node, first: int, count: int) -> list[int]:
    with connect(node) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS probe (n int primary key)")
        rows = list(range(first, first + count))
        for n in rows:
            cur.execute("INSERT INTO probe VALUES (%s)", (n,))
    return rows


def rows_on(node: Node) -> set[int]:
    try:
        with connect(node) as conn, conn.cursor() as cur:
            cur.execute("SELECT n FROM probe")
            return {r[0] for r in cur.fetchall()}
    except psycopg2.errors.UndefinedTable:  # not replayed here yet
        return set()


def healthy(cluster: LocalCluster, timeout_s: float) -> str:
    return str(
        wait_for(
            cluster.healthy, timeout_s, "one primary and two streaming replicas", interval_s=0.2
        )
    )


def all_have(cluster: LocalCluster, rows: list[int], timeout_s: float = 20) -> None:
    for node in cluster.nodes:
        wait_for(lambda n=node: set(rows) <= rows_on(n), timeout_s, f"rows on {node.name}")


def test_bootstrap_failover_return_and_switchover(cluster: LocalCluster) -> None:
    primary = cluster.node(healthy(cluster, 90))
    written = write_rows(primary, 0, 50)
    all_have(cluster, written)

    # A node's sudden death: the agent and its postmaster killed together.
    died_at = time.monotonic()
    cluster.kill_node(primary)
    new_primary = wait_for(
        lambda: next(
            (n for n, r in cluster.roles().items() if r == "primary" and n != primary.name), None
        ),
        60,
        "a new primary",
    )
    took_s = time.monotonic() - died_at
    assert took_s <= 10 + 1 + 3 + 5, f"failover took {took_s:.1f} s"
    survivor = cluster.node(new_primary)
    assert set(written) <= rows_on(survivor), "acknowledged rows lost in failover"
    # The new leader publishes where timeline 1 ended (Patroni's /history shape).
    history = wait_for(lambda: cluster.get_json(survivor, "/history"), 10, "the history")
    assert history[0][0] == 1 and history[0][4] == new_primary, history
    written += write_rows(survivor, 1000, 20)

    # The dead node returns and becomes a replica of the new primary.
    cluster.start_node(primary)
    assert healthy(cluster, 90) == new_primary
    all_have(cluster, written)

    # Planned switchover to the named candidate.
    candidate = next(n.name for n in cluster.nodes if n.name != new_primary)
    code, body = cluster.post(
        survivor, "/switchover", {"leader": new_primary, "candidate": candidate}
    )
    assert code in (200, 202), body
    assert wait_for(lambda: cluster.healthy() == candidate, 60, f"{candidate} to lead")
    written += write_rows(cluster.node(candidate), 2000, 20)
    all_have(cluster, written)


def test_a_cleanly_stopped_primary_hands_over_before_its_ttl(cluster: LocalCluster) -> None:
    primary = cluster.node(healthy(cluster, 90))
    written = write_rows(primary, 0, 20)
    all_have(cluster, written)
    stopped_at = time.monotonic()
    cluster.stop_node(primary)  # SIGTERM: PostgreSQL stops, then the lock is released
    new_primary = wait_for(
        lambda: next((n for n, r in cluster.roles().items() if r == "primary"), None),
        30,
        "a new primary",
    )
    took_s = time.monotonic() - stopped_at
    assert new_primary != primary.name
    assert took_s < 10, f"hand-over took {took_s:.1f} s, as long as the ttl"
    assert set(written) <= rows_on(cluster.node(new_primary))


def _running(pid: int) -> bool:
    """Not a zombie: a killed postmaster waits for its frozen parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(") ", 1)[-1][:1] not in ("Z", "X")
    except OSError:
        return False


def test_a_frozen_leaders_postgresql_is_fenced_before_another_member_promotes(
    cluster: LocalCluster,
) -> None:
    """SIGSTOP freezes the agent, not PostgreSQL: without the fence the old primary
    would take writes after another member promoted (Patroni needs a watchdog)."""
    primary = cluster.node(healthy(cluster, 90))
    written = write_rows(primary, 1000, 10)
    postmaster = primary.postmaster_pid()
    assert postmaster is not None and primary.proc is not None
    others = [n for n in cluster.nodes if n is not primary]
    os.kill(primary.proc.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 60
        while True:
            # in this order: a promotion seen while the old server still runs fails
            fenced = not _running(postmaster)
            promoted = [
                n.name for n in others if (cluster.status(n) or {}).get("role") == "primary"
            ]
            assert fenced or not promoted, f"{promoted} promoted while {primary.name} still runs"
            if promoted:
                break
            assert time.monotonic() < deadline, "no member promoted"
            time.sleep(0.05)
    finally:
        os.kill(primary.proc.pid, signal.SIGCONT)
    assert set(written) <= rows_on(cluster.node(promoted[0]))
    wait_for(lambda: cluster.roles().get(primary.name) == "streaming", 60, "the old leader back")


def sync_standbys(cluster: LocalCluster) -> list[str]:
    """Members the primary reports as sync; its status may predate the clones, when
    synchronous_standby_names '*' also matched pg_basebackup's WAL stream."""
    members = {n.name for n in cluster.nodes}
    for node in cluster.nodes:
        st = cluster.status(node)
        if st is not None and st.get("role") == "primary":
            return [
                r["application_name"]
                for r in st.get("replication", [])
                if r.get("sync_state") == "sync" and r.get("application_name") in members
            ]
    return []


def test_strict_sync_mode_loses_no_acknowledged_write_and_promotes_the_sync_standby(
    strict_sync_cluster: LocalCluster,
) -> None:
    cluster = strict_sync_cluster
    primary = cluster.node(healthy(cluster, 90))
    # The standby published in the sync key (GET /cluster's role) is the one that may be
    # promoted; the primary's own pg_stat_replication must agree it is synchronous.
    standby = wait_for(
        lambda: next(
            (
                m["name"]
                for m in (cluster.cluster_view(primary) or {}).get("members", [])
                if m.get("role") == "sync_standby" and m["name"] in sync_standbys(cluster)
            ),
            None,
        ),
        60,
        "a sync standby, published and synchronous",
    )
    written = write_rows(primary, 0, 100)  # each commit waited for the sync standby
    cluster.kill_node(primary)
    new_primary = wait_for(
        lambda: next((n for n, r in cluster.roles().items() if r == "primary"), None),
        60,
        "a new primary",
    )
    assert new_primary == standby, "only the synchronous standby may be promoted"
    assert set(written) <= rows_on(cluster.node(new_primary)), "acknowledged rows lost"
    cluster.start_node(primary)
    assert healthy(cluster, 90) == new_primary
    written += write_rows(cluster.node(new_primary), 1000, 20)
    all_have(cluster, written)
