"""docs/BENCHMARKS.md's failover table, from the JSON lines scripts/bench/sweep wrote.

    .venv/bin/python scripts/bench/table.py docs/bench/results.jsonl

One row per scenario, profile and synchronous mode: runs, median, min-max of
the write unavailability (and of the time to recovery where the scenario's
figure is that), acknowledged writes lost, and the target beside it.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

# scenario -> (what is measured, the row's figure key, the target, Patroni 4.1.5)
SCENARIOS = {
    "switchover": ("write unavailability", "unavailable_s", "< 1 s median", "2.4 s"),
    "pg_crash": ("write unavailability", "unavailable_s", "< 1.5 s", "5.1 s"),
    "node_death": ("write unavailability", "unavailable_s", "< ttl + 1 s", "30 s (ttl 30)"),
    "replica_death": ("write unavailability", "unavailable_s", "-", "-"),
    "member_return": ("back to streaming", "recovered_s", "< 5 s", "13 s"),
}
PROFILES = {"fast": "ttl 10 / loop_wait 2 / retry 3", "default": "ttl 30 / loop_wait 10 / retry 10"}


def rows(path: Path) -> dict[tuple[str, str, bool], list[dict[str, Any]]]:
    runs: dict[tuple[str, str, bool], list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if "unavailable_s" in row:  # one run (summaries carry median_* instead)
            runs[(row["scenario"], row["profile"], row["sync"])].append(row)
    return runs


def figure(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def table(path: Path) -> str:
    runs = rows(path)
    out = [
        "| scenario | profile | sync | runs | measured | median (min-max) | lost | target"
        " | Patroni 4.1.5 (default profile) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario, (what, key, target, patroni) in SCENARIOS.items():
        for profile in PROFILES:
            for sync in (False, True):
                found = runs.get((scenario, profile, sync))
                if not found:
                    continue
                lost = sum(r["lost"] for r in found)
                values = [float(r[key]) for r in found]
                out.append(
                    f"| {scenario.replace('_', ' ')} | {profile} | {'on' if sync else 'off'}"
                    f" | {len(found)} | {what} | {figure(values)} | {lost} | {target} | {patroni} |"
                )
    return "\n".join(out)


if __name__ == "__main__":
    print(table(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/bench/results.jsonl")))
