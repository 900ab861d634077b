"""When the HA actor arms and disarms the fence (actors/ha/watchdog.py)."""

from __future__ import annotations

import dataclasses

import pytest

from actors.ha import state as ha
from actors.ha.watchdog import margin_s, watchdog_command
from messages.cluster import ClusterView, LeaderRecord, PgState, Role
from messages.config import DynamicConfig
from messages.ha import ActionKind, Decision, Reason
from messages.postgres import ArmWatchdog, DisarmWatchdog

from .builders import NOW, name, pg, primary, replica, stopped

CONFIG = DynamicConfig(ttl_s=30, loop_wait_s=10, retry_timeout_s=10)
HOLDING = Decision(goal=Role.PRIMARY, reason=Reason.LEADER_RENEW)
FOLLOWING = Decision(goal=Role.REPLICA, reason=Reason.REPLICA_OK)
OURS = ClusterView(
    config=CONFIG, leader=LeaderRecord(name=name("a"), ttl_s=30, observed_change_at=NOW - 2)
)


def state(**changes: object) -> ha.HaState:
    base = ha.HaState(name=name("a"), bootstrap_config=CONFIG, pg=primary())
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def holding(**changes: object) -> ha.HaState:
    base: dict[str, object] = {"view": OURS, "have_view": True, "dcs_reachable": True}
    return state(**(base | changes))


@pytest.mark.parametrize(
    ("ttl", "retry", "margin", "before"),
    [(30, 10, 5, 5), (10, 3, 5, 1.5), (30, 10, 0, 0)],
)
def test_the_fence_fires_a_margin_before_the_lease_ends_but_after_self_demotion(
    ttl: float, retry: float, margin: float, before: float
) -> None:
    config = DynamicConfig(ttl_s=ttl, loop_wait_s=1, retry_timeout_s=retry)
    assert margin_s(config, margin) == before
    assert before < retry or retry == 0  # the agent's own demotion point comes first


def test_the_lock_holder_arms_from_the_start_of_its_last_renewal() -> None:
    command = watchdog_command(holding(lease_renewed_at=NOW - 3, lease_ttl_s=30), HOLDING, NOW, 5)
    assert command == ArmWatchdog(fire_at=NOW - 3 + 25)


@pytest.mark.parametrize("new_ttl", [10.0, 90.0])
def test_a_config_change_mid_lease_never_moves_the_fence_past_the_lease_written(
    new_ttl: float,
) -> None:
    """The renewal wrote ttl 30: the others judge by 30 until the next one, whatever the
    config now says, so neither may the fence."""
    edited = dataclasses.replace(OURS, config=dataclasses.replace(CONFIG, ttl_s=new_ttl))
    st = state(view=edited, have_view=True, lease_renewed_at=NOW - 3, lease_ttl_s=30)
    assert watchdog_command(st, HOLDING, NOW, 5) == ArmWatchdog(fire_at=NOW - 3 + 25)


def test_failsafe_arms_for_as_long_as_the_members_promised() -> None:
    failsafe = Decision(goal=Role.PRIMARY, reason=Reason.FAILSAFE)
    config = dataclasses.replace(CONFIG, failsafe_mode=True)
    st = holding(
        view=dataclasses.replace(OURS, config=config),
        dcs_reachable=False,
        lease_renewed_at=NOW - 25,
        lease_ttl_s=30,
        failsafe_until=NOW + 20,
    )
    assert watchdog_command(st, failsafe, NOW, 5) == ArmWatchdog(fire_at=NOW + 15)


def test_pause_disarms_the_fence_as_patroni_disables_its_watchdog() -> None:
    paused = dataclasses.replace(OURS, config=dataclasses.replace(CONFIG, pause=True))
    st = state(view=paused, have_view=True, lease_renewed_at=NOW - 3, lease_ttl_s=30)
    assert watchdog_command(st, HOLDING, NOW, 5) == DisarmWatchdog()


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
