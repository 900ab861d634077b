"""A deliberately broken rule must be caught, by the simulator alone.

Each mutation (mutations.py) runs on the schedule family aimed at it and must
break an invariant within its budget of schedules.  A schedule that fails
without the mutation too proves nothing and does not count (see runner).
README.md lists, for each, the invariant that fires and the seed that first
catches it.
"""

from __future__ import annotations

import pytest

from .mutations import MUTATIONS
from .runner import run_many


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_the_simulator_catches_a_broken_rule(name: str) -> None:
    mutation = MUTATIONS[name]
    summary = run_many(
        0, mutation.budget, workers=2, family=mutation.family, mutation=name, chunk=4,
        stop_at_first=True,
    )  # fmt: skip
    assert summary.failures, f"{name} ({mutation.what}) survived {summary.runs} schedules"
    first = summary.failures[0]
    print(f"\n{name}: caught by {mutation.family} seed {first.seed}: {first.violation}")
