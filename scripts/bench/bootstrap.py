"""Time from nothing to one primary and two streaming replicas, on a local cluster.

Usage: .venv/bin/python scripts/bench/bootstrap.py [--runs N] [--profile fast|default] [--sync]
Prints one JSON line per run and a summary (median, min, max).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from localcluster import LocalCluster, free_port, wait_for
from profiles import PROFILES


def one_run(profile: str = "fast", sync: bool = False) -> float:
    base = Path(tempfile.mkdtemp(prefix="pgactor-bench-", dir="/tmp"))
    cluster = LocalCluster(
        base,
        scope="bench",
        pg_ports=[free_port() for _ in range(3)],
        api_ports=[free_port() for _ in range(3)],
        dynamic={**PROFILES[profile], "synchronous_mode": sync},
    )
    try:
        cluster.start_etcd()
        cluster.write_configs()
        started = time.monotonic()
        for node in cluster.nodes:
            cluster.start_node(node)
        wait_for(cluster.healthy, 120, "a healthy cluster", interval_s=0.05)
        took = time.monotonic() - started
    except BaseException:
        cluster.stop()
        print(f"bootstrap run failed; logs kept in {base}", file=sys.stderr)
        raise
    cluster.stop()
    cluster.remove_data()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    parser.add_argument("--sync", action="store_true")
    args = parser.parse_args()
    runs = []
    tags = {"scenario": "bootstrap", "profile": args.profile, "sync": args.sync}
    for i in range(args.runs):
        took = one_run(args.profile, args.sync)
        runs.append(took)
        print(json.dumps({**tags, "run": i, "seconds": round(took, 2)}), flush=True)
    print(
        json.dumps(
            {
                **tags,
                "median": round(statistics.median(runs), 2),
                "min": round(min(runs), 2),
                "max": round(max(runs), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
