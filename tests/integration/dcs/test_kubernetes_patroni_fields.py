"""What Patroni's tools read, written the way Patroni 4 writes it.

Member records carry ``version``, ``replication_state`` and the receive and
replay positions (patronictl shows a streaming replica as ``streaming``); the
leader object carries ``retain_slots`` and ``failsafe``; the first
``transitions`` is 0; history entries carry the time their timeline began; and
Patroni's label options (``leader_label_value``, ``follower_label_value``,
``standby_leader_label_value``, ``tmp_role_label``) are accepted and used.
Driven against the in-process Kubernetes API test server (and, for the
history, against etcd too), objects read back with the official client.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from k8s_api_server import K8sApiServer

from actors.leader_lock.contract import DcsParams
from actors.leader_lock.kubernetes import KubernetesDcs
from messages.base import Lsn, MemberName, Timeline
from messages.cluster import HistoryEntry, MemberStatus, PgState, Role
from messages.config import DynamicConfig, KubernetesSettings

from .conftest import TIMING, Harness, create_pod, k8s_api

pytestmark = pytest.mark.integration

NS = "pg"
A, B = MemberName("a"), MemberName("b")
MakeDcs = Callable[..., KubernetesDcs]


@pytest.fixture
def api(k8s_server: K8sApiServer) -> Any:
    return k8s_api(k8s_server)


@pytest.fixture
def make(k8s_server: K8sApiServer, api: Any, scope: str) -> Iterator[MakeDcs]:
    made: list[KubernetesDcs] = []

    def make_dcs(
        name: str, clock: Callable[[], float] = time.monotonic, **settings: Any
    ) -> KubernetesDcs:
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


def pod_status(api: Any, name: str) -> dict[str, Any]:
    return dict(json.loads(api.read_namespaced_pod(name, NS).metadata.annotations["status"]))


def leader_annotations(api: Any, scope: str) -> dict[str, str]:
    return dict(api.read_namespaced_endpoints(scope, NS).metadata.annotations or {})


# -- member records ---------------------------------------------------------------------


def test_a_replicas_record_carries_version_replication_state_and_positions(
    make: MakeDcs, api: Any
) -> None:
    a = make(A)
    status = MemberStatus(
        name=A,
        role=Role.REPLICA,
        state=PgState.RUNNING,
        wal_position=Lsn(0x3000148),
        version="0.1.0",
        replication_state="streaming",
        receive_lsn=Lsn(0x3000148),
        replay_lsn=Lsn(0x3000100),
    )
    assert a.touch_member(status)
    stored = pod_status(api, "a")
    assert stored["version"] == "0.1.0"
    assert stored["replication_state"] == "streaming"
    assert (stored["receive_lsn"], stored["replay_lsn"]) == (0x3000148, 0x3000100)
    assert make(B).refresh().member(A) == status


def test_a_record_without_them_omits_them_as_patroni_does_for_a_primary(
    make: MakeDcs, api: Any
) -> None:
    a = make(A)
    assert a.touch_member(MemberStatus(name=A, role=Role.PRIMARY, state=PgState.RUNNING))
    stored = pod_status(api, "a")
    assert not {"version", "replication_state", "receive_lsn", "replay_lsn"} & stored.keys()


def test_a_member_record_written_by_patroni_4_is_read(make: MakeDcs, api: Any, scope: str) -> None:
    status = {
        "conn_url": "postgres://10.0.0.3:5432/postgres",
        "api_url": "http://10.0.0.3:8008/patroni",
        "state": "running",
        "role": "replica",
        "version": "4.1.5",
        "xlog_location": 50331976,
        "replication_state": "in archive recovery",
        "replay_lsn": 50331976,
        "receive_lsn": 50331976,
        "timeline": 2,
    }
    pod = {
        "metadata": {
            "name": "p",
            "labels": {"cluster-name": scope},
            "annotations": {"status": json.dumps(status)},
        }
    }
    api.create_namespaced_pod(NS, pod)
    member = make(A).refresh().member(MemberName("p"))
    assert member is not None
    assert (member.version, member.replication_state) == ("4.1.5", "in archive recovery")
    assert (member.receive_lsn, member.replay_lsn, member.timeline) == (50331976, 50331976, 2)


# -- the leader object ----------------------------------------------------------------------


def test_the_first_transitions_is_0_and_each_new_holder_counts_one(
    make: MakeDcs, api: Any, scope: str
) -> None:
    a, b = make(A), make(B)
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert leader_annotations(api, scope)["transitions"] == "0"
    assert a.update_leader(Lsn(2), **TIMING)
    assert leader_annotations(api, scope)["transitions"] == "0"
    assert a.delete_leader()
    b.refresh()
    assert b.attempt_to_acquire_leader(Lsn(3), **TIMING)
    assert leader_annotations(api, scope)["transitions"] == "1"
    leader = b.refresh().leader
    assert leader is not None and leader.transitions == 1


def test_a_bare_leader_object_made_by_a_manifest_starts_the_count_at_0(
    make: MakeDcs, api: Any, scope: str
) -> None:
    api.create_namespaced_endpoints(NS, {"metadata": {"name": scope}})
    a = make(A)
    assert not a.attempt_to_acquire_leader(Lsn(1), **TIMING)  # the create lost: it exists
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert leader_annotations(api, scope)["transitions"] == "0"


def test_the_leader_object_carries_retain_slots_and_the_failsafe_topology(
    make: MakeDcs, api: Any, scope: str
) -> None:
    a, b = make(A), make(B)
    for member, name in ((a, A), (b, B)):
        url = f"http://10.0.0.{1 if name == A else 2}:8008/patroni"
        assert member.touch_member(MemberStatus(name=name, api_url=url))
    assert a.set_config(DynamicConfig(use_slots=True, failsafe_mode=True), only_if_version=None)
    a.refresh()
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    fields = leader_annotations(api, scope)
    assert json.loads(fields["retain_slots"]) == ["a", "b"]
    assert json.loads(fields["failsafe"]) == {
        "a": "http://10.0.0.1:8008/patroni",
        "b": "http://10.0.0.2:8008/patroni",
    }
    version = a.config_version()
    assert a.set_config(DynamicConfig(use_slots=False), only_if_version=version)
    assert a.update_leader(Lsn(2), **TIMING)
    fields = leader_annotations(api, scope)
    assert "retain_slots" not in fields and "failsafe" not in fields


# -- history ------------------------------------------------------------------------------


def test_a_new_history_entry_gets_the_time_it_is_first_published(
    backend_factory: Harness,
) -> None:
    a = backend_factory.make("a")
    old = HistoryEntry(timeline=Timeline(1), lsn=Lsn(100), reason="x")
    new = HistoryEntry(timeline=Timeline(2), lsn=Lsn(200), reason="y", new_leader=A)
    before = datetime.datetime.now(datetime.UTC)
    assert a.set_history([old, new])
    history = a.refresh().history
    assert history[0].timestamp == ""  # when timeline 2 began is not known here
    stamped = datetime.datetime.fromisoformat(history[1].timestamp)
    assert before - datetime.timedelta(seconds=1) <= stamped <= datetime.datetime.now(datetime.UTC)
    assert history[1].new_leader == A
    # Published again as the HA core does (the published entries kept whole): unchanged.
    assert a.set_history(history)
    assert a.refresh().history == history


# -- label options ---------------------------------------------------------------------------


LABEL_OPTIONS = {
    "leader_label_value": "master",
    "follower_label_value": "standby",
    "standby_leader_label_value": "standby-leader",
    "tmp_role_label": "tmp_role",
}


def labels_of(api: Any, name: str) -> dict[str, str]:
    return dict(api.read_namespaced_pod(name, NS).metadata.labels or {})


def test_patronis_label_options_name_the_roles(make: MakeDcs, api: Any) -> None:
    now = [1000.0]
    a, b = (make(n, clock=lambda: now[0], **LABEL_OPTIONS) for n in (A, B))
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert a.touch_member(MemberStatus(name=A, role=Role.PRIMARY, state=PgState.RUNNING))
    assert b.touch_member(MemberStatus(name=B, role=Role.REPLICA, state=PgState.RUNNING))
    assert labels_of(api, "a")["role"] == "master" and labels_of(api, "a")["tmp_role"] == "primary"
    assert labels_of(api, "b")["role"] == "standby" and labels_of(api, "b")["tmp_role"] == "replica"
    b.refresh()
    now[0] += TIMING["ttl_s"]
    assert b.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert (labels_of(api, "a")["role"], labels_of(api, "a")["tmp_role"]) == ("standby", "replica")


def test_a_pod_labelled_standby_leader_is_relabelled_by_a_new_leader(
    make: MakeDcs, api: Any, scope: str
) -> None:
    create_pod(api, NS, "a", {"cluster-name": scope, "role": "standby-leader"})
    b = make(B, **LABEL_OPTIONS)
    b.refresh()
    assert b.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert labels_of(api, "a")["role"] == "standby"
