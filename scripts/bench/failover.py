"""Failover scenarios on a local three-node cluster, measured with the write probe.

Usage:
  .venv/bin/python scripts/bench/failover.py --scenario switchover --runs 5 \\
      [--profile fast|default] [--sync] [--hog] [--out results.jsonl]
Scenarios: switchover, node_death, pg_crash, replica_death, member_return.
Each event fires after a uniform random delay (never on a fixed rhythm, which
would phase-lock with the agents' loops).  One JSON line per run, then a
summary line with median, min and max.  --hog runs the event with every core
busy (scripts/bench/hog.py: one spinning process pinned to each core, from a
second before the event until writes resumed).  --keep-over S keeps the logs and
data of each run slower than S seconds and adds to its line the wall-clock
timeline of the gap (the probe's failures within it) and, for pg_crash, the
agent's and the server's log lines phase by phase (crash_phases.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import crash_phases
from hog import Hogs
from localcluster import PASSWORD, LocalCluster, free_port, wait_for
from probe import ProbeLog, WriteProbe, missing_rows
from profiles import PROFILES


def dsn(cluster: LocalCluster) -> str:
    ports = ",".join(str(n.pg_port) for n in cluster.nodes)
    hosts = ",".join("127.0.0.1" for _ in cluster.nodes)
    return f"host={hosts} port={ports} user=postgres password={PASSWORD} dbname=postgres"


def primary(cluster: LocalCluster) -> str:
    return str(wait_for(cluster.healthy, 120, "a healthy cluster", interval_s=0.1))


def switchover(cluster: LocalCluster) -> str:
    leader = primary(cluster)
    candidate = wait_for(lambda: _candidate(cluster, leader), 60, "a switchover candidate")
    code, body = cluster.post(
        cluster.node(leader), "/switchover", {"leader": leader, "candidate": candidate}
    )
    assert code in (200, 202), body
    return leader


def _candidate(cluster: LocalCluster, leader: str) -> str | None:
    """In synchronous mode only the published sync standby may take over (else 412)."""
    members = (cluster.cluster_view(cluster.node(leader)) or {}).get("members", [])
    sync = [m["name"] for m in members if m.get("role") == "sync_standby"]
    if sync:
        return str(sync[0])
    config = members and (cluster.get_json(cluster.node(leader), "/config") or {})
    if config and config.get("synchronous_mode"):
        return None  # not published yet
    return next(n.name for n in cluster.nodes if n.name != leader)


def node_death(cluster: LocalCluster) -> str:
    leader = primary(cluster)
    cluster.kill_node(cluster.node(leader))
    return leader


def pg_crash(cluster: LocalCluster) -> str:
    leader = primary(cluster)
    pid = cluster.node(leader).postmaster_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return leader


def replica_death(cluster: LocalCluster) -> str:
    leader = primary(cluster)
    victim = next(n for n in cluster.nodes if n.name != leader)
    cluster.kill_node(victim)
    return victim.name


def member_return(cluster: LocalCluster) -> str:
    leader = primary(cluster)
    victim = next(n for n in cluster.nodes if n.name != leader)
    cluster.kill_node(victim)
    cluster.start_node(victim)
    return victim.name


EVENTS: dict[str, Callable[[LocalCluster], str]] = {
    "switchover": switchover,
    "node_death": node_death,
    "pg_crash": pg_crash,
    "replica_death": replica_death,
    "member_return": member_return,
}


def one_run(
    scenario: str, profile: str, sync: bool, keep_over: float | None = None, hog: bool = False
) -> dict[str, Any]:
    """One measured run; its logs and data are kept when it took over `keep_over` s."""
    dynamic: dict[str, Any] = dict(PROFILES[profile])
    if sync:
        dynamic["synchronous_mode"] = True
    base = Path(tempfile.mkdtemp(prefix="pgactor-bench-", dir="/tmp"))
    cluster = LocalCluster(
        base,
        scope="bench",
        pg_ports=[free_port() for _ in range(3)],
        api_ports=[free_port() for _ in range(3)],
        dynamic=dynamic,
    )
    keep = False
    try:
        cluster.start()
        leader = primary(cluster)
        if sync:  # a sync-mode failover presupposes a published synchronous standby
            wait_for(lambda: _candidate(cluster, leader), 60, "a published sync standby")
        probe = WriteProbe(dsn(cluster)).start()
        with Hogs() if hog else contextlib.nullcontext():
            time.sleep(1.0 + random.uniform(0, PROFILES[profile]["loop_wait"]))
            event_at = time.monotonic()
            subject = EVENTS[scenario](cluster)
            recovered = _recovered(cluster, scenario, subject)
            wait_for(lambda: _writes_resumed(probe.log, event_at), 120, "writes to resume")
        time.sleep(2.0)
        log = probe.stop()
        lost = missing_rows(dsn(cluster), log.acked)
        result: dict[str, Any] = {
            "scenario": scenario,
            "profile": profile,
            "sync": sync,
            "hog": hog,
            "unavailable_s": round(log.largest_gap(event_at, time.monotonic()), 3),
            "recovered_s": round(recovered - event_at, 3),
            "acked": len(log.acked),
            "lost": len(lost),
        }
        keep = keep_over is not None and result["unavailable_s"] > keep_over
        if keep:
            result["kept"] = str(base)  # the logs, to see where the time went
            result["timeline"] = _timeline(log, event_at)
            if scenario == "pg_crash":  # the agent's and the server's log lines, phase by phase
                timeline = result["timeline"]
                result["phases"] = crash_phases.phases(base, timeline["event"], timeline["gap_to"])
        return result
    finally:
        cluster.stop()
        if not keep:
            cluster.remove_data()


def _timeline(log: ProbeLog, event_at: float) -> dict[str, Any]:
    """Wall-clock times (as the server and agent logs print them) of the event, the
    acknowledged writes either side of the largest gap and the failures within it:
    to line a kept run's logs up with the probe."""
    offset = time.time() - time.monotonic()
    acked = [event_at] + [t for _, t in log.acked if t >= event_at]
    start, end = max(itertools.pairwise(acked), key=lambda pair: pair[1] - pair[0])
    failures = [(t, why) for t, why in list(log.failures) if start <= t <= end]

    def wall(t: float) -> str:
        moment = datetime.datetime.fromtimestamp(t + offset, datetime.UTC)
        return moment.strftime("%H:%M:%S.%f")[:-3]

    return {
        "event": wall(event_at),
        "gap_from": wall(start),
        "gap_to": wall(end),
        "failures": len(failures),
        "first_failure": wall(failures[0][0]) if failures else None,
        "last_failure": wall(failures[-1][0]) if failures else None,
        "failure_kinds": sorted({why for _, why in failures}),
    }


def _writes_resumed(log: ProbeLog, event_at: float) -> bool:
    """A write acknowledged after the last failure since the event: the members' roles
    can look recovered before a crashed primary accepts writes again (under load its
    crash recovery takes longer than the 2 s the probe runs on)."""
    failures = [t for t, _ in list(log.failures) if t >= event_at]
    return log.first_ack_after(max(failures, default=event_at)) is not None


def _recovered(cluster: LocalCluster, scenario: str, subject: str) -> float:
    if scenario == "member_return":
        wait_for(
            lambda: cluster.roles().get(subject) == "streaming", 120, "return", interval_s=0.05
        )
    elif scenario == "replica_death":
        pass
    else:
        wait_for(
            lambda: _new_primary_writable(cluster, subject, scenario),
            120,
            "a writable primary",
            interval_s=0.05,
        )
    return time.monotonic()


def _new_primary_writable(cluster: LocalCluster, old: str, scenario: str) -> bool:
    roles = cluster.roles()
    leaders = [n for n, r in roles.items() if r == "primary"]
    if scenario == "pg_crash":
        return len(leaders) == 1
    return len(leaders) == 1 and leaders[0] != old


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=sorted(EVENTS), required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    parser.add_argument("--sync", action="store_true")
    parser.add_argument("--hog", action="store_true", help="every core busy during the event")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--keep-over", type=float, help="keep the logs and data of runs slower than this (s)"
    )
    args = parser.parse_args()
    results = []
    for _ in range(args.runs):
        result = one_run(args.scenario, args.profile, args.sync, args.keep_over, args.hog)
        results.append(result)
        _emit(result, args.out)
    gaps = [r["unavailable_s"] for r in results]
    _emit(
        {
            "scenario": args.scenario,
            "profile": args.profile,
            "sync": args.sync,
            "hog": args.hog,
            "runs": len(gaps),
            "median_unavailable_s": statistics.median(gaps),
            "min": min(gaps),
            "max": max(gaps),
            "lost_total": sum(r["lost"] for r in results),
        },
        args.out,
    )


def _emit(row: dict[str, Any], out: Path | None) -> None:
    line = json.dumps(row)
    print(line, flush=True)
    if out is not None:
        with out.open("a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
