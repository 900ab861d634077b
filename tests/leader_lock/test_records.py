"""The leader and member records: Patroni's JSON shapes, both ways, and bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.leader_lock import records
from actors.leader_lock.contract import DcsBadData
from messages.base import Lsn, MemberName, Timeline
from messages.cluster import MemberStatus, PgState, Role
from messages.config import Tags

A = MemberName("a")


def update(**kw: object) -> records.LeaderUpdate:
    fields: dict[str, object] = {"optime": Lsn(100), "ttl_s": 30.0, "now_epoch_s": 1_700_000_000.0}
    fields.update(kw)
    return records.LeaderUpdate(**fields)  # type: ignore[arg-type]


def test_an_acquired_leader_record_has_patronis_annotation_names() -> None:
    raw = records.acquired_leader_value(A, 3, update(conn=("10.0.0.1", 5433)))
    assert json.loads(raw) == {
        "leader": "a",
        "acquireTime": "2023-11-14T22:13:20+00:00",
        "renewTime": "2023-11-14T22:13:20+00:00",
        "ttl": 30,
        "transitions": 3,
        "optime": 100,
        "conn_url": "postgres://10.0.0.1:5433/postgres",
    }
    leader = records.parse_leader(raw, default_ttl_s=99)
    assert (leader.name, leader.optime, leader.transitions, leader.ttl_s) == (A, 100, 3, 30.0)


def test_a_renewal_changes_the_record_and_keeps_what_it_does_not_set() -> None:
    first = records.acquired_leader_value(A, 1, update(slots={"b": 5}, conn=("h", 1)))
    fields = records.parse_leader_fields(first)
    renewed = records.renewed_leader_value(
        fields, update(optime=Lsn(200), now_epoch_s=1_700_000_001.5)
    )
    assert renewed != first
    out = json.loads(renewed)
    assert out["optime"] == 200
    assert out["slots"] == {"b": 5}  # None keeps the stored slots
    assert out["conn_url"] == "postgres://h:1/postgres"
    assert out["acquireTime"] == "2023-11-14T22:13:20+00:00"
    assert out["renewTime"] == "2023-11-14T22:13:21.500000+00:00"
    assert out["transitions"] == 1


@pytest.mark.parametrize(
    ("raw", "name", "ttl_s"),
    [
        (b"node1", "node1", 7.0),  # Patroni's bare name; ttl from the DCS settings
        (b"  node1\n", "node1", 7.0),
        (b'{"leader": "n", "ttl": "30"}', "n", 30.0),  # Kubernetes annotations are strings
        (b'{"leader": "n", "ttl": 12.5, "optime": "42"}', "n", 12.5),
    ],
)
def test_leader_records_from_other_writers_parse(raw: bytes, name: str, ttl_s: float) -> None:
    leader = records.parse_leader(raw, default_ttl_s=7.0)
    assert (leader.name, leader.ttl_s) == (name, ttl_s)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"{not json",
        b'{"optime": 1}',
        b'{"leader": 5}',
        b'{"leader": "a", "ttl": "x"}',
        b'{"leader": "a", "transitions": true}',
        b"\xff\xfe",
    ],
)
def test_a_bad_leader_record_raises_bad_data(raw: bytes) -> None:
    with pytest.raises(DcsBadData):
        records.parse_leader(raw, default_ttl_s=30)


def full_member() -> MemberStatus:
    return MemberStatus(
        name=A,
        role=Role.PRIMARY,
        state=PgState.RUNNING,
        conn_host="10.0.0.5",
        conn_port=5432,
        api_url="http://10.0.0.5:8008/patroni",
        gossip_url="tcp://10.0.0.5:7000",
        timeline=Timeline(3),
        wal_position=Lsn(123456),
        replication_lag=17,
        following=MemberName("b"),
        tags=Tags(nofailover=True, failover_priority=0),
        pending_restart=True,
    )


def test_a_member_record_has_patronis_member_data_shape() -> None:
    out = json.loads(records.member_value(full_member()))
    assert out["conn_url"] == "postgres://10.0.0.5:5432/postgres"
    assert out["api_url"] == "http://10.0.0.5:8008/patroni"
    assert (out["state"], out["role"]) == ("running", "primary")
    assert (out["xlog_location"], out["timeline"]) == (123456, 3)
    assert out["tags"]["nofailover"] is True
    assert out["pending_restart"] is True


def test_a_member_record_round_trips() -> None:
    member = full_member()
    assert records.parse_member(A, records.member_value(member)) == member
    minimal = MemberStatus(name=A)
    assert records.parse_member(A, records.member_value(minimal)) == minimal


def test_a_patroni_member_record_parses() -> None:
    raw = json.dumps(
        {
            "conn_url": "postgres://[::1]:6543/postgres",
            "api_url": "http://[::1]:8008/patroni",
            "state": "running",
            "role": "master",
            "version": "3.3.0",
            "xlog_location": 50331968,
            "timeline": 2,
            "tags": {"nofailover": "true"},
        }
    ).encode()
    member = records.parse_member(A, raw)
    assert (member.conn_host, member.conn_port) == ("::1", 6543)
    assert member.role is Role.PRIMARY
    assert member.tags.nofailover is True
    assert member.wal_position == 50331968


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("running", PgState.RUNNING),
        ("initializing new cluster", PgState.INITIALIZING),
        ("some future state", PgState.STOPPED),
    ],
)
def test_member_state_words(word: str, state: PgState) -> None:
    raw = json.dumps({"state": word}).encode()
    assert records.parse_member(A, raw).state is state


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b"nope",
        b'{"timeline": "x"}',
        b'{"tags": []}',
        b'{"conn_url": 5}',
        b'{"conn_url": "postgres://h:notaport/x"}',
    ],
)
def test_a_bad_member_record_raises_bad_data(raw: bytes) -> None:
    with pytest.raises(DcsBadData):
        records.parse_member(A, raw)


@given(
    host=st.sampled_from(["h", "10.1.2.3", "::1", "db.example.com"]),
    port=st.integers(1, 65535),
    lsn=st.integers(0, 2**64 - 1),
    lag=st.none() | st.integers(0, 2**40),
    priority=st.integers(-5, 100),
)
def test_any_member_round_trips(
    host: str, port: int, lsn: int, lag: int | None, priority: int
) -> None:
    member = MemberStatus(
        name=A,
        conn_host=host,
        conn_port=port,
        wal_position=Lsn(lsn),
        replication_lag=lag,
        tags=Tags(failover_priority=priority),
    )
    assert records.parse_member(A, records.member_value(member)) == member
