"""Planning a console request, pure: an answer now, or a message for the HA actor."""

from __future__ import annotations

import dataclasses

import pytest
from console_support import status  # type: ignore[import-not-found]

from actors.console.cache import ReplyCache
from actors.console.feed import Watchers, events, with_lease
from actors.console.requests import plan
from messages.admin import (
    NodeStatus,
    ReinitializeRequest,
    ReloadRequest,
    RestartRequest,
    SwitchoverRequest,
)
from messages.base import MemberName
from messages.cluster import LeaderRecord, MemberStatus, Role
from messages.config import DynamicConfig
from messages.console import AdminAction, AdminRequest, AdminResponse, EventKind
from messages.dcs import SetConfig
from messages.ha import Reason

A = AdminAction
N = MemberName


def req(action: AdminAction, **fields: object) -> AdminRequest:
    return AdminRequest(request_id="r1", action=action, **fields)  # type: ignore[arg-type]


SO, ONE, TWO = SwitchoverRequest, N("node1"), N("node2")


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (req(A.SWITCHOVER), SO(leader=ONE)),
        (req(A.SWITCHOVER, candidate=TWO), SO(leader=ONE, candidate=TWO)),
        (req(A.SWITCHOVER, scheduled_at=5.0), SO(leader=ONE, scheduled_at=5.0)),
        (req(A.FAILOVER, candidate=TWO), SO(candidate=TWO)),
        (req(A.RESTART, member=ONE), RestartRequest()),
        (
            req(A.RESTART, role="replica", pending=True),
            RestartRequest(role=Role.REPLICA, restart_pending=True),
        ),
        (req(A.RELOAD), ReloadRequest()),
        (req(A.REINIT, member=ONE, force=True), ReinitializeRequest(force=True)),
        (req(A.PAUSE), SetConfig(config=DynamicConfig(pause=True), expected=DynamicConfig())),
        (
            req(A.EDIT_CONFIG, config=DynamicConfig(ttl_s=20)),
            SetConfig(config=DynamicConfig(ttl_s=20)),
        ),
    ],
)
def test_actions_become_requests_for_the_ha_actor(request_: AdminRequest, expected: object) -> None:
    assert plan(request_, status(), "1.0") == expected


@pytest.mark.parametrize(
    ("request_", "needle"),
    [
        (req(A.SWITCHOVER, candidate=N("node1")), "already the leader"),
        (req(A.FAILOVER), "needs a candidate"),
        (req(A.FAILOVER, candidate=N("node2"), scheduled_at=1.0), "cannot be scheduled"),
        (req(A.RESTART, member=N("node2")), "this is node1's console; ask node2's"),
        (req(A.RESTART, role="king"), "role must be"),
        (req(A.RESUME), "already not paused"),
        (req(A.EDIT_CONFIG), "needs the new config"),
        (AdminRequest(request_id="", action=A.LIST), "request_id"),
        (AdminRequest(request_id="x" * 129, action=A.LIST), "request_id"),
    ],
)
def test_requests_that_cannot_succeed_are_refused_by_name(
    request_: AdminRequest, needle: str
) -> None:
    answer = plan(request_, status(), "1.0")
    assert isinstance(answer, AdminResponse) and not answer.ok
    assert needle in answer.detail


def test_reads_are_answered_from_the_latest_status() -> None:
    st = status(config=DynamicConfig(ttl_s=25))
    listed = plan(req(A.LIST), st, "1.0")
    shown = plan(req(A.SHOW_CONFIG), st, "1.0")
    assert isinstance(listed, AdminResponse) and listed.data == st and listed.member == "node1"
    assert isinstance(shown, AdminResponse) and shown.data == DynamicConfig(ttl_s=25)
    version = plan(req(A.VERSION), None, "1.0")
    assert isinstance(version, AdminResponse) and version.detail == "pgactor 1.0"


def test_without_a_status_reads_are_refused_but_version_answers() -> None:
    answer = plan(req(A.LIST), None, "1.0")
    assert isinstance(answer, AdminResponse) and "no status yet" in answer.detail


def test_switchover_without_a_leader_is_refused() -> None:
    st = dataclasses.replace(status(), cluster=dataclasses.replace(status().cluster, leader=None))
    answer = plan(req(A.SWITCHOVER), st, "1.0")
    assert isinstance(answer, AdminResponse) and "use failover" in answer.detail


# -- the reply cache --------------------------------------------------------------------

DONE = AdminResponse(request_id="r1", ok=True, detail="done")


def test_a_retry_while_pending_waits_and_both_are_answered_once_done() -> None:
    cache = ReplyCache()
    cache.begin(("k", "r1"), (b"a",), 0.0)
    assert cache.answer(("k", "r1"), (b"b",), 1.0) is True
    assert cache.finish(("k", "r1"), DONE, 2.0) == ((b"a",), (b"b",))
    assert cache.answer(("k", "r1"), (b"c",), 3.0) == DONE


def test_the_same_request_id_from_another_client_is_another_request() -> None:
    cache = ReplyCache()
    cache.begin(("k", "r1"), (b"a",), 0.0)
    cache.finish(("k", "r1"), DONE, 0.0)
    assert cache.answer(("other", "r1"), (b"a",), 1.0) is False


def test_answers_expire_and_the_cache_is_bounded() -> None:
    cache = ReplyCache(capacity=2, ttl_s=10)
    for i in range(3):
        cache.begin(("k", str(i)), (b"a",), float(i))
        cache.finish(("k", str(i)), DONE, float(i))
    assert len(cache) == 2 and cache.answer(("k", "0"), (b"a",), 3.0) is False
    assert cache.answer(("k", "2"), (b"a",), 20.0) is False


# -- the feed ---------------------------------------------------------------------------


def test_watches_lapse_unless_renewed() -> None:
    watchers = Watchers(ttl_s=10)
    watchers.watch((b"a",), 0.0)
    watchers.watch((b"b",), 0.0)
    watchers.watch((b"a",), 8.0)
    assert watchers.live(12.0) == ((b"a",),)


def test_events_name_a_new_decision_a_new_leader_and_members_joining() -> None:
    old = status()
    cluster = dataclasses.replace(
        old.cluster,
        leader=LeaderRecord(name=N("node2")),
        members=(*old.cluster.members, MemberStatus(name=N("node4"))),
    )
    new: NodeStatus = dataclasses.replace(old, reason=Reason.DEMOTE_NOT_LEADER, cluster=cluster)
    kinds = [(e.kind, e.detail) for e in events(old, new, 1.0)]
    assert kinds == [
        (EventKind.DECISION, Reason.DEMOTE_NOT_LEADER.value),
        (EventKind.LEADER, "leader: node1 -> node2"),
        (EventKind.MEMBER_JOINED, "node4 joined"),
    ]
    assert events(new, new, 2.0) == ()


def test_a_replica_reports_the_leaders_lease_as_it_judges_it() -> None:
    replica = status(name="node2")
    assert replica.lease_remaining_s is None
    observed = dataclasses.replace(
        replica.cluster,
        leader=LeaderRecord(name=N("node1"), ttl_s=30.0, observed_change_at=100.0),
    )
    judged = with_lease(dataclasses.replace(replica, cluster=observed), now=110.0)
    assert judged.lease_remaining_s == 20.0
    assert with_lease(status(), now=110.0).lease_remaining_s == 9.5  # the holder's own stands
