"""The chaos runner's modes and judgements, without a cluster."""

from __future__ import annotations

import pytest
from chaos.checker import Death, Write
from chaos.faults import Event
from chaos.run import TIMINGS, _parse, dynamic_config, failsafe_gaps, leader_deaths


def test_modes_set_synchronous_mode_and_failsafe() -> None:
    sync = dynamic_config(TIMINGS[10], "sync", failsafe=False)
    assert sync["synchronous_mode"] and sync["synchronous_mode_strict"]
    assert not sync["failsafe_mode"] and sync["ttl"] == 10
    relaxed = dynamic_config(TIMINGS[6], "async", failsafe=True)
    assert not relaxed["synchronous_mode"] and not relaxed["synchronous_mode_strict"]
    assert relaxed["failsafe_mode"] and relaxed["ttl"] == 6


def test_the_command_line_takes_a_mode_failsafe_and_a_timing_profile() -> None:
    args = _parse(["--out", "x", "--mode", "async", "--failsafe", "--ttl", "6"])
    assert (args.mode, args.failsafe, args.ttl) == ("async", True, 6)
    assert _parse(["--out", "x"]).mode == "sync"
    with pytest.raises(SystemExit):
        _parse(["--out", "x", "--mode", "quorum"])


def test_only_events_where_the_leader_died_excuse_a_loss() -> None:
    events = [
        Event("kill_both", "node1", "primary", 10.0, healed_at=14.0, leader_died=True),
        Event("switchover", "node2", "primary", 20.0, healed_at=20.0),
        Event("freeze_group", "node2", "primary", 30.0, leader_died=True),  # never healed
    ]
    assert leader_deaths(events) == [Death("node1", 10.0, 14.0), Death("node2", 30.0, 30.0)]


def test_failsafe_gaps_are_judged_only_while_etcd_was_out() -> None:
    writes = [Write(n, "node1", 1, t - 0.01, t) for n, t in enumerate([1.0, 1.5, 5.0, 5.5, 9.0])]
    events = [
        Event("freeze_etcd", "etcd", "dcs", 1.0, healed_at=5.5),  # 3.5 s without a write
        Event("restart_etcd", "etcd", "dcs", 5.0, healed_at=5.5),
        Event("kill_both", "node1", "primary", 5.5, healed_at=9.0),  # not a DCS outage
    ]
    gaps = failsafe_gaps(writes, events)
    assert gaps == ["freeze_etcd at t=1.0: no write for 3.5 s"]
