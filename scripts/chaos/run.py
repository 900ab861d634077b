#!/usr/bin/env python3
"""Chaos run: three pgactor members on hosts of their own, faults, and a verdict.

    scripts/chaos/run.py --rounds 1 --out DIR                  # every fault once (CI)
    scripts/chaos/run.py --duration 1800 --mode async --out DIR  # rounds for 30 minutes
    scripts/chaos/run.py --mode sync --failsafe --faults freeze_etcd,full_restart ...

Needs root (network namespaces).  Each round fires every fault once, in a
random order, each after a random delay.  After each heal the cluster must be
back to one primary and two streaming replicas within CONVERGE_BOUND_S.  At
the end the checker reads every acknowledged write and every pg_is_in_recovery()
sample: no two members may ever have been writable at one instant, in any
mode.  ``--mode sync`` (synchronous_mode strict, the default): no
acknowledged write may be missing from the final primary.  ``--mode async``:
a write may be missing only if its leader died (kill_both, a freeze past ttl
with the fence, cut off from everyone) around the moment it was acknowledged,
and only within maximum_lag_on_failover of the end of that leader's WAL;
planned events (switchover, a clean full stop and start, timing edits) lose
nothing.  ``--failsafe`` turns failsafe_mode on: while etcd is frozen the
primary must keep taking writes (no gap of FAILSAFE_GAP_S or more).  DIR keeps
the logs, the fault timeline (result.json) and the write history; the data
directories are removed.  Exit 0 only if all of that held.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

from localcluster import PASSWORD, stop_pid, wait_for  # noqa: E402

from chaos.checker import (  # noqa: E402
    Death,
    Write,
    load_samples,
    load_writes,
    unavailability,
    verdict,
)
from chaos.cluster import ChaosCluster  # noqa: E402
from chaos.faults import Event, Faults  # noqa: E402
from chaos.netns import Topology, namespaces_available  # noqa: E402
from chaos.safety_faults import SafetyFaults  # noqa: E402

TIMINGS = {
    10: {"ttl": 10, "loop_wait": 1, "retry_timeout": 3},
    6: {"ttl": 6, "loop_wait": 1, "retry_timeout": 2},
}
"""--ttl: the long runs use 10 s (the hostile testing's figures); CI's short run 6 s."""
MAX_LAG = 1048576
"""maximum_lag_on_failover (Patroni's default): what async mode may lose as a leader dies."""
FAILSAFE_GAP_S = 2.0
"""With failsafe_mode, the longest stretch without an acknowledged write while etcd is
frozen (or down)."""
FAILSAFE_FAULTS = ("freeze_etcd", "restart_etcd")
CONVERGE_BOUND_S = 60.0
"""After a heal: one primary and two streaming replicas within this (ttl 10 s)."""
STABLE_S = 2.0
CLIENT = Path(__file__).resolve().parent / "client.py"


def _leave(signum: int, frame: object) -> None:
    """SIGTERM or a hangup: unwind through main's cleanup (every process this run
    started, its namespaces) instead of dying and leaving them behind."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _leave)
    args = _parse(argv)
    if not namespaces_available():
        print("chaos: cannot make network namespaces (needs root)", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o755)  # the postgres OS user must reach the data directories below
    rng = random.Random(args.seed)
    timing = TIMINGS[args.ttl]
    dynamic = dynamic_config(timing, args.mode, args.failsafe)
    topo = Topology(f"pgc{os.getpid() % 100000}", ["etcd", "node1", "node2", "node3", "client"])
    topo.create()
    cluster = ChaosCluster(out / "cluster", topo, dynamic)
    client: subprocess.Popen[bytes] | None = None
    events: list[Event] = []
    result: dict[str, Any] = {"ok": False, "seed": args.seed, "error": "interrupted"}
    try:
        cluster.start()
        client = _start_client(cluster)
        wait_for(cluster.healthy, 120, "one primary and two streaming replicas", 0.5)
        _inject(cluster, SafetyFaults(cluster, rng, timing), rng, args, events)
        result = _judge(cluster, client, events, args, dynamic)
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        result.setdefault("events", [_event_dict(e) for e in events])
        (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        if client is not None and client.poll() is None:
            stop_pid(client.pid, signal.SIGTERM, timeout_s=10)
        cluster.stop()
        topo.destroy()
        _remove_data(cluster)
    print(_summary(result))
    return 0 if result["ok"] else 1


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", required=True, help="where logs and result.json go")
    p.add_argument("--rounds", type=int, default=1, help="passes over every fault (default 1)")
    p.add_argument("--duration", type=float, default=0.0, help="keep going this many seconds")
    p.add_argument("--seed", type=int, default=random.randrange(2**32))
    p.add_argument("--faults", default="", help="comma-separated subset (default: all)")
    p.add_argument(
        "--mode",
        choices=("sync", "async"),
        default="sync",
        help="sync: synchronous_mode strict, no loss at all; async: no synchronous mode",
    )
    p.add_argument("--failsafe", action="store_true", help="failsafe_mode: true")
    p.add_argument("--ttl", type=int, choices=sorted(TIMINGS), default=10, help="timing profile")
    return p.parse_args(argv)


def dynamic_config(timing: dict[str, float], mode: str, failsafe: bool) -> dict[str, Any]:
    sync = mode == "sync"
    return {
        **timing,
        "synchronous_mode": sync,
        "synchronous_mode_strict": sync,
        "failsafe_mode": failsafe,
        "maximum_lag_on_failover": MAX_LAG,
    }


def _start_client(cluster: ChaosCluster) -> subprocess.Popen[bytes]:
    out = cluster.base_dir / "client"
    out.mkdir(exist_ok=True)
    argv = [sys.executable, str(CLIENT), "run", "--out", str(out), "--password", PASSWORD]
    log = open(out / "client.log", "ab")  # noqa: SIM115 - lives with the process
    return subprocess.Popen(
        cluster.topology.hosts["client"].exec(*argv, *cluster.member_args()),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _inject(
    cluster: ChaosCluster,
    faults: Faults,
    rng: random.Random,
    args: argparse.Namespace,
    events: list[Event],
) -> None:
    chosen = [f for f in args.faults.split(",") if f] or list(faults.kinds)
    unknown = sorted(set(chosen) - set(faults.kinds))
    if unknown:
        raise SystemExit(f"unknown fault(s) {unknown}; known: {sorted(faults.kinds)}")
    start, rounds = time.monotonic(), 0
    while rounds < args.rounds or time.monotonic() - start < args.duration:
        for name in rng.sample(chosen, len(chosen)):
            time.sleep(rng.uniform(0.5, 3.0))  # a random moment, never a fixed rhythm
            event = faults.kinds[name]()
            event.converged_at = _converged(cluster)
            if event.converged_at is None:
                event.note = (event.note + "; " if event.note else "") + "did not converge"
            events.append(event)
            print(_event_line(event), flush=True)
            if event.converged_at is None:
                return  # the history past here would say nothing new
        rounds += 1


def _converged(cluster: ChaosCluster) -> float | None:
    """When the cluster was healthy again: the start of the first STABLE_S stretch in
    which the client saw one primary and two streaming replicas throughout.  A single
    look could catch a status published before the fault took effect."""
    deadline = time.monotonic() + CONVERGE_BOUND_S
    since: float | None = None
    while time.monotonic() < deadline:
        now = time.monotonic()
        since = (since or now) if cluster.healthy() else None
        if since is not None and now - since >= STABLE_S:
            return since
        time.sleep(0.25)  # the client refreshes what it sees every 0.25 s
    return None


def _judge(
    cluster: ChaosCluster,
    client: subprocess.Popen[bytes],
    events: list[Event],
    args: argparse.Namespace,
    dynamic: dict[str, Any],
) -> dict[str, Any]:
    # Writers first: a commit that was waiting for a standby may be acknowledged
    # until the client stops, and the rows must be read after every ack it logs.
    stop_pid(client.pid, signal.SIGTERM, timeout_s=10)
    present = _collect(cluster)
    writes = load_writes(cluster.base_dir / "client" / "writes.jsonl")
    samples = load_samples(cluster.base_dir / "client" / "probes.jsonl")
    deaths = None if args.mode == "sync" else leader_deaths(events)
    found = verdict(writes, present, samples, deaths=deaths, max_lag=MAX_LAG)
    gaps = failsafe_gaps(writes, events) if args.failsafe else []
    converged = all(e.converged_at is not None for e in events)
    times = [e.converge_s for e in events if e.converge_s is not None]
    return {
        "ok": found.ok and converged and not gaps,
        "seed": args.seed,
        "mode": args.mode,
        "failsafe": args.failsafe,
        "dynamic": dynamic,
        "converge_bound_s": CONVERGE_BOUND_S,
        "max_converge_s": max(times, default=None),
        "acknowledged": found.acknowledged,
        "lost": found.lost[:100],
        "lost_as_leader_died": len(found.excused_lost),
        "split_brain": found.split_brain,
        "failsafe_gaps": gaps,
        "events": [_event_dict(e) for e in events],
    }


def leader_deaths(events: list[Event]) -> list[Death]:
    return [
        Death(e.target, e.injected_at, e.healed_at or e.injected_at)
        for e in events
        if e.leader_died
    ]


def failsafe_gaps(writes: list[Write], events: list[Event]) -> list[str]:
    """With failsafe_mode, etcd frozen or down must not stop the writes."""
    found = []
    for e in events:
        if e.fault in FAILSAFE_FAULTS and e.healed_at is not None:
            gap = unavailability(writes, e.injected_at, e.healed_at)
            if gap >= FAILSAFE_GAP_S:
                found.append(f"{e.fault} at t={e.injected_at:.1f}: no write for {gap:.1f} s")
    return found


def _event_dict(e: Event) -> dict[str, Any]:
    return dataclasses.asdict(e) | {"converge_s": e.converge_s}


def _collect(cluster: ChaosCluster) -> set[int]:
    argv = [sys.executable, str(CLIENT), "collect", "--password", PASSWORD]
    cmd = cluster.topology.hosts["client"].exec(*argv, *cluster.member_args())
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"collecting the rows failed: {done.stderr.strip()}")
    return set(json.loads(done.stdout)["rows"])


def _remove_data(cluster: ChaosCluster) -> None:
    from actors.postgres.oscommand import run_dir_for

    for node in cluster.nodes:
        if (node.data_dir / "log").is_dir():  # PostgreSQL's own logs stay with the run's
            shutil.copytree(
                node.data_dir / "log", node.data_dir.parent / "pg_log", dirs_exist_ok=True
            )
        shutil.rmtree(node.data_dir, ignore_errors=True)
        shutil.rmtree(run_dir_for(str(node.data_dir)), ignore_errors=True)
    shutil.rmtree(cluster.base_dir / "etcd", ignore_errors=True)


def _event_line(e: Event) -> str:
    took = f"converged in {e.converge_s:.1f} s" if e.converge_s is not None else "NOT converged"
    note = f" ({e.note})" if e.note else ""
    return f"{e.fault:18} on {e.target} ({e.target_role}): {took}{note}"


def _summary(result: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for e in result["events"]:
        counts[e["fault"]] = counts.get(e["fault"], 0) + 1
    mode = f"{result.get('mode')}{' failsafe' if result.get('failsafe') else ''}"
    lines = [
        f"chaos: {'PASSED' if result['ok'] else 'FAILED'} (seed {result['seed']}, {mode})",
        "faults: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())),
        f"acknowledged writes: {result['acknowledged']}, lost: {len(result['lost'])}"
        f" (and {result.get('lost_as_leader_died', 0)} as their leader died)",
        f"split brain: {result['split_brain'] or 'none'}",
        f"failsafe write gaps: {result.get('failsafe_gaps') or 'none'}",
        f"slowest convergence after a heal: {result['max_converge_s']} s"
        f" (bound {result['converge_bound_s']:.0f} s)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
