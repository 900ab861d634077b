"""The Kubernetes backend's pure parts: object layout and the feed's version order.

No server and no threads (they would belong in tests/leader_lock/, which this
change does not touch); the integration behaviour is in test_kubernetes_backend.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any

import pytest

from actors.leader_lock import cache as keys
from actors.leader_lock import k8s_labels as labels
from actors.leader_lock import k8s_records as kr
from actors.leader_lock.cache import RecordCache
from actors.leader_lock.k8s_feed import Family, Feed
from messages.base import MemberName
from messages.cluster import FailoverRequest, MemberStatus, PgState, Role, SyncState
from messages.config import KubernetesSettings

SCOPE = "demo"


def layout(**settings: Any) -> kr.Layout:
    return kr.Layout.of(SCOPE, KubernetesSettings(**settings))


def obj(name: str, version: int, **annotations: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": str(version), "annotations": annotations}}


def feed() -> tuple[Feed, RecordCache]:
    ticks = itertools.count()
    cache = RecordCache(default_ttl_s=30, clock=lambda: float(next(ticks)))
    return Feed(cache, layout()), cache


@pytest.mark.parametrize(
    ("use_endpoints", "kind", "leader"),
    [(True, "endpoints", SCOPE), (False, "configmaps", f"{SCOPE}-leader")],
)
def test_object_names_follow_patroni(use_endpoints: bool, kind: str, leader: str) -> None:
    names = layout(use_endpoints=use_endpoints)
    assert (names.kind, names.leader) == (kind, leader)
    assert (names.config, names.sync, names.failover) == (
        f"{SCOPE}-config",
        f"{SCOPE}-sync",
        f"{SCOPE}-failover",
    )


def test_labels_carry_the_scope_and_the_selector_only_the_scope() -> None:
    names = layout(labels={"application": "pgactor"}, scope_label="cluster")
    assert names.labels == {"application": "pgactor", "cluster": SCOPE}
    assert names.selector == f"cluster={SCOPE}"


def test_records_are_present_only_with_their_key_annotation() -> None:
    assert kr.record_raw(keys.LEADER, {"transitions": "3"}) is None  # released
    assert kr.record_raw(keys.LEADER, {"leader": ""}) is None
    assert json.loads(kr.record_raw(keys.LEADER, {"leader": "a", "ttl": "30"}) or b"") == {
        "leader": "a",
        "ttl": "30",
    }
    assert kr.record_raw(keys.INITIALIZE, {"initialize": ""}) == b""  # claimed, no sysid yet
    assert kr.record_raw(keys.SYNC, {}) is None
    assert kr.record_raw(keys.FAILOVER, {"member": "b"}) == b'{"member":"b"}'


def test_sync_and_failover_annotations_remove_what_the_record_lacks() -> None:
    assert kr.sync_annotations(SyncState(leader=MemberName("a"))) == {
        "leader": "a",
        "sync_standby": None,
        "quorum": "0",
    }
    assert kr.failover_annotations(FailoverRequest(candidate=MemberName("b"))) == {
        "leader": None,
        "member": "b",
        "scheduled_at": None,
    }
    assert kr.holds({"member": "b"}, {"leader": None, "member": "b"})
    assert not kr.holds({"member": "b", "leader": "a"}, {"leader": None, "member": "b"})


def test_the_role_label_is_primary_only_for_the_holder_running_as_primary() -> None:
    a = MemberName("a")
    running = MemberStatus(name=a, role=Role.PRIMARY, state=PgState.RUNNING)
    patch = labels.member_patch(layout(), running, leader=labels.leads(running, a))
    assert patch["metadata"]["labels"] == {"cluster-name": SCOPE, "role": "primary"}
    assert not labels.leads(running, MemberName("b"))
    assert not labels.leads(running, None)
    for state in PgState:
        if state is not PgState.RUNNING:
            assert not labels.leads(dataclasses.replace(running, state=state), a), state
    for role in (Role.REPLICA, Role.UNKNOWN):
        assert not labels.leads(dataclasses.replace(running, role=role), a), role
    patch = labels.member_patch(layout(), running, leader=False)
    assert patch["metadata"]["labels"]["role"] == "replica"


def test_an_older_state_never_replaces_a_newer_one() -> None:
    f, cache = feed()
    assert f.apply(Family.OBJECTS, obj(f"{SCOPE}-failover", 5, member="b"))
    assert not f.apply(Family.OBJECTS, obj(f"{SCOPE}-failover", 4, member="c"))
    assert cache.versioned_view().view.failover == FailoverRequest(candidate=MemberName("b"))


def test_a_list_deletes_what_it_lacks_and_late_watch_events_cannot_resurrect_it() -> None:
    f, cache = feed()
    f.apply(Family.PODS, obj("a", 3, status="{}"), from_watch=True)
    f.apply(Family.PODS, obj("b", 4, status="{}"), from_watch=True)
    assert f.install(Family.PODS, [obj("b", 4, status="{}")], 10)
    assert [m.name for m in cache.versioned_view().view.members] == ["b"]
    assert not f.apply(Family.PODS, obj("a", 7, status="{}"), from_watch=True)  # older than 10
    assert f.apply(Family.PODS, obj("a", 11, status="{}"), from_watch=True)
    assert [m.name for m in cache.versioned_view().view.members] == ["a", "b"]


def test_a_record_removed_from_its_object_is_gone_and_the_object_remains() -> None:
    f, cache = feed()
    f.apply(Family.OBJECTS, obj(SCOPE, 3, leader="a", transitions="1"))
    assert cache.versioned_view().view.leader is not None
    assert f.apply(Family.OBJECTS, obj(SCOPE, 4, transitions="1"))
    state, record = f.leader()
    assert record is None and state is not None and state.version == 4


def test_records_sharing_an_object_share_its_version() -> None:
    f, cache = feed()
    f.apply(Family.OBJECTS, obj(f"{SCOPE}-config", 8, config="{}", initialize="7"))
    view = cache.versioned_view()
    assert view.config_version == "8" and view.view.initialize == "7"
    f.apply(Family.OBJECTS, obj(f"{SCOPE}-config", 9, config="{}", initialize="7", history="[]"))
    assert cache.versioned_view().config_version == "9"


def test_a_forgotten_object_can_come_back_with_any_newer_version() -> None:
    f, cache = feed()
    f.apply(Family.OBJECTS, obj(f"{SCOPE}-sync", 5, leader="a"))
    assert f.forget(Family.OBJECTS, f"{SCOPE}-sync")
    assert f.state(Family.OBJECTS, f"{SCOPE}-sync") is None
    assert cache.versioned_view().sync_version is None
    assert f.apply(Family.OBJECTS, obj(f"{SCOPE}-sync", 7, leader="b"))
    assert cache.versioned_view().view.sync.leader == "b"


def test_objects_that_are_not_records_are_ignored() -> None:
    f, _ = feed()
    assert not f.apply(Family.OBJECTS, obj(f"{SCOPE}-repl", 5, leader="a"))
    assert f.state(Family.OBJECTS, f"{SCOPE}-repl") is None
