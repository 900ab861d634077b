"""The role label on the members' Pods: one primary at most, and only a live one.

A Service that selects on ``role=primary`` routes writes to every Pod so
labelled, so the label must leave a dead leader's Pod as soon as someone else
takes the lock, and never sit on a member that is not the lock holder running
as primary.  Driven against the in-process Kubernetes API test server; time is
a clock the test moves, so no lease is waited out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from k8s_api_server import K8sApiServer

from actors.leader_lock.contract import DcsParams
from actors.leader_lock.kubernetes import KubernetesDcs
from messages.base import Lsn, MemberName
from messages.cluster import MemberStatus, PgState, Role
from messages.config import KubernetesSettings

from .conftest import TIMING, TTL_S, create_pod, k8s_api

pytestmark = pytest.mark.integration

NS = "pg"
A, B, C = MemberName("a"), MemberName("b"), MemberName("c")
PRIMARY = {"role": Role.PRIMARY, "state": PgState.RUNNING}
REPLICA = {"role": Role.REPLICA, "state": PgState.RUNNING}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


MakeDcs = Callable[..., KubernetesDcs]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(k8s_server: K8sApiServer) -> Any:
    return k8s_api(k8s_server)


@pytest.fixture
def make(k8s_server: K8sApiServer, api: Any, scope: str, clock: Clock) -> Iterator[MakeDcs]:
    made: list[KubernetesDcs] = []

    def make_dcs(name: str, **settings: Any) -> KubernetesDcs:
        create_pod(api, NS, name, {"cluster-name": scope})
        client = KubernetesDcs(
            DcsParams(scope=scope, name=MemberName(name), namespace=NS, clock=clock, **TIMING),
            settings=KubernetesSettings(namespace=NS, api_url=k8s_server.url, **settings),
        )
        made.append(client)
        return client

    yield make_dcs
    for client in made:
        client.close()


def role_labels(api: Any, scope: str) -> dict[str, str | None]:
    pods = api.list_namespaced_pod(NS, label_selector=f"cluster-name={scope}").items
    return {p.metadata.name: (p.metadata.labels or {}).get("role") for p in pods}


def primaries(api: Any, scope: str) -> list[str]:
    return sorted(name for name, role in role_labels(api, scope).items() if role == "primary")


@pytest.mark.parametrize("use_endpoints", [True, False])
def test_the_new_leader_takes_the_primary_label_off_a_dead_leaders_pod(
    make: MakeDcs, api: Any, scope: str, clock: Clock, use_endpoints: bool
) -> None:
    a, b, c = (make(n, use_endpoints=use_endpoints) for n in (A, B, C))
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert a.touch_member(MemberStatus(name=A, **PRIMARY))
    for member, name in ((b, B), (c, C)):
        assert member.touch_member(MemberStatus(name=name, **REPLICA))
    assert role_labels(api, scope) == {"a": "primary", "b": "replica", "c": "replica"}

    # a's node dies: its agent and its PostgreSQL, so its Pod is never touched again.
    b.refresh()
    clock.now += TTL_S
    assert b.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert primaries(api, scope) == []  # before b's promotion: no Pod takes writes
    assert b.touch_member(MemberStatus(name=B, **PRIMARY))  # b promoted
    assert role_labels(api, scope) == {"a": "replica", "b": "primary", "c": "replica"}


def test_a_primary_that_is_not_running_or_not_the_holder_carries_the_follower_label(
    make: MakeDcs, api: Any, scope: str
) -> None:
    a = make(A)
    assert a.touch_member(MemberStatus(name=A, **PRIMARY))  # running as primary, no lock
    assert role_labels(api, scope)["a"] == "replica"
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert role_labels(api, scope)["a"] == "primary"  # the lock call settled the label
    for state in (PgState.CRASHED, PgState.STOPPED, PgState.STARTING, PgState.STOPPING):
        assert a.touch_member(MemberStatus(name=A, role=Role.PRIMARY, state=state))
        assert role_labels(api, scope)["a"] == "replica", state
    assert a.touch_member(MemberStatus(name=A, **PRIMARY))
    assert role_labels(api, scope)["a"] == "primary"
    assert a.delete_leader()
    assert role_labels(api, scope)["a"] == "replica"  # released: no longer the primary


def test_a_renewal_retries_a_relabel_that_failed(
    make: MakeDcs, api: Any, scope: str, clock: Clock, k8s_server: K8sApiServer
) -> None:
    a, b = make(A), make(B)
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert a.touch_member(MemberStatus(name=A, **PRIMARY))
    b.refresh()
    clock.now += TTL_S
    k8s_server.faults.fail_next(1, 403, method="PATCH", path="/pods/a")
    assert b.attempt_to_acquire_leader(Lsn(1), **TIMING)  # the relabel failed, not the lock
    assert primaries(api, scope) == ["a"]
    assert b.update_leader(Lsn(2), **TIMING)
    assert primaries(api, scope) == []


def test_a_renewal_with_every_label_right_sends_no_pod_patch(
    make: MakeDcs, k8s_server: K8sApiServer
) -> None:
    a, b = make(A), make(B)
    assert b.touch_member(MemberStatus(name=B, **REPLICA))
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert a.touch_member(MemberStatus(name=A, **PRIMARY))
    a.refresh()
    k8s_server.clear_request_log()
    assert a.update_leader(Lsn(2), **TIMING)
    assert [r.method for r in k8s_server.request_log] == ["PATCH"]  # the lock object only
