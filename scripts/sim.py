#!/usr/bin/env python3
"""Run the HA simulator: many random fault schedules against the real HA cycle.

    scripts/sim.py --schedules 1000000 --workers 8           # the nightly run, all cores
    scripts/sim.py --family failsafe_cut --seed 21 -v        # replay one, with its trace
    scripts/sim.py --family leader_cut --schedules 200 --mutation no_lease_demotion --stop
    scripts/sim.py --list                                    # families and mutations

Exit status 1 when any schedule broke an invariant (with --mutation: when none
did, i.e. the broken rule went unnoticed).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.sim import mutations
from tests.sim.families import FAMILIES
from tests.sim.runner import Summary, run_many, run_schedule


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        print("families:", ", ".join(sorted(FAMILIES)))
        for name, m in mutations.MUTATIONS.items():
            print(f"mutation {name}: {m.what} (family {m.family}, budget {m.budget})")
        return 0
    if args.schedules is None:
        return _replay(args)
    summary = run_many(
        args.seed,
        args.schedules,
        workers=args.workers,
        family=args.family,
        mutation=args.mutation,
        fence=args.fence,
        chunk=args.chunk,
        stop_at_first=args.stop,
        progress=_progress if args.progress else None,
    )
    if args.progress:
        print(file=sys.stderr)
    print(summary.describe())
    for family, count in sorted(summary.by_family.items()):
        print(f"  {family}: {count}")
    for outcome in summary.failures[: args.show]:
        print(f"\n--- {outcome.family} seed {outcome.seed} ---\n{outcome.report}")
    if args.mutation is not None:
        return 0 if summary.failures else 1
    return 1 if summary.failures else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--schedules", type=int, help="how many seeds to run (default: replay one)")
    parser.add_argument("--seed", type=int, default=0, help="the first seed (or the one to replay)")
    parser.add_argument("--family", choices=sorted(FAMILIES), help="default: the CI mix by seed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--mutation", choices=sorted(mutations.MUTATIONS), default=None)
    parser.add_argument(
        "--fence", action=argparse.BooleanOptionalAction, default=None,
        help="run members with the fence (default: as the schedule, or as the mutation says)",
    )  # fmt: skip
    parser.add_argument("--stop", action="store_true", help="stop at the first failure")
    parser.add_argument("--show", type=int, default=3, help="failure reports to print")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--list", action="store_true", help="list families and mutations")
    parser.add_argument("-v", "--verbose", action="store_true", help="replay: the whole trace")
    parser.add_argument("--seconds", type=float, default=30.0, help="replay: seconds of trace")
    return parser


def _replay(args: argparse.Namespace) -> int:
    fence = args.fence
    if fence is None and args.mutation is not None:
        fence = mutations.MUTATIONS[args.mutation].fence
    seconds = 1e9 if args.verbose else args.seconds
    with mutations.applied(args.mutation):
        outcome = run_schedule(args.seed, args.family, trace_s=seconds, fence=fence)
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
