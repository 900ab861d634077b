#!/usr/bin/env python3
"""Run the HA simulator: many random fault schedules against the real decide().

    scripts/sim.py --schedules 1000000 --seed 0 --workers 8
    scripts/sim.py --seed 1234 -v          # replay one schedule with its full trace
    scripts/sim.py --mutation no_lag_check --schedules 5000   # a broken rule must fail

Exit status 1 when any schedule broke an invariant (0 with --mutation means
the broken rule went unnoticed, which is also reported).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.sim import mutations
from tests.sim.runner import Summary, run_many, run_schedule


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.schedules is None:
        return _replay(args.seed, args.mutation, args.ticks)
    summary = run_many(
        args.seed,
        args.schedules,
        workers=args.workers,
        mutation=args.mutation,
        chunk=args.chunk,
        stop_at_first=args.stop,
        progress=_progress if args.progress else None,
    )
    print(summary.describe())
    for outcome in summary.failures[: args.show]:
        print(f"\n--- seed {outcome.seed} ---\n{outcome.report}")
    return 1 if summary.failures else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, help="how many seeds to run (default: replay one)")
    parser.add_argument("--seed", type=int, default=0, help="the first seed (or the one to replay)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--mutation", choices=sorted(mutations.MUTATIONS), default=None)
    parser.add_argument("--stop", action="store_true", help="stop at the first failure")
    parser.add_argument("--show", type=int, default=3, help="failure reports to print")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="replay: the whole trace")
    parser.add_argument("--ticks", type=int, default=50, help="replay: ticks of trace to print")
    return parser


def _replay(seed: int, mutation: str | None, ticks: int) -> int:
    with mutations.applied(mutation):
        # as run_many runs it: a mutation is tested without the fence
        outcome = run_schedule(seed, trace_ticks=ticks, fence=mutation is None)
    print(outcome.report)
    return 0 if outcome.ok else 1


def _progress(summary: Summary) -> None:
    print(
        f"\r{summary.runs} schedules, {summary.rate:.0f}/s, {len(summary.failures)} failed",
        end="",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
