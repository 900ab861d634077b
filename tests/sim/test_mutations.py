"""A deliberately broken rule must be caught: the simulator is only as good as what it notices.

Each row patches one rule (see mutations.py) and expects a failing schedule
within `limit` seeds; the number in the comment is the seed that first
failed when this table was written.  Mutations the simulator cannot catch,
and why, are listed in README.md.
"""

from __future__ import annotations

import pytest

from .runner import run_many

CAUGHT = [
    pytest.param("no_lease_demotion", 300, id="no demotion when the lease nears its end (seed 24)"),
    pytest.param("no_lag_check", 600, id="no maximum_lag_on_failover check (seed 96)"),
    pytest.param("any_sync_standby", 1200, id="any replica promoted in sync mode (seed 278)"),
    pytest.param(
        "lockless_primary_keeps_running", 2500, id="a primary without the lock keeps running (2033)"
    ),
    pytest.param("no_rewind", 200, id="a diverged member is never rewound (seed 4)"),
    pytest.param("cancel_init_repeats", 200, id="a failed bootstrap cancels twice (seed 8)"),
    pytest.param("no_expiry_check_anywhere", 200, id="rules and backend take a live lock (12)"),
]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("mutation", "limit"), CAUGHT)
def test_the_simulator_catches_a_broken_rule(mutation: str, limit: int) -> None:
    summary = run_many(0, limit, workers=2, mutation=mutation, chunk=20, stop_at_first=True)
    assert summary.failures, f"{mutation} survived {summary.runs} schedules"
    first = summary.failures[0]
    print(f"\n{mutation}: caught by seed {first.seed}: {first.violation}")
