"""Bugs of the HA code the simulator found and that are not fixed yet: tripwires.

Each known bug (checks.KNOWN_BUGS) is recognised when the HA code does it,
and the invariant it then breaks -- lost acknowledged writes (f), or two
writers (a) -- is attributed to it instead of failing the big run.  Each test
here replays a schedule where it happens and shows, with the attribution
switched off, the invariant really breaking.  When the bug is fixed its test
fails: remove the bug from KNOWN_BUGS (and this row) then.
"""

from __future__ import annotations

import pytest

from . import checks
from .runner import run_schedule

CASES = [
    pytest.param("A", "cluster_restart", 126, "(f)", id="A: clean stop, holder that never led"),
    pytest.param("B", "failsafe_cut", 2, "(f)", id="B: back from failsafe on a cached view"),
    pytest.param("C", "mixed", 76, None, id="C: clean release after an immediate stop"),
    pytest.param("E", "mixed", 721, "(a)", id="E: a stale pause under a resumed cluster"),
    pytest.param("F", "mixed", 2721, "(h)", id="F: a start in progress shown down"),
    pytest.param("G", "mixed", 2796, "(c)", id="G: an interrupted switchover's candidate"),
    pytest.param("H", "mixed", 2901, "(j)", id="H: cache-answered lock calls spin"),
]


@pytest.mark.parametrize(("bug", "family", "seed", "breaks"), CASES)
def test_known_bug_still_happens_and_breaks_its_invariant(
    bug: str, family: str, seed: int, breaks: str | None
) -> None:
    outcome = run_schedule(seed, family)
    assert outcome.ok, outcome.report
    assert outcome.stats.known_bugs.get(bug), f"bug {bug} no longer happens: fixed? {outcome}"
    if breaks is None:
        return  # the bug itself (a status record that lies) is the breach here
    checks.EXCUSE_KNOWN_BUGS = False
    try:
        strict = run_schedule(seed, family)
    finally:
        checks.EXCUSE_KNOWN_BUGS = True
    assert strict.violation is not None and strict.violation.startswith(breaks), strict.report
