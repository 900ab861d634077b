"""The simulator against the real HA cycle: many random schedules, no violation.

The schedules run on two worker processes, every family and both lease models
(etcd's server-side expiry and Kubernetes' observer-judged one); a failing
schedule's report is printed in full, with the command that replays it.
`scripts/sim.py` runs millions the same way.  SIM_SCHEDULES overrides the
count (the nightly run uses a million).
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from actors.ha import replica_rules
from messages.config import SyncMode

from .families import FAMILIES
from .runner import run_many, run_params, run_schedule
from .schedule import LEADER, Fault, Params, make_params

SCHEDULES = int(os.environ.get("SIM_SCHEDULES", "2000"))


@pytest.mark.timeout(900)
def test_random_schedules_of_every_family_break_no_invariant() -> None:
    summary = run_many(0, SCHEDULES, workers=2, chunk=50)
    print(f"\n{summary.describe()}")
    reports = "\n\n".join(o.report for o in summary.failures[:3])
    assert not summary.failures, f"{len(summary.failures)} schedules failed:\n{reports}"
    assert set(summary.by_family) == set(FAMILIES), "every family ran"
    assert 0.3 < summary.etcd / summary.runs < 0.7, "both lease models ran"
    assert summary.totals.takeovers > SCHEDULES / 2, "the schedules should fail over, not idle"
    assert summary.totals.acked_writes > 0


def test_a_seed_replays_exactly() -> None:
    first, second = run_schedule(1234, trace_s=500), run_schedule(1234, trace_s=500)
    assert first.report == second.report
    assert dataclasses.replace(first.stats, seconds=0) == dataclasses.replace(
        second.stats, seconds=0
    )


def test_a_failing_schedule_reports_a_short_replayable_trace() -> None:
    from . import mutations

    with mutations.applied("no_lease_demotion"):
        runs = (run_schedule(seed, "leader_cut", fence=False) for seed in range(50))
        outcome = next(o for o in runs if not o.ok)
    report = outcome.report
    assert "VIOLATION" in report and f"--seed {outcome.seed}" in report
    assert "--family leader_cut" in report
    assert 10 < len([line for line in report.splitlines() if line.startswith("t=")]) < 1500


def frozen_leader(mode: SyncMode, margin: float | None = None, seed: int = 7) -> Params:
    """Three members; once converged, the leader's agent is SIGSTOPped for 3 ttl."""
    base = make_params(seed, "leader_freeze")
    config = dataclasses.replace(base.config, synchronous_mode=mode, synchronous_mode_strict=False)
    freeze = Fault(at=1.0, kind="freeze", node=LEADER, duration=base.ttl * 3)
    return dataclasses.replace(
        base,
        n=3,
        tags=base.tags[:3],
        clock_origins=base.clock_origins[:3],
        clock_rates=base.clock_rates[:3],
        wall_origins=base.wall_origins[:3],
        start_delays=base.start_delays[:3],
        lags=(0.05, 0.05, 0.05),
        config=config,
        sync_actor=mode is not SyncMode.OFF,
        watchdog_margin=margin,
        faults=(freeze,),
        window=base.ttl * 4,
        write_rate=2.0,
    )


def test_without_the_fence_the_probe_holds_the_others_back_from_a_frozen_leader() -> None:
    """SIGSTOP freezes the agent but not PostgreSQL: no rule can demote it, but the
    candidates probe the former primary (at the address its status record keeps once
    its member record expired), find it writable and wait: one writer, no failover."""
    outcome = run_params(frozen_leader(SyncMode.OFF))
    assert outcome.ok, outcome.report
    assert outcome.stats.zombie_events == 0 and outcome.stats.fenced == 0


def test_without_fence_or_probe_a_frozen_async_leader_keeps_taking_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without either defence the others fail over while it takes writes.

    The simulator counts such instants as zombie-primary events instead of a
    violation, in asynchronous mode only; this shows they occur.
    """
    monkeypatch.setattr(replica_rules, "_probe_former_primary", lambda f: None)
    outcome = run_params(frozen_leader(SyncMode.OFF))
    assert outcome.ok, outcome.report
    assert outcome.stats.zombie_events > 0 and outcome.stats.fenced == 0


def test_the_fence_kills_a_paused_async_leaders_server_before_another_promotes() -> None:
    """The same freeze with the fence: the one-writer rule holds strictly, no exemption."""
    outcome = run_params(frozen_leader(SyncMode.OFF, margin=5.0))
    assert outcome.ok, outcome.report
    assert outcome.stats.fenced == 1 and outcome.stats.zombie_events == 0
    assert outcome.stats.promotions >= 2


def test_in_synchronous_mode_a_paused_leader_cannot_acknowledge_alongside_a_new_one() -> None:
    """The same freeze in sync mode: the new primary took the old one's only sync standby."""
    outcome = run_params(frozen_leader(SyncMode.ON))
    assert outcome.ok, outcome.report
    assert outcome.stats.zombie_events == 0
    assert outcome.stats.promotions >= 2


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_runs_clean_on_its_first_seeds(family: str) -> None:
    """A quick look at every family alone (the big run above mixes them)."""
    summary = run_many(0, 6, workers=1, family=family)
    assert not summary.failures, summary.failures[0].report
