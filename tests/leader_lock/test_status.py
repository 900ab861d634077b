"""The status record: Patroni's shape plus pgactor's fields, both ways, and bad input."""

from __future__ import annotations

import json

import pytest

from actors.leader_lock.contract import DcsBadData
from actors.leader_lock.status import LastLeader, last_leader_of, parse_status, status_value
from messages.base import Lsn, MemberName
from messages.cluster import LeaderRecord

A, B = MemberName("a"), MemberName("b")


def test_a_written_status_keeps_patronis_fields_and_reads_back() -> None:
    raw = status_value(A, Lsn(1234), clean=True, slots={"b": 1200})
    assert json.loads(raw) == {
        "optime": 1234,
        "slots": {"b": 1200},
        "last_leader": "a",
        "last_leader_clean": True,
    }
    assert parse_status(raw) == LastLeader(name=A, optime=Lsn(1234), clean=True)
    assert "slots" not in json.loads(status_value(A, Lsn(1), clean=False))


def test_a_status_written_by_patroni_gives_the_position_alone() -> None:
    raw = b'{"optime": 67108960, "slots": {"b": 67108960}, "retain_slots": ["b"]}'
    assert parse_status(raw) == LastLeader(name=None, optime=Lsn(67108960), clean=False)


@pytest.mark.parametrize(
    "raw",
    [
        b"{broken",
        b"[1, 2]",
        b'{"optime": "far"}',
        b'{"last_leader": 7}',
        b'{"last_leader_clean": "x"}',
    ],
)
def test_garbage_is_refused_naming_the_record(raw: bytes) -> None:
    with pytest.raises(DcsBadData, match="status"):
        parse_status(raw)


def test_a_live_holder_is_the_last_leader_and_has_released_nothing() -> None:
    released = LastLeader(name=A, optime=Lsn(500), clean=True)
    assert last_leader_of(released, None) == released
    assert last_leader_of(None, None) == LastLeader()
    holder = LeaderRecord(name=B, optime=Lsn(400))
    assert last_leader_of(released, holder) == LastLeader(name=B, optime=Lsn(500), clean=False)
    assert last_leader_of(None, holder) == LastLeader(name=B, optime=Lsn(400), clean=False)


def test_the_status_keeps_the_last_leaders_address() -> None:
    raw = status_value(MemberName("a"), Lsn(5), clean=False, conn=("10.0.0.1", 6432))
    parsed = parse_status(raw)
    assert (parsed.host, parsed.port) == ("10.0.0.1", 6432)
    assert parse_status(status_value(MemberName("a"), Lsn(5), clean=False)).host == ""
