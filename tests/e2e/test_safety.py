"""Safety faults found by hostile testing, reproduced on real nodes (docs/SAFETY.md).

Each test runs three pgactor nodes on real PostgreSQL 15 and etcd with short
timings, with the chaos client writing to every member straight and sampling
pg_is_in_recovery() on each every 100 ms, and demands of the whole history:
never two members writable at one instant, and no acknowledged write missing
from the final primary.  The faults: timing edits followed by a frozen
leader agent, a DCS outage with and without failsafe_mode, a whole-cluster
stop and start, a forced failover while no leader exists, a frozen process
group, and a DCS outage while paused.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from localcluster import LocalCluster, Node, stop_pid, wait_for  # type: ignore[import-not-found]
from localprocs import is_postgres_of  # type: ignore[import-not-found]
from safety_support import (
    Death,
    MakeCluster,
    WatchOf,
    assert_safe,
    config_seen_everywhere,
    ctl,
    frozen,
    healthy,
    leader_revision,
    member_keys,
    patch_config,
    primary,
    wait_renewals,
    watched,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("etcd") is None or shutil.which("pg_config") is None,
        reason="needs etcd and PostgreSQL 15 (scripts/setup installs them)",
    ),
]

SHORT = {"ttl": 6, "loop_wait": 1, "retry_timeout": 2}
"""ttl 6: loop_wait + 2 * retry_timeout = 5 fits, and every hold stays short."""


def hold(seconds: float) -> None:
    """The fault's duration: it lasts this long, whatever happens meanwhile."""
    time.sleep(seconds)


def agent_pid(node: Node) -> int:
    assert node.proc is not None, f"{node.name}'s agent is not running"
    return int(node.proc.pid)


# -- 1. timing edited at runtime, then the leader's agent frozen ----------------------


EDITS = [
    pytest.param(SHORT, {"ttl": 18}, False, id="ttl-raised"),
    pytest.param({**SHORT, "ttl": 18}, {"ttl": 6}, False, id="ttl-lowered"),
    # The edit lands while the holder is frozen: its fence still carries the ttl it
    # armed with, so the others must judge its lease by the ttl in its record.
    pytest.param({**SHORT, "ttl": 18}, {"ttl": 6}, True, id="ttl-lowered-while-frozen"),
    pytest.param(
        {**SHORT, "ttl": 10},
        {"loop_wait": 3, "retry_timeout": 3.5},
        False,
        id="loop-wait-and-retry-timeout-changed",
    ),
]


@pytest.mark.parametrize(("timing", "edit", "while_frozen"), EDITS)
def test_a_timing_edit_then_a_frozen_leader_agent_never_gives_two_writable_primaries(
    make_cluster: MakeCluster,
    watch_of: WatchOf,
    timing: dict[str, float],
    edit: dict[str, float],
    while_frozen: bool,
) -> None:
    """The ttl the holder's lease, its demotion and its fence are judged by must be
    the one the others judge it by, from the moment the edit is seen."""
    cluster, leader, watch = watched(make_cluster, watch_of, timing)
    others = [n for n in cluster.nodes if n is not leader]
    if not while_frozen:
        sets = [arg for key, value in edit.items() for arg in ("--set", f"{key}={value}")]
        done = ctl(cluster, "edit-config", *sets, "--force")
        assert done.returncode == 0, f"edit-config failed: {done.stdout}{done.stderr}"
        wait_for(lambda: config_seen_everywhere(cluster, edit), 30, f"every member to see {edit}")
        wait_renewals(cluster, 2)  # the holder renewed its lock under the new config
    # SIGSTOP of the agent's PID alone: PostgreSQL and the fence keep running.
    with frozen(agent_pid(leader)) as began:
        if while_frozen:
            code, body = patch_config(cluster, others[0], edit)
            assert code == 200, f"PATCH /config: {code} {body}"
            wait_for(lambda: config_seen_everywhere(cluster, edit, others), 10, "the edit seen")
        hold(max(timing["ttl"], edit.get("ttl", timing["ttl"])) + 2 - (time.monotonic() - began))
    fenced = Death(leader.name, began, time.monotonic())
    healthy(cluster)
    assert_safe(watch.verdict(deaths=[fenced]), cluster.base_dir)


# -- 2. the DCS unreachable, failsafe_mode on and off -------------------------------


@contextmanager
def dcs_outage(cluster: LocalCluster, how: str) -> Iterator[None]:
    """etcd frozen (SIGSTOP: connections hang) or killed (refused), then back with its data."""
    assert cluster.etcd is not None
    if how == "freeze":
        with frozen(cluster.etcd.pid):
            yield
        return
    stop_pid(cluster.etcd.pid, signal.SIGKILL, timeout_s=10)
    cluster.etcd.wait()
    try:
        yield
    finally:
        cluster.start_etcd()


@pytest.mark.parametrize(
    ("how", "hold_s"),
    [
        pytest.param("freeze", 2 * SHORT["ttl"], id="etcd-frozen-2-ttl"),
        pytest.param("kill", 30, id="etcd-down-30s"),
    ],
)
def test_with_failsafe_the_primary_keeps_taking_writes_while_the_dcs_is_down(
    make_cluster: MakeCluster, watch_of: WatchOf, how: str, hold_s: float
) -> None:
    """Every member still answers the primary (gossip): failsafe keeps it primary, and
    no other member may take over meanwhile."""
    cluster, leader, watch = watched(make_cluster, watch_of, {**SHORT, "failsafe_mode": True})
    with dcs_outage(cluster, how):
        began = time.monotonic()
        hold(hold_s)
        ended = time.monotonic()
    gap = watch.ack_gap(began, ended)
    assert gap < 2.0, f"writes stopped for {gap:.1f} s while etcd was {how} (failsafe_mode on)"
    takers = {w.member for w in watch.writes() if began <= w.acked <= ended}
    assert takers == {leader.name}, f"writes taken by {sorted(takers)} during the outage"
    healthy(cluster)
    assert_safe(watch.verdict(), cluster.base_dir)


def test_without_failsafe_the_primary_stops_taking_writes_within_ttl_of_losing_the_dcs(
    make_cluster: MakeCluster, watch_of: WatchOf
) -> None:
    cluster, leader, watch = watched(make_cluster, watch_of, {**SHORT, "failsafe_mode": False})
    with dcs_outage(cluster, "freeze"):
        began = time.monotonic()
        hold(2 * SHORT["ttl"])
        ended = time.monotonic()
    deadline = began + SHORT["ttl"]
    late_writes = [w.n for w in watch.writes() if deadline < w.sent and w.acked < ended]
    late_samples = [
        round(s.sent - began, 1)
        for s in watch.samples()
        if s.writable and deadline < s.sent and s.answered < ended
    ]
    assert not late_writes, (
        f"{leader.name} acknowledged {len(late_writes)} writes past ttl without the DCS"
    )
    assert not late_samples, f"a member still writable {late_samples[:5]} s into the outage"
    healthy(cluster)
    assert_safe(watch.verdict(), cluster.base_dir)


# -- 3. the whole cluster stopped and started again, data kept ----------------------


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("primary_first", [False, True], ids=["replicas-first", "primary-first"])
def test_a_whole_cluster_restart_elects_a_leader_within_3_ttl_and_loses_nothing(
    make_cluster: MakeCluster, watch_of: WatchOf, sync: bool, primary_first: bool
) -> None:
    """What must survive a full restart (the last leader, its position, the sync
    state) lives in the DCS or on disk: the member holding every acknowledged write
    leads again, whichever order the members stopped in."""
    cluster, leader, watch = watched(make_cluster, watch_of, {**SHORT, "synchronous_mode": sync})
    replicas = [n for n in cluster.nodes if n is not leader]
    order = [leader, *replicas] if primary_first else [*replicas, leader]
    for node in order[:-1]:
        cluster.stop_node(node)
    if not primary_first:
        # The primary alone now acknowledges writes no replica has: the restart must keep them.
        watch.wait_acks(leader.name, 5, after=time.monotonic(), timeout_s=20)
    cluster.stop_node(order[-1])
    assert not [n.name for n in cluster.nodes if n.postmaster_pid()], "a server still runs"
    for node in cluster.nodes:
        cluster.start_node(node)
    started = time.monotonic()
    bound = 3 * SHORT["ttl"]
    wait_for(lambda: primary(cluster), bound + 5, "a leader after the whole cluster started")
    took = time.monotonic() - started
    assert took <= bound, f"no leader for {took:.1f} s after the start (bound 3 ttl = {bound} s)"
    healthy(cluster)
    assert_safe(watch.verdict(), cluster.base_dir)


def sync_standby(cluster: LocalCluster, leader: Node) -> Node:
    """The member the DCS sync key publishes as synchronous."""
    name = wait_for(
        lambda: next(
            (
                m["name"]
                for m in (cluster.cluster_view(leader) or {}).get("members", [])
                if m.get("role") == "sync_standby"
            ),
            None,
        ),
        30,
        "a published synchronous standby",
    )
    return cluster.node(name)


class MemberKeyWatch:
    """Samples etcd's member keys every 100 ms in a thread: which named ones went missing."""

    def __init__(self, cluster: LocalCluster, names: set[str]) -> None:
        self.cluster, self.names = cluster, names
        self.missing: list[tuple[float, set[str]]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        began = time.monotonic()
        while not self.stop.wait(0.1):
            gone = self.names - member_keys(self.cluster)
            if gone:
                self.missing.append((time.monotonic() - began, gone))

    def __enter__(self) -> MemberKeyWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


def test_sync_failover_to_a_named_member_with_no_leader_makes_it_lead(
    make_cluster: MakeCluster, watch_of: WatchOf
) -> None:
    """Sync mode, the whole cluster stopped replicas first: the former primary alone
    has its last writes, so neither replica may lead on its own when only they start.
    The operator's forced failover to one of them must make it lead, and the members'
    keys must not expire while the request waits.  The request goes through the
    candidate's own console: its own write of the failover key is not news to its
    watch, and it once never saw it."""
    cluster, leader, watch = watched(make_cluster, watch_of, {**SHORT, "synchronous_mode": True})
    standby = sync_standby(cluster, leader)
    other = next(n for n in cluster.nodes if n not in (leader, standby))
    cluster.stop_nodes([other, standby])
    watch.wait_acks(leader.name, 5, after=time.monotonic(), timeout_s=20)
    cluster.stop_node(leader)
    watch.stop()
    for node in (standby, other):
        cluster.start_node(node)
    names = {standby.name, other.name}
    wait_for(lambda: names <= member_keys(cluster), 30, "both members registered")
    quiet_until = time.monotonic() + SHORT["ttl"] + 2
    while time.monotonic() < quiet_until:  # a poll: nobody may take the lock meanwhile
        assert leader_revision(cluster) is None, (
            "a member without the former primary's last writes took the lock"
        )
        time.sleep(0.1)
    with MemberKeyWatch(cluster, names) as keys:
        bound = 3 * SHORT["ttl"]
        wait = ("--wait", str(bound))
        done = ctl(cluster, "failover", "--candidate", standby.name, "--force", *wait, via=standby)
    assert not keys.missing, f"member keys expired while the failover waited: {keys.missing[:5]}"
    said = f"ctl failover said: {done.stdout}{done.stderr}"
    assert done.returncode == 0, f"{standby.name} does not lead {bound} s after the request; {said}"
    wait_for(lambda: primary(cluster) == standby.name, 10, f"{standby.name} to run as primary")


# -- 4. the primary's agent frozen with its whole process group --------------------


def test_a_frozen_process_group_of_the_primarys_agent_never_gives_two_writable_primaries(
    make_cluster: MakeCluster, watch_of: WatchOf
) -> None:
    """What Ctrl-Z or a cgroup freeze does: every process of the agent's group stops.
    The fence must not be one of them."""
    cluster, leader, watch = watched(make_cluster, watch_of, SHORT)
    with frozen(agent_pid(leader), group=True) as began:
        hold(SHORT["ttl"] + 4)
    fenced = Death(leader.name, began, time.monotonic())
    healthy(cluster)
    assert_safe(watch.verdict(deaths=[fenced]), cluster.base_dir)


# -- 5. paused, and the DCS unreachable --------------------------------------------


def test_a_paused_primary_keeps_running_while_the_dcs_is_unreachable(
    make_cluster: MakeCluster, watch_of: WatchOf
) -> None:
    """Pause hands the cluster to the operator: nothing pgactor does (its fence
    included) may stop PostgreSQL then."""
    cluster, leader, watch = watched(make_cluster, watch_of, SHORT)
    done = ctl(cluster, "pause")
    assert done.returncode == 0, f"ctl pause failed: {done.stdout}{done.stderr}"
    wait_for(
        lambda: all((cluster.status(n) or {}).get("pause") for n in cluster.nodes),
        30,
        "every member paused",
    )
    postmaster = leader.postmaster_pid()
    assert postmaster is not None
    with dcs_outage(cluster, "freeze"):
        began = time.monotonic()
        while time.monotonic() < began + SHORT["ttl"] + 4:  # poll through the outage
            assert is_postgres_of(postmaster, leader.data_dir), (
                f"the paused primary was stopped {time.monotonic() - began:.1f} s into the outage"
            )
            time.sleep(0.1)
        ended, ended_wall = time.monotonic(), time.time()
    wait_for(
        lambda: (cluster.status(leader) or {}).get("dcs_last_seen", 0) > ended_wall,
        20,
        f"{leader.name} to reach the DCS again",
    )
    assert is_postgres_of(postmaster, leader.data_dir), "the paused primary was stopped"
    gap = watch.ack_gap(began, ended)
    assert gap < 2.0, f"the paused primary took no write for {gap:.1f} s"
    assert ctl(cluster, "resume").returncode == 0
    assert_safe(watch.verdict(), cluster.base_dir)
