"""Operator actions meeting faults, through each member's console and the REST API.

Three real nodes (PostgreSQL 15, etcd) with short timings and the chaos client
writing to every member.  Each test sends an operator action (switchover,
failover, pause / resume, edit-config, restart, reinit) through one member's
console or REST API while something else goes wrong, and demands: one writable
primary within a bound, no acknowledged write lost (docs/SAFETY.md rule 13),
and an answer that tells the truth (exit 0 only when the action happened or is
durably on its way).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time

import pytest
from localcluster import LocalCluster, Node, stop_pid, wait_for  # type: ignore[import-not-found]
from operator_support import (
    SHORT,
    TTL,
    failover_key,
    in_future,
    leads_alone,
    others,
    said,
    sync_standby,
)
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
    primary,
    watched,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("etcd") is None or shutil.which("pg_config") is None,
        reason="needs etcd and PostgreSQL 15 (scripts/setup installs them)",
    ),
]


def paused_everywhere(cluster: LocalCluster, paused: bool) -> bool:
    return all(bool((cluster.status(n) or {}).get("pause")) == paused for n in cluster.nodes)


# -- pause, then a switchover, then resume --------------------------------------------


@pytest.mark.parametrize("path", ["candidate-console"])  # "rest-third": same bug, 30-90 s more
def test_a_switchover_refused_in_pause_never_fires_after_resume(
    make_cluster: MakeCluster, watch_of: WatchOf, path: str
) -> None:
    """Pause, then a switchover to a named candidate through the candidate's own console
    (Patroni performs such a switchover in pause; the REST API accepts it too).  Either
    it happens and ctl says so, or ctl says it did not and it never does: a request the
    operator was told failed must not fire later, when nobody expects it."""
    cluster, leader, watch = watched(make_cluster, watch_of, SHORT)
    candidate, third = others(cluster, leader)
    done = ctl(cluster, "pause", via=third)
    assert done.returncode == 0, said(done)
    wait_for(lambda: paused_everywhere(cluster, True), 20, "every member paused")
    done = _switchover_in_pause(cluster, leader, candidate, third, path)
    happened = leads_alone(cluster, candidate.name)
    assert (done.returncode == 0) == happened, f"ctl said {done.returncode}: {said(done)}"
    expected = candidate if happened else leader
    resumed = ctl(cluster, "resume", via=leader)
    assert resumed.returncode == 0, said(resumed)
    wait_for(lambda: paused_everywhere(cluster, False), 20, "every member resumed")
    quiet_until = time.monotonic() + 2 * TTL
    while time.monotonic() < quiet_until:  # a poll: the leader must stay who ctl said
        roles = cluster.roles()
        assert roles.get(expected.name) == "primary", (
            f"after resume: {roles}, failover key {failover_key(cluster)}; "
            f"ctl had said ({done.returncode}): {said(done)}"
        )
        time.sleep(0.2)
    assert_safe(watch.verdict(), cluster.base_dir)


def test_a_switchover_in_pause_is_carried_out_and_the_cluster_stays_paused(
    make_cluster: MakeCluster, watch_of: WatchOf
) -> None:
    """As Patroni: in pause, a switchover to a named candidate happens; the former
    primary then runs as a replica of the new one (Patroni's demote), the cluster is
    still paused, and no acknowledged write is lost.  Before, pgactor refused it."""
    cluster, leader, watch = watched(make_cluster, watch_of, SHORT)
    candidate, third = others(cluster, leader)
    done = ctl(cluster, "pause", via=third)
    assert done.returncode == 0, said(done)
    wait_for(lambda: paused_everywhere(cluster, True), 20, "every member paused")
    args = ("--leader", leader.name, "--candidate", candidate.name, "--force")
    done = ctl(cluster, "switchover", *args, "--wait", str(3 * TTL), via=third)
    assert done.returncode == 0, f"ctl said: {said(done)}"
    wait_for(lambda: leads_alone(cluster, candidate.name), 3 * TTL, "the candidate leading")
    wait_for(
        lambda: cluster.roles().get(leader.name) in ("replica", "streaming"),
        3 * TTL,
        f"{leader.name} running as a replica of {candidate.name}",
    )
    assert paused_everywhere(cluster, True), "the switchover ended the pause"
    resumed = ctl(cluster, "resume", via=leader)
    assert resumed.returncode == 0, said(resumed)
    assert_safe(watch.verdict(), cluster.base_dir)


def _switchover_in_pause(
    cluster: LocalCluster, leader: Node, candidate: Node, third: Node, path: str
) -> subprocess.CompletedProcess[str]:
    """Through the candidate's console (ctl waits 3 ttl for the new leader), or POST
    /switchover on the third member's REST API (its 200 comes once the leader changed,
    as Patroni's); either answer is judged after 3 ttl, as ctl's is."""
    if path == "candidate-console":
        args = ("--leader", leader.name, "--candidate", candidate.name, "--force")
        return ctl(cluster, "switchover", *args, "--wait", str(3 * TTL), via=candidate)
    body = {"leader": leader.name, "candidate": candidate.name}
    code, text = cluster.post(third, "/switchover", body)
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: leads_alone(cluster, candidate.name), 3 * TTL, "the switchover")
    return subprocess.CompletedProcess(["POST /switchover"], 0 if code == 200 else 1, text, "")


# -- a scheduled switchover while the DCS is down --------------------------------------


def test_a_scheduled_switchover_accepted_while_etcd_is_down_is_stored(
    make_cluster: MakeCluster, watch_of: WatchOf
) -> None:
    """failsafe_mode keeps the primary through the outage.  A scheduled switchover sent
    through the leader's console meanwhile: ctl may only exit 0 if the request is in the
    DCS once it is back (a scheduled switchover exits at once: nothing else checks it)."""
    timing = {**SHORT, "ttl": 10, "retry_timeout": 3, "failsafe_mode": True}
    cluster, leader, watch = watched(make_cluster, watch_of, timing)
    candidate, _ = others(cluster, leader)
    assert cluster.etcd is not None
    stop_pid(cluster.etcd.pid, signal.SIGKILL, timeout_s=10)
    cluster.etcd.wait()
    try:
        args = ("--leader", leader.name, "--candidate", candidate.name, "--force")
        done = ctl(cluster, "switchover", *args, "--scheduled", in_future(60), via=leader)
        time.sleep(8)  # the outage outlasts every retry of the write
    finally:
        cluster.start_etcd()
    if done.returncode == 0:
        try:
            wait_for(lambda: failover_key(cluster), 10, "the scheduled switchover in etcd")
        except TimeoutError:
            pytest.fail(f"ctl exited 0 ({said(done)}) but etcd holds no failover key")
    assert_safe(watch.verdict(), cluster.base_dir)


# -- a switchover through the candidate's own console, the candidate then frozen ------


def test_a_switchover_whose_candidate_freezes_converges_and_loses_nothing(
    make_cluster: MakeCluster, watch_of: WatchOf
) -> None:
    """The candidate's agent is stopped (SIGSTOP) right after it accepted the request:
    the leader has stopped its PostgreSQL for the hand-over; one member must lead again
    within 3 ttl of the thaw, and nothing acknowledged may be lost (a planned event;
    the candidate's death is excused only if it had taken over and was fenced)."""
    cluster, leader, watch = watched(make_cluster, watch_of, SHORT)
    candidate, _ = others(cluster, leader)
    args = ("--leader", leader.name, "--candidate", candidate.name, "--force", "--wait", "0")
    done = ctl(cluster, "switchover", *args, via=candidate)
    assert done.returncode == 0, said(done)
    assert candidate.proc is not None
    with frozen(candidate.proc.pid) as began:
        time.sleep(TTL + 2)
    thawed = time.monotonic()
    wait_for(lambda: primary(cluster), 3 * TTL, "one primary within 3 ttl of the thaw")
    healthy(cluster, 3 * TTL)
    assert_safe(watch.verdict(deaths=[Death(candidate.name, began, thawed)]), cluster.base_dir)


# -- failover with no leader, async, through a third member's console -----------------


def test_async_failover_with_no_leader_through_a_third_members_console(
    make_cluster: MakeCluster, watch_of: WatchOf
) -> None:
    """Replicas stopped first, the primary's last writes then on it alone, all stopped;
    the two replicas started: neither may lead on its own.  The operator's failover to
    one of them, sent through the other's console, makes it lead; the former primary,
    started again, rejoins as a replica (its extra WAL rewound), never a second writer."""
    cluster, leader, watch = watched(make_cluster, watch_of, SHORT)
    candidate, third = others(cluster, leader)
    cluster.stop_nodes([candidate, third])
    watch.wait_acks(leader.name, 5, after=time.monotonic(), timeout_s=20)
    cluster.stop_node(leader)
    watch.stop()
    for node in (candidate, third):
        cluster.start_node(node)
    wait_for(lambda: {candidate.name, third.name} <= member_keys(cluster), 30, "both registered")
    assert leader_revision(cluster) is None, "a member behind the last writes took the lock"
    wait_for(lambda: ctl(cluster, "list", via=third).returncode == 0, 30, "third's console")
    args = ("--candidate", candidate.name, "--force", "--wait", str(3 * TTL))
    done = ctl(cluster, "failover", *args, via=third)
    assert done.returncode == 0, said(done)
    assert leads_alone(cluster, candidate.name), cluster.roles()
    cluster.start_node(leader)
    assert healthy(cluster, 60) is candidate


# -- restart and reinit of the sync standby through its own console -------------------


def test_restart_then_reinit_of_the_sync_standby_through_its_own_console(
    make_cluster: MakeCluster, watch_of: WatchOf
) -> None:
    """Sync mode, writes flowing: each action goes through the standby's own console,
    ctl says it started, the cluster is healthy again under the same leader, and no
    acknowledged write is lost."""
    cluster, leader, watch = watched(make_cluster, watch_of, {**SHORT, "synchronous_mode": True})
    standby = sync_standby(cluster, leader)
    done = ctl(cluster, "restart", standby.name, "--force", via=standby)
    assert done.returncode == 0, said(done)
    healthy(cluster, 30)
    standby = sync_standby(cluster, leader)
    done = ctl(cluster, "reinit", standby.name, "--force", via=standby)
    assert done.returncode == 0, said(done)
    assert healthy(cluster, 45) is leader
    assert_safe(watch.verdict(), cluster.base_dir)


# -- resume while the DCS is frozen ---------------------------------------------------


def test_resume_while_etcd_is_frozen_is_reported_truthfully(
    make_cluster: MakeCluster, watch_of: WatchOf
) -> None:
    """Paused, then etcd frozen (connections hang) while the operator resumes through a
    replica's console: ctl may exit 0 only if the cluster resumed, and exit non-zero
    only if it did not (or say that the outcome is unknown)."""
    cluster, leader, watch = watched(make_cluster, watch_of, SHORT)
    candidate, _third = others(cluster, leader)
    assert ctl(cluster, "pause", via=leader).returncode == 0
    wait_for(lambda: paused_everywhere(cluster, True), 20, "every member paused")
    assert cluster.etcd is not None
    with frozen(cluster.etcd.pid):
        done = ctl(cluster, "resume", via=candidate, timeout_s=30)
        time.sleep(1)
    time.sleep(TTL)  # paused or not: the store says so once it answers again
    resumed = paused_everywhere(cluster, False)
    unknown = done.returncode != 0 and "may still take effect" in said(done)
    assert unknown or (done.returncode == 0) == resumed, f"ctl said {done.returncode}: {said(done)}"
    assert_safe(watch.verdict(), cluster.base_dir)


# -- edit-config through a replica's console, then the leader's postmaster killed -----


def test_sync_mode_and_ttl_edited_through_a_replicas_console_then_the_postmaster_killed(
    make_cluster: MakeCluster, watch_of: WatchOf
) -> None:
    """synchronous_mode on and a longer ttl, through the third member's console; then
    kill -9 of the leader's postmaster: one primary within 3 ttl, nothing lost (every
    write acknowledged once the sync standby is published; the kill is excused only
    for what came before, within the async rules)."""
    cluster, leader, watch = watched(make_cluster, watch_of, SHORT)
    _, third = others(cluster, leader)
    sets = ("--set", "synchronous_mode=true", "--set", "ttl=8", "--set", "loop_wait=2")
    done = ctl(cluster, "edit-config", *sets, "--force", via=third)
    assert done.returncode == 0, said(done)
    wanted = {"synchronous_mode": True, "ttl": 8, "loop_wait": 2}
    wait_for(lambda: config_seen_everywhere(cluster, wanted), 20, "the edit everywhere")
    sync_standby(cluster, leader)
    synced_at = time.monotonic()
    watch.wait_acks(leader.name, 10, after=synced_at)
    postmaster = leader.postmaster_pid()
    assert postmaster is not None
    os.kill(postmaster, signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: primary(cluster), 3 * 8, "one primary within 3 ttl of the kill")
    healthy(cluster, 60)
    in_sync = {w.n for w in watch.writes() if w.acked > synced_at}
    verdict = watch.verdict(deaths=[Death(leader.name, killed, killed + 1)])
    assert_safe(verdict, cluster.base_dir)
    late = sorted(set(verdict.excused_lost) & in_sync)
    assert not late, f"writes acknowledged in sync mode lost: {late[:10]}"
