"""Config, sync, failover and history records in Patroni's JSON shapes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.leader_lock import cluster_records as cr
from actors.leader_lock.contract import DcsBadData
from messages.base import Lsn, MemberName, Timeline
from messages.cluster import FailoverRequest, HistoryEntry, SyncState
from messages.config import DynamicConfig, SyncMode


def test_config_is_stored_in_patronis_shape() -> None:
    config = DynamicConfig(
        ttl_s=30,
        loop_wait_s=10,
        retry_timeout_s=10,
        synchronous_mode=SyncMode.QUORUM,
        postgresql_parameters={"max_connections": "200"},
    )
    assert json.loads(cr.config_value(config)) == {
        "ttl": 30,
        "loop_wait": 10,
        "retry_timeout": 10,
        "maximum_lag_on_failover": 1048576,
        "primary_start_timeout": 300,
        "primary_stop_timeout": 0,
        "synchronous_mode": "quorum",
        "synchronous_mode_strict": False,
        "synchronous_node_count": 1,
        "failsafe_mode": False,
        "pause": False,
        "check_timeline": False,
        "postgresql": {"use_slots": True, "parameters": {"max_connections": "200"}},
    }


@given(
    ttl=st.floats(1, 3600).map(lambda f: round(f, 3)),
    mode=st.sampled_from(SyncMode),
    count=st.integers(0, 10),
    flags=st.lists(st.booleans(), min_size=4, max_size=4),
    params=st.dictionaries(st.text("abcdefgh_", min_size=1), st.text(max_size=5), max_size=4),
)
def test_any_config_round_trips(
    ttl: float, mode: SyncMode, count: int, flags: list[bool], params: dict[str, str]
) -> None:
    config = DynamicConfig(
        ttl_s=ttl,
        synchronous_mode=mode,
        synchronous_node_count=count,
        pause=flags[0],
        failsafe_mode=flags[1],
        check_timeline=flags[2],
        use_slots=flags[3],
        postgresql_parameters=params,
    )
    assert cr.parse_config(cr.config_value(config)) == config


def test_a_rewrite_keeps_keys_pgactor_does_not_know() -> None:
    base = {"standby_cluster": {"host": "x"}, "postgresql": {"pg_hba": ["host all all 0/0 md5"]}}
    out = json.loads(cr.config_value(DynamicConfig(), base))
    assert out["standby_cluster"] == {"host": "x"}
    assert out["postgresql"]["pg_hba"] == ["host all all 0/0 md5"]
    assert out["postgresql"]["use_slots"] is True


def test_a_hand_written_patroni_config_parses() -> None:
    raw = json.dumps(
        {
            "ttl": "20",
            "loop_wait": 5,
            "master_start_timeout": 60,
            "synchronous_mode": "on",
            "pause": "true",
            "postgresql": {"parameters": {"hot_standby": True, "max_wal_senders": 10}},
        }
    ).encode()
    config = cr.parse_config(raw)
    assert config.ttl_s == 20.0
    assert config.primary_start_timeout_s == 60.0
    assert config.synchronous_mode is SyncMode.ON
    assert config.pause is True
    assert config.postgresql_parameters == {"hot_standby": "on", "max_wal_senders": "10"}


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b"{",
        b'{"ttl": "soon"}',
        b'{"synchronous_mode": "sometimes"}',
        b'{"postgresql": []}',
        b'{"pause": "maybe"}',
        b'{"ttl": NaN}',
    ],
)
def test_a_bad_config_raises_bad_data(raw: bytes) -> None:
    with pytest.raises(DcsBadData):
        cr.parse_config(raw)


def test_sync_state_shape_and_round_trip() -> None:
    state = SyncState(
        leader=MemberName("a"),
        sync_standbys=frozenset({MemberName("c"), MemberName("b")}),
        quorum=1,
    )
    raw = cr.sync_value(state)
    assert json.loads(raw) == {"leader": "a", "sync_standby": "b,c", "quorum": 1}
    assert cr.parse_sync(raw) == state
    assert json.loads(cr.sync_value(SyncState()))["sync_standby"] is None
    assert cr.parse_sync(cr.sync_value(SyncState())) == SyncState()


@pytest.mark.parametrize(
    ("raw", "standbys"),
    [
        (b'{"leader": "a", "sync_standby": "b, c,"}', {"b", "c"}),
        (b'{"leader": "a", "sync_standby": ["b"]}', {"b"}),
        (b'{"leader": "a"}', set()),
    ],
)
def test_sync_standby_spellings(raw: bytes, standbys: set[str]) -> None:
    assert cr.parse_sync(raw).sync_standbys == standbys


def test_failover_shape_and_round_trip() -> None:
    req = FailoverRequest(
        leader=MemberName("a"), candidate=MemberName("b"), scheduled_at=1_700_000_000.25
    )
    raw = cr.failover_value(req)
    assert json.loads(raw) == {
        "leader": "a",
        "member": "b",
        "scheduled_at": "2023-11-14T22:13:20.250000+00:00",
    }
    assert cr.parse_failover(raw) == req
    assert json.loads(cr.failover_value(FailoverRequest(candidate=MemberName("b")))) == {
        "member": "b"
    }


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2023-11-14T22:13:20+00:00", 1_700_000_000.0),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20", 1_700_000_000.0),
    ],
)
def test_scheduled_at_accepts_iso_8601_with_or_without_zone(text: str, epoch: float) -> None:
    raw = json.dumps({"member": "b", "scheduled_at": text}).encode()
    assert cr.parse_failover(raw).scheduled_at == epoch


def test_a_bad_failover_raises_bad_data() -> None:
    with pytest.raises(DcsBadData):
        cr.parse_failover(b'{"scheduled_at": "tomorrow"}')


def test_history_shape_and_round_trip() -> None:
    history = (
        HistoryEntry(timeline=Timeline(1), lsn=Lsn(100), reason="no recovery target"),
        HistoryEntry(
            timeline=Timeline(2),
            lsn=Lsn(200),
            reason="switchover",
            timestamp="2024-01-01T00:00:00+00:00",
            new_leader=MemberName("b"),
        ),
    )
    raw = cr.history_value(history)
    assert json.loads(raw) == [
        [1, 100, "no recovery target", ""],
        [2, 200, "switchover", "2024-01-01T00:00:00+00:00", "b"],
    ]
    assert cr.parse_history(raw) == history


def test_old_three_field_history_rows_parse() -> None:
    assert cr.parse_history(b'[[1, 25165984, "no recovery target specified"]]') == (
        HistoryEntry(
            timeline=Timeline(1), lsn=Lsn(25165984), reason="no recovery target specified"
        ),
    )


@pytest.mark.parametrize("raw", [b"{}", b"[1]", b'[["x", 1, ""]]', b"[[1]]"])
def test_bad_history_raises_bad_data(raw: bytes) -> None:
    with pytest.raises(DcsBadData):
        cr.parse_history(raw)
