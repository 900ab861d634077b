"""The codec: every message round-trips; hostile bytes only ever raise DecodeError."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import messages.admin
import messages.cluster
import messages.dcs
import messages.ha
import messages.postgres
import messages.runtime  # noqa: F401 - registers its messages
from messages.base import REGISTRY, Message
from messages.cluster import ClusterView, LeaderRecord, MemberStatus
from messages.codec import DecodeError, decode, encode

st.register_type_strategy(float, st.floats(allow_nan=False, allow_infinity=False))
st.register_type_strategy(int, st.integers(-(2**63), 2**64 - 1))  # msgpack's range
ALL = sorted(REGISTRY.values(), key=lambda c: c.TAG)
any_message = st.one_of([st.builds(cls) for cls in ALL])


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.TAG)
@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_message_type_round_trips(cls: type[Message], data: st.DataObject) -> None:
    msg = data.draw(st.builds(cls))
    assert decode(encode(msg)) == msg


@settings(max_examples=10_000, deadline=None)
@given(st.binary(max_size=256))
def test_random_bytes_raise_only_decode_error(raw: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode(raw)


@settings(max_examples=3_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_message, st.data())
def test_mutated_messages_raise_only_decode_error(msg: Message, data: st.DataObject) -> None:
    raw = bytearray(encode(msg))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    with contextlib.suppress(DecodeError):
        decode(bytes(raw))


def envelope(tag: str, fields: dict[str, object], version: int = 1) -> bytes:
    return bytes(msgpack.packb({"t": tag, "v": version, "f": fields}))


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        pytest.param(envelope("nope", {}), "unknown message type 'nope'", id="unknown type"),
        pytest.param(
            envelope("leader", {"name": "a"}, 9), "schema version 9", id="unknown version"
        ),
        pytest.param(envelope("leader", {}), "missing field name", id="missing field"),
        pytest.param(
            envelope("leader", {"name": 3}), "expected str, got int", id="ill-typed field"
        ),
        pytest.param(envelope("leader", {"name": "a", "x": 1}), "unknown field(s) x", id="extra"),
        pytest.param(envelope("leader", {"name": b"a"}), "expected str, got bytes", id="raw bytes"),
        pytest.param(bytes(msgpack.packb({1: 2})), "not valid msgpack", id="int map key"),
        pytest.param(b"\xc1", "not valid msgpack", id="reserved byte"),
        pytest.param(
            envelope("member", {"name": "a", "role": "king"}), "not one of", id="bad enum"
        ),
    ],
)
def test_bad_input_names_the_problem(raw: bytes, needle: str) -> None:
    with pytest.raises(DecodeError, match=None) as info:
        decode(raw)
    assert needle in str(info.value)


def test_oversized_input_is_refused_before_parsing() -> None:
    with pytest.raises(DecodeError, match="exceeds"):
        decode(b"\x00" * (5 * 1024 * 1024))


def test_a_nested_view_round_trips() -> None:
    view = ClusterView(
        leader=LeaderRecord(name="a", optime=5),  # type: ignore[arg-type]
        members=(MemberStatus(name="a"), MemberStatus(name="b")),  # type: ignore[arg-type]
    )
    assert decode(encode(view)) == view
