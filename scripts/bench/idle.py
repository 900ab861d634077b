"""Cost of an idle healthy cluster: each agent's RSS and CPU, and DCS requests.

Usage: .venv/bin/python scripts/bench/idle.py [--seconds 60]
Starts a local cluster (etcd or the Kubernetes API test server), waits until
it is healthy and has settled, then measures over the window: each pgactor
process's RSS at the end and CPU seconds used (utime + stime from /proc), per
thread too, with each thread's wake-ups (voluntary context switches), the
same for its fence process (the watchdog, a process of its own), and
the DCS requests served per minute for the whole cluster -- etcd's
grpc_server_handled_total counter (the JSON gateway goes through gRPC), or
the test API server's request log, and (etcd) which keys were written and which
of their fields changed.  Run it with --nodes 1 to see what an
idle leader alone costs; (cluster - leader) / (nodes - 1) is an idle member.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import etcd_writes
from localcluster import LocalCluster, free_port, wait_for
from profiles import PROFILES
from threads import snapshot, wakeups

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def fence_of(agent: int) -> int | None:
    """The agent's fence process (watchdog), a separate process of its own."""
    # Each thread lists the children it started; the fence comes from an actor's thread.
    children = [
        c for t in Path(f"/proc/{agent}/task").glob("*/children") for c in t.read_text().split()
    ]
    for child in children:
        with contextlib.suppress(OSError):
            if b"actors.postgres.fence" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
    return None


def _fence_cost(pid: int | None, cpu0: float, minutes: float) -> dict[str, float]:
    if pid is None:
        return {}
    cpu = (cpu_seconds(pid) - cpu0) / minutes
    return {"fence_rss_mb": round(rss_mb(pid), 1), "fence_cpu_s_per_min": round(cpu, 3)}


def _thread_costs(
    before: dict[str, tuple[str, int]],
    after: dict[str, tuple[str, int]],
    minutes: float,
    unit: float = TICKS,
) -> dict[str, float]:
    """Per minute by thread name (actors name their threads), largest first: CPU seconds
    from clock ticks, or (unit 1) wake-ups from voluntary context switches."""
    costs: dict[str, float] = {}
    for tid, (name, count) in after.items():
        used = (count - before.get(tid, (name, 0))[1]) / unit / minutes
        costs[name] = costs.get(name, 0.0) + used
    ranked = sorted(costs.items(), key=lambda kv: -kv[1])
    return {name: round(cpu, 3) for name, cpu in ranked if cpu > 0}


def _per_min(
    before: dict[str, int], cluster: LocalCluster, dcs: str, minutes: float
) -> dict[str, float]:
    if dcs != "etcd":
        return {}
    after = etcd_requests_by_method(cluster.etcd_port)
    rates = {k: round((v - before.get(k, 0)) / minutes, 1) for k, v in after.items()}
    return {k: v for k, v in sorted(rates.items()) if v}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def etcd_requests(port: int) -> int:
    return sum(etcd_requests_by_method(port).values())


def etcd_requests_by_method(port: int) -> dict[str, int]:
    """etcd's handled gRPC calls by method (Range, Put, Txn, LeaseKeepAlive, ...)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    pattern = re.compile(r"^grpc_server_handled_total\{([^}]*)\} (\d+)", re.M)
    counts: dict[str, int] = {}
    for labels, value in pattern.findall(text):
        method = re.search(r'grpc_method="([^"]*)"', labels)
        key = method.group(1) if method else "?"
        counts[key] = counts.get(key, 0) + int(value)
    return counts


def k8s_requests(cluster: LocalCluster) -> int:
    with urllib.request.urlopen(f"{cluster.k8s_api_url}/_test/requests", timeout=5) as r:
        return len(json.load(r)["requests"])


def dcs_requests(cluster: LocalCluster) -> int:
    if cluster.dcs == "kubernetes":
        return k8s_requests(cluster)
    return etcd_requests(cluster.etcd_port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--dcs", choices=["etcd", "kubernetes"], default="etcd")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default")
    parser.add_argument("--keep", action="store_true", help="keep the data and logs (printed)")
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        help="seconds to wait once healthy (default loop_wait + 2); a fresh cluster's first"
        " autovacuum rounds (ANALYZE of the catalogs) move the WAL for about two minutes",
    )
    args = parser.parse_args()
    timing = PROFILES[args.profile]
    base = Path(tempfile.mkdtemp(prefix="pgactor-idle-", dir="/tmp"))
    n = args.nodes
    cluster = LocalCluster(
        base,
        scope="idle",
        pg_ports=[free_port() for _ in range(n)],
        api_ports=[free_port() for _ in range(n)],
        dynamic=timing,
        dcs=args.dcs,
    )
    try:
        cluster.start()
        wait_for(cluster.healthy, 120, "a healthy cluster", interval_s=0.2)
        time.sleep(timing["loop_wait"] + 2 if args.settle is None else args.settle)
        pids = {n.name: n.proc.pid for n in cluster.nodes if n.proc is not None}
        fences = {name: fence_of(pid) for name, pid in pids.items()}
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        threads0 = {name: snapshot(pid) for name, pid in pids.items()}
        wakes0 = {name: wakeups(pid) for name, pid in pids.items()}
        fence_cpu0 = {name: cpu_seconds(pid) for name, pid in fences.items() if pid}
        rev0 = etcd_writes.revision(cluster.etcd_port) if args.dcs == "etcd" else 0
        req0 = dcs_requests(cluster)
        by0 = etcd_requests_by_method(cluster.etcd_port) if args.dcs == "etcd" else {}
        time.sleep(args.seconds)
        minutes = args.seconds / 60
        req = (dcs_requests(cluster) - req0) / minutes
        for name, pid in pids.items():
            print(
                json.dumps(
                    {
                        "agent": name,
                        "rss_mb": round(rss_mb(pid), 1),
                        "cpu_s_per_min": round((cpu_seconds(pid) - cpu0[name]) / minutes, 3),
                        **_fence_cost(fences[name], fence_cpu0.get(name, 0.0), minutes),
                        "threads": _thread_costs(threads0[name], snapshot(pid), minutes),
                        "wakeups_per_min": _thread_costs(wakes0[name], wakeups(pid), minutes, 1),
                    }
                )
            )
        print(
            json.dumps(
                {
                    "profile": args.profile,
                    "dcs": args.dcs,
                    "nodes": n,
                    "seconds": args.seconds,
                    "dcs_requests_per_min_cluster": round(req, 1),
                    "etcd_calls_per_min_by_method": _per_min(by0, cluster, args.dcs, minutes),
                }
            )
        )
        if args.dcs == "etcd":
            end = etcd_writes.revision(cluster.etcd_port)
            writes = etcd_writes.writes_by_key(cluster.etcd_port, rev0 + 1, end)
            print(json.dumps({"etcd_writes_by_key": writes}))
    finally:
        cluster.stop()
        if args.keep:
            print(json.dumps({"kept": str(base)}))
        else:
            cluster.remove_data()


if __name__ == "__main__":
    main()
