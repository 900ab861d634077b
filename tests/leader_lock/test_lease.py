"""Lease expiry as the observer judges it (safety rule 2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.leader_lock.lease import lease_expired, lease_remaining_s
from messages.base import MemberName
from messages.cluster import ClusterView, LeaderRecord


def record(seen_at: float, ttl_s: float = 10.0) -> LeaderRecord:
    return LeaderRecord(name=MemberName("a"), ttl_s=ttl_s, observed_change_at=seen_at)


@pytest.mark.parametrize(
    ("seen_at", "ttl_s", "now", "expired"),
    [
        (100.0, 10.0, 100.0, False),  # just seen
        (100.0, 10.0, 109.999, False),  # a moment before ttl
        (100.0, 10.0, 110.0, True),  # exactly ttl: expired
        (100.0, 10.0, 500.0, True),
        (100.0, 3.0, 102.0, False),  # the record's own ttl counts
        (100.0, 3.0, 103.5, True),
    ],
)
def test_a_lock_expires_ttl_after_this_observer_saw_it_change(
    seen_at: float, ttl_s: float, now: float, expired: bool
) -> None:
    assert lease_expired(record(seen_at, ttl_s), now) is expired
    assert lease_expired(ClusterView(leader=record(seen_at, ttl_s)), now) is expired


def test_no_leader_record_counts_as_expired() -> None:
    assert lease_expired(None, 0.0)
    assert lease_expired(ClusterView(), 0.0)
    assert lease_remaining_s(None, 0.0) == 0.0


@given(
    seen_at=st.floats(0, 1e6),
    ttl_s=st.floats(0.5, 3600),
    elapsed=st.floats(0, 1e4),
)
def test_remaining_time_and_expiry_agree(seen_at: float, ttl_s: float, elapsed: float) -> None:
    now = seen_at + elapsed
    remaining = lease_remaining_s(record(seen_at, ttl_s), now)
    assert 0.0 <= remaining <= ttl_s
    if remaining > 1e-6:
        assert not lease_expired(record(seen_at, ttl_s), now)
    if lease_expired(record(seen_at, ttl_s), now):
        assert remaining == pytest.approx(0.0, abs=1e-6)
