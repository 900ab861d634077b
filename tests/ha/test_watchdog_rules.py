"""When the HA actor arms and disarms the fence (actors/ha/watchdog.py)."""

from __future__ import annotations

import dataclasses

import pytest

from actors.ha import state as ha
from actors.ha.watchdog import fire_after, watchdog_command
from messages.cluster import PgState, Role
from messages.config import DynamicConfig
from messages.ha import ActionKind, Decision, Reason
from messages.postgres import ArmWatchdog, DisarmWatchdog

from .builders import NOW, name, pg, primary, replica, stopped

CONFIG = DynamicConfig(ttl_s=30, loop_wait_s=10, retry_timeout_s=10)
HOLDING = Decision(goal=Role.PRIMARY, reason=Reason.LEADER_RENEW)
FOLLOWING = Decision(goal=Role.REPLICA, reason=Reason.REPLICA_OK)


def state(**changes: object) -> ha.HaState:
    base = ha.HaState(name=name("a"), bootstrap_config=CONFIG, pg=primary())
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ttl", "retry", "margin", "after"),
    [(30, 10, 5, 25), (10, 3, 5, 8.5), (30, 10, 0, 30)],
)
def test_the_fence_fires_a_margin_before_the_lease_ends_but_after_self_demotion(
    ttl: float, retry: float, margin: float, after: float
) -> None:
    config = DynamicConfig(ttl_s=ttl, loop_wait_s=1, retry_timeout_s=retry)
    assert fire_after(config, margin) == after
    assert after > ttl - retry  # the agent's own demotion point comes first


def test_the_lock_holder_arms_from_the_start_of_its_last_renewal() -> None:
    command = watchdog_command(state(lease_renewed_at=NOW - 3), HOLDING, NOW, 5)
    assert command == ArmWatchdog(fire_at=NOW - 3 + 25)


def test_failsafe_arms_from_now_for_as_long_as_the_members_confirm() -> None:
    failsafe = Decision(goal=Role.PRIMARY, reason=Reason.FAILSAFE)
    assert watchdog_command(state(), failsafe, NOW, 5) == ArmWatchdog(fire_at=NOW + 25)


@pytest.mark.parametrize(
    "kept",
    [
        state(),  # lost the lock, still a running primary: the stop has yet to come
        state(action=ActionKind.STOP),
        state(pg=pg(PgState.STOPPING, Role.UNKNOWN)),
        state(pg=pg(PgState.STARTING, Role.UNKNOWN)),
    ],
)
def test_without_the_lock_the_arming_stands_while_a_primary_may_still_run(
    kept: ha.HaState,
) -> None:
    assert watchdog_command(kept, FOLLOWING, NOW, 5) is None


@pytest.mark.parametrize("status", [stopped(), replica(), pg(PgState.CRASHED, Role.UNKNOWN)])
def test_disarmed_once_no_primary_can_run_here(status: object) -> None:
    assert watchdog_command(state(pg=status), FOLLOWING, NOW, 5) == DisarmWatchdog()
