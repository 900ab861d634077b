"""The supervisor's restart decision, as a pure function (Erlang/OTP semantics).

Restart types: *permanent* children are always restarted, *transient* ones only
after an abnormal exit, *temporary* ones never.  More than `max_restarts`
restarts within `period_s` seconds means restarting does not help: the
supervisor escalates (stops everything and lets its own parent -- for the node,
Kubernetes -- start over).  Restarts back off exponentially with jitter so a
child that fails at once does not spin.
"""

from __future__ import annotations

import dataclasses
import enum

from messages.runtime import ExitKind


class Restart(enum.Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class Verdict(enum.Enum):
    RESTART = "restart"
    ESCALATE = "escalate"
    LEAVE = "leave"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Intensity:
    max_restarts: int = 5
    period_s: float = 30.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    initial_s: float = 0.1
    max_s: float = 10.0
    jitter: float = 0.2
    """Fraction of the delay added or taken at random, so restarts do not align."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RestartDecision:
    verdict: Verdict
    delay_s: float = 0.0
    history: tuple[float, ...] = ()
    """Restart times still inside the intensity period, this one included."""


def decide_restart(  # noqa: PLR0913 - each input is one OTP knob
    *,
    restart: Restart,
    exit_kind: ExitKind,
    history: tuple[float, ...],
    now: float,
    intensity: Intensity,
    backoff: Backoff,
    rand: float,
) -> RestartDecision:
    """Decide what to do about a child that exited; `rand` in [0, 1) drives jitter."""
    recent = tuple(t for t in history if now - t < intensity.period_s)
    if restart is Restart.TEMPORARY:
        return RestartDecision(verdict=Verdict.LEAVE, history=recent)
    if restart is Restart.TRANSIENT and exit_kind is ExitKind.NORMAL:
        return RestartDecision(verdict=Verdict.LEAVE, history=recent)
    recent = (*recent, now)
    if len(recent) > intensity.max_restarts:
        return RestartDecision(verdict=Verdict.ESCALATE, history=recent)
    base = min(backoff.max_s, backoff.initial_s * 2 ** (len(recent) - 1))
    delay = base * (1.0 + backoff.jitter * (2.0 * rand - 1.0))
    return RestartDecision(verdict=Verdict.RESTART, delay_s=max(0.0, delay), history=recent)
