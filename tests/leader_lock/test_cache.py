"""The record cache: newest version wins, full reads set a floor, the leader is stamped."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.leader_lock.cache import Entry, RecordCache
from messages.base import MemberName


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def leader(name: str, renew: int = 0, transitions: int = 1) -> bytes:
    return json.dumps(
        {"leader": name, "ttl": 10, "renewTime": str(renew), "transitions": transitions}
    ).encode()


def make() -> tuple[RecordCache, FakeClock]:
    clock = FakeClock()
    return RecordCache(default_ttl_s=30, clock=clock), clock


def test_an_empty_cache_gives_an_empty_view() -> None:
    cache, _ = make()
    versioned = cache.versioned_view()
    assert versioned.view.leader is None and versioned.view.config is None
    assert versioned.config_version is None and versioned.sync_version is None


def test_an_older_change_never_overwrites_a_newer_one() -> None:
    cache, _ = make()
    assert cache.apply("leader", Entry(leader("b"), 7), 7)
    assert not cache.apply("leader", Entry(leader("a"), 5), 5)
    assert not cache.apply("leader", None, 6)  # a deletion older than the put we hold
    view = cache.versioned_view().view
    assert view.leader is not None and view.leader.name == "b"


def test_a_deletion_is_remembered_against_a_late_put() -> None:
    cache, _ = make()
    cache.apply("leader", Entry(leader("a"), 5), 5)
    assert cache.apply("leader", None, 8)
    assert not cache.apply("leader", Entry(leader("a"), 6), 6)
    assert cache.versioned_view().view.leader is None


def test_a_full_read_is_authoritative_up_to_its_version() -> None:
    cache, _ = make()
    cache.apply("failover", Entry(b'{"member": "b"}', 3), 3)
    cache.apply("sync", Entry(b'{"leader": "a"}', 12), 12)  # our own write, newer than the read
    changed = cache.replace_all({"config": Entry(b"{}", 9)}, version=10)
    assert changed
    view = cache.versioned_view()
    assert view.view.failover is None  # gone as of revision 10
    assert view.view.sync.leader == "a"  # kept: newer than the read
    assert view.config_version == "9"
    # a late watch event from before the read cannot resurrect the deleted key
    assert not cache.apply("failover", Entry(b'{"member": "c"}', 4), 4)
    assert cache.versioned_view().view.failover is None


def test_an_unchanged_full_read_reports_no_change() -> None:
    cache, _ = make()
    entries = {"config": Entry(b"{}", 9), "members/a": Entry(b"{}", 8, lease=5)}
    assert cache.replace_all(entries, version=10)
    assert not cache.replace_all(entries, version=11)


def test_the_leader_is_stamped_when_its_version_changes_and_only_then() -> None:
    cache, clock = make()
    cache.apply("leader", Entry(leader("a", 1), 5), 5)
    view = cache.versioned_view().view
    assert view.leader is not None and view.leader.observed_change_at == 100.0
    clock.now = 104.0
    cache.replace_all({"leader": Entry(leader("a", 1), 5)}, version=9)  # same version again
    assert cache.versioned_view().view.leader.observed_change_at == 100.0  # type: ignore[union-attr]
    clock.now = 106.0
    cache.apply("leader", Entry(leader("a", 2), 10), 10)  # a renewal
    assert cache.versioned_view().view.leader.observed_change_at == 106.0  # type: ignore[union-attr]


def test_a_bad_record_is_treated_as_absent_but_keeps_its_version(caplog: object) -> None:
    cache, _ = make()
    cache.apply("config", Entry(b"{not json", 4), 4)
    cache.apply("leader", Entry(b'{"leader": 17}', 5), 5)
    cache.apply("members/x", Entry(b"[]", 6), 6)
    versioned = cache.versioned_view()
    assert versioned.view.config is None
    assert versioned.view.leader is None
    assert versioned.view.members == ()
    assert versioned.config_version == "4"  # so the caller can overwrite it


def test_members_are_sorted_by_name_and_unknown_keys_ignored() -> None:
    cache, _ = make()
    for i, name in enumerate(["c", "a", "b"]):
        cache.apply(f"members/{name}", Entry(b'{"state": "running"}', i + 1), i + 1)
    cache.apply("status", Entry(b'{"optime": 1}', 9), 9)
    assert [m.name for m in cache.versioned_view().view.members] == ["a", "b", "c"]


def test_transitions_are_remembered_after_the_leader_key_is_gone() -> None:
    cache, _ = make()
    cache.apply("leader", Entry(leader("a", transitions=4), 5), 5)
    cache.apply("leader", None, 6)
    assert cache.max_transitions == 4
    # ... but not who led: that comes from the stored status record, never from memory
    assert cache.versioned_view().view.last_leader_name is None


def test_the_last_leader_comes_from_the_status_record() -> None:
    cache, _ = make()
    status = b'{"optime": 700, "last_leader": "a", "last_leader_clean": true}'
    cache.apply("status", Entry(status, 3), 3)
    view = cache.versioned_view().view
    assert (view.last_leader_name, view.last_leader_optime, view.last_leader_clean) == (
        MemberName("a"),
        700,
        True,
    )
    cache.apply("leader", Entry(leader("b"), 4), 4)  # a live holder is the last leader
    view = cache.versioned_view().view
    assert (view.last_leader_name, view.last_leader_clean) == (MemberName("b"), False)
    assert view.last_leader_optime == 700


def test_a_status_that_does_not_parse_is_absent_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache, _ = make()
    with caplog.at_level(logging.WARNING):
        cache.apply("status", Entry(b'{"optime": "far"}', 3), 3)
    view = cache.versioned_view().view
    assert (view.last_leader_name, view.last_leader_optime) == (None, 0)
    assert any("ignoring bad status" in r.getMessage() for r in caplog.records)


@given(st.lists(st.tuples(st.integers(1, 30), st.booleans()), max_size=30))
def test_any_order_of_changes_ends_at_the_newest(changes: list[tuple[int, bool]]) -> None:
    cache, _ = make()
    for version, deleted in changes:
        cache.apply("failover", None if deleted else Entry(b"{}", version), version)
    newest: dict[int, bool] = {}
    for version, deleted in changes:
        newest.setdefault(version, deleted)  # the first change at a version is the one applied
    if not newest:
        return
    top = max(newest)
    assert (cache.versioned_view().view.failover is None) == newest[top]
