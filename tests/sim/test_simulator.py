"""The simulator against the real rules: many random schedules, zero violations.

10,000 seeded schedules run on two worker processes (about a minute); a
failing seed's report is printed in full, with the command that replays it.
`scripts/sim.py` runs millions the same way.
"""

from __future__ import annotations

import dataclasses

import pytest

from messages.config import SyncMode

from . import mutations
from .runner import run_many, run_params, run_schedule
from .schedule import Fault, Params, make_params

SCHEDULES = 10_000


@pytest.mark.timeout(600)
def test_ten_thousand_random_schedules_break_no_invariant() -> None:
    summary = run_many(0, SCHEDULES, workers=2, chunk=250)
    print(f"\n{summary.describe()}")
    reports = "\n\n".join(o.report for o in summary.failures[:3])
    assert not summary.failures, f"{len(summary.failures)} schedules failed:\n{reports}"
    assert summary.promotions > SCHEDULES, "the schedules should fail over, not just idle"
    assert summary.acked_writes > 0


def test_a_seed_replays_exactly() -> None:
    first, second = run_schedule(1234, trace_ticks=500), run_schedule(1234, trace_ticks=500)
    assert first.report == second.report
    assert first.stats == second.stats


def test_a_failing_seed_reports_a_short_replayable_trace() -> None:
    with mutations.applied("no_lease_demotion"):
        runs = (run_schedule(seed, fence=False) for seed in range(200))
        outcome = next(o for o in runs if not o.ok)
    report = outcome.report
    assert "VIOLATION" in report and f"--seed {outcome.seed}" in report
    ticks = {line.split()[0] for line in report.splitlines() if line.startswith("t=")}
    assert 10 < len(ticks) <= 50


def frozen_leader(mode: SyncMode, seed: int = 7, margin: float | None = None) -> Params:
    """Three members; once converged, the leader's agent is SIGSTOPped for 3 ttl."""
    base = dataclasses.replace(make_params(seed), watchdog_margin=margin)
    config = dataclasses.replace(base.config, synchronous_mode=mode, synchronous_mode_strict=False)
    leader = _bootstrap_winner(dataclasses.replace(base, faults=(), config=config))
    freeze = Fault(at=5, kind="freeze", node=leader, duration=30)
    return dataclasses.replace(base, n=3, config=config, faults=(freeze,), fault_ticks=50)


def _bootstrap_winner(params: Params) -> int:
    from .world import World

    world = World(dataclasses.replace(params, n=3, fault_ticks=0))
    while world.dcs.leader is None or not world.converged():
        world.tick()
    return int(world.dcs.leader.name[1:])


def test_without_the_fence_a_paused_async_leader_keeps_taking_writes() -> None:
    """SIGSTOP freezes the agent but not PostgreSQL: no rule can demote it.

    With watchdog mode off the simulator counts these instants as zombie-primary
    ticks instead of a violation, in asynchronous mode only; this test shows
    they really occur.
    """
    outcome = run_params(frozen_leader(SyncMode.OFF))
    assert outcome.ok, outcome.report
    assert outcome.stats.zombie_ticks > 0 and outcome.stats.fenced == 0


def test_the_fence_kills_a_paused_async_leaders_server_before_another_promotes() -> None:
    """The same freeze with the fence: invariant (a) holds strictly, no exemption."""
    outcome = run_params(frozen_leader(SyncMode.OFF, margin=5.0))
    assert outcome.ok, outcome.report
    assert outcome.stats.fenced == 1 and outcome.stats.zombie_ticks == 0
    assert outcome.stats.promotions >= 2


def test_in_synchronous_mode_a_paused_leader_cannot_acknowledge_alongside_a_new_one() -> None:
    """The same freeze in sync mode: the new primary took the old one's only sync standby."""
    outcome = run_params(frozen_leader(SyncMode.ON))
    assert outcome.ok, outcome.report
    assert outcome.stats.zombie_ticks == 0
    assert outcome.stats.promotions >= 2
