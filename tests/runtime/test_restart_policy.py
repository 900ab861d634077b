"""The pure restart decision, one row per OTP rule."""

from __future__ import annotations

import pytest

from actors.runtime.restart_policy import Backoff, Intensity, Restart, Verdict, decide_restart
from messages.runtime import ExitKind

NO_JITTER = Backoff(initial_s=0.1, max_s=1.0, jitter=0.0)
FAILED, NORMAL = ExitKind.FAILED, ExitKind.NORMAL


@pytest.mark.parametrize(
    ("restart", "kind", "history", "verdict", "delay"),
    [
        pytest.param(
            Restart.PERMANENT,
            FAILED,
            (),
            Verdict.RESTART,
            0.1,
            id="permanent restarts after failure",
        ),
        pytest.param(
            Restart.PERMANENT,
            NORMAL,
            (),
            Verdict.RESTART,
            0.1,
            id="permanent restarts after normal exit",
        ),
        pytest.param(
            Restart.TRANSIENT,
            FAILED,
            (),
            Verdict.RESTART,
            0.1,
            id="transient restarts after failure",
        ),
        pytest.param(
            Restart.TRANSIENT, NORMAL, (), Verdict.LEAVE, 0.0, id="transient left after normal exit"
        ),
        pytest.param(
            Restart.TEMPORARY, FAILED, (), Verdict.LEAVE, 0.0, id="temporary never restarted"
        ),
        pytest.param(
            Restart.PERMANENT, FAILED, (99.0,), Verdict.RESTART, 0.2, id="backoff doubles"
        ),
        pytest.param(
            Restart.PERMANENT,
            FAILED,
            (97.0, 98.0, 99.0),
            Verdict.RESTART,
            0.8,
            id="backoff doubles again",
        ),
        pytest.param(
            Restart.PERMANENT,
            FAILED,
            (96.0, 97.0, 98.0, 99.0),
            Verdict.RESTART,
            1.0,
            id="backoff capped",
        ),
        pytest.param(
            Restart.PERMANENT,
            FAILED,
            (1.0, 2.0, 3.0, 4.0, 5.0),
            Verdict.RESTART,
            0.1,
            id="old restarts forgotten",
        ),
        pytest.param(
            Restart.PERMANENT,
            FAILED,
            (95.0, 96.0, 97.0, 98.0, 99.0),
            Verdict.ESCALATE,
            0.0,
            id="escalates past intensity",
        ),
    ],
)
def test_restart_decision(
    restart: Restart, kind: ExitKind, history: tuple[float, ...], verdict: Verdict, delay: float
) -> None:
    d = decide_restart(
        restart=restart,
        exit_kind=kind,
        history=history,
        now=100.0,
        intensity=Intensity(max_restarts=5, period_s=30.0),
        backoff=NO_JITTER,
        rand=0.5,
    )
    assert d.verdict is verdict
    assert d.delay_s == pytest.approx(delay)


def test_jitter_stays_within_its_fraction() -> None:
    for rand in (0.0, 0.999):
        d = decide_restart(
            restart=Restart.PERMANENT,
            exit_kind=FAILED,
            history=(),
            now=0.0,
            intensity=Intensity(),
            backoff=Backoff(initial_s=1.0, jitter=0.2),
            rand=rand,
        )
        assert 0.8 <= d.delay_s <= 1.2
