"""Time from nothing to one primary and two streaming replicas, on a local cluster.

Usage: .venv/bin/python scripts/bench/bootstrap.py [--runs N]
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
from localcluster import LocalCluster, free_port, wait_for


def one_run() -> float:
    base = Path(tempfile.mkdtemp(prefix="pgactor-bench-", dir="/tmp"))
    cluster = LocalCluster(
        base,
        scope="bench",
        pg_ports=[free_port() for _ in range(3)],
        api_ports=[free_port() for _ in range(3)],
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
    runs = []
    for i in range(parser.parse_args().runs):
        took = one_run()
        runs.append(took)
        print(json.dumps({"scenario": "bootstrap", "run": i, "seconds": round(took, 2)}))
    print(
        json.dumps(
            {
                "scenario": "bootstrap",
                "median": round(statistics.median(runs), 2),
                "min": round(min(runs), 2),
                "max": round(max(runs), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
