"""What only the Kubernetes backend promises: Patroni's object layout, the primary
Service's endpoints, ConfigMap mode, Pods as member records, the API's failure
modes, and the RBAC verbs it needs.  Driven against the in-process test API
server (tests/k8s_api), objects read back with the official client."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from k8s_api_server import K8sApiServer

from actors.leader_lock.contract import DcsParams, DcsUnreachable
from actors.leader_lock.k8s_permissions import BY_NAME_VERBS, records_objects
from actors.leader_lock.kubernetes import (
    OPTIONAL_PERMISSIONS,
    REQUIRED_PERMISSIONS,
    KubernetesDcs,
    required_permissions,
)
from messages.base import Lsn, MemberName, Timeline
from messages.cluster import (
    FailoverRequest,
    HistoryEntry,
    MemberStatus,
    PgState,
    Role,
    SyncState,
)
from messages.config import DynamicConfig, KubernetesSettings, SyncMode

from .conftest import TIMING, create_pod, k8s_api
from .waiting import wait_for

pytestmark = pytest.mark.integration

NS = "pg"
A, B = MemberName("a"), MemberName("b")
REPO = Path(__file__).resolve().parents[3]

MakeDcs = Callable[..., KubernetesDcs]


@pytest.fixture
def api(k8s_server: K8sApiServer) -> Any:
    return k8s_api(k8s_server)


@pytest.fixture
def make(k8s_server: K8sApiServer, api: Any, scope: str) -> Iterator[MakeDcs]:
    """Clients of the test's scope (their Pods created first); all closed at teardown."""
    made: list[KubernetesDcs] = []

    def make_dcs(name: str, *, pod: bool = True, **settings: Any) -> KubernetesDcs:
        if pod:
            create_pod(api, NS, name, {"cluster-name": scope})
        timeouts = {k: settings.pop(k) for k in ("request_timeout_s",) if k in settings}
        client = KubernetesDcs(
            DcsParams(
                scope=scope,
                name=MemberName(name),
                namespace=NS,
                ttl_s=settings.pop("ttl_s", 3),
                retry_timeout_s=settings.pop("retry_timeout_s", 1.5),
            ),
            settings=KubernetesSettings(namespace=NS, api_url=k8s_server.url, **settings),
            **timeouts,
        )
        made.append(client)
        return client

    yield make_dcs
    for client in made:
        client.close()


def annotations(obj: Any) -> dict[str, str]:
    return dict(obj.metadata.annotations or {})


def requests(server: K8sApiServer, predicate: Callable[[Any], bool]) -> list[Any]:
    return [r for r in server.request_log if predicate(r)]


def is_watch(record: Any) -> bool:
    return parse_qs(record.query).get("watch", [""])[0].lower() in ("1", "true")


def permission(record: Any) -> tuple[str, str]:
    """The RBAC (resource, verb) a logged request needs."""
    parts = record.path.strip("/").split("/")  # api v1 namespaces NS resource [name]
    resource, named = parts[4], len(parts) > 5
    verbs = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}
    if record.method == "GET":
        verb = "get" if named else "watch" if is_watch(record) else "list"
    else:
        verb = verbs[record.method]
    return resource, verb


# -- layout ---------------------------------------------------------------------------


def test_the_lock_is_the_scope_endpoints_annotations_and_routes_the_primary_service(
    make: MakeDcs, api: Any, scope: str
) -> None:
    a = make(A, labels={"application": "pgactor"})
    assert a.attempt_to_acquire_leader(Lsn(7), ("10.0.0.1", 5432), **TIMING)
    leader = api.read_namespaced_endpoints(scope, NS)
    fields = annotations(leader)
    assert fields["leader"] == "a" and fields["optime"] == "7"
    assert fields["ttl"] == "3" and fields["transitions"] == "0"  # the first, as Patroni
    assert fields["acquireTime"] == fields["renewTime"]
    assert leader.metadata.labels == {"application": "pgactor", "cluster-name": scope}
    (subset,) = leader.subsets
    assert [address.ip for address in subset.addresses] == ["10.0.0.1"]
    assert [(port.name, port.port) for port in subset.ports] == [("postgresql", 5432)]

    assert a.update_leader(Lsn(9), {"b": 8}, ("10.0.0.2", 5433), **TIMING)
    renewed = api.read_namespaced_endpoints(scope, NS)
    fields2 = annotations(renewed)
    assert fields2["renewTime"] != fields["renewTime"]
    assert fields2["acquireTime"] == fields["acquireTime"]
    assert json.loads(fields2["slots"]) == {"b": 8} and fields2["optime"] == "9"
    assert renewed.subsets[0].addresses[0].ip == "10.0.0.2"

    assert a.delete_leader()
    released = api.read_namespaced_endpoints(scope, NS)
    assert "leader" not in annotations(released)
    assert annotations(released)["transitions"] == "0"  # kept for the next holder
    assert not released.subsets


def test_the_pod_ip_setting_wins_over_the_conn_host_and_host_names_get_no_endpoint(
    make: MakeDcs, api: Any, scope: str
) -> None:
    a = make(A, pod_ip="10.1.2.3")
    assert a.attempt_to_acquire_leader(Lsn(1), ("db-a.example", 5432), **TIMING)
    assert api.read_namespaced_endpoints(scope, NS).subsets[0].addresses[0].ip == "10.1.2.3"
    assert a.delete_leader()
    b = make(B)
    b.refresh()
    # not an IP address:
    assert b.attempt_to_acquire_leader(Lsn(1), ("db-b.example", 5432), **TIMING)
    assert not api.read_namespaced_endpoints(scope, NS).subsets


def test_config_initialize_and_history_live_on_scope_config_guarded_by_a_headless_service(
    make: MakeDcs, api: Any, scope: str
) -> None:
    a = make(A)
    assert a.initialize(create_new=True)
    assert a.set_config(DynamicConfig(ttl_s=20, synchronous_mode=SyncMode.ON), only_if_version=None)
    assert a.initialize("7301234567890123456", create_new=False)
    assert a.set_history([HistoryEntry(timeline=Timeline(1), lsn=Lsn(100), reason="x")])
    config = api.read_namespaced_endpoints(f"{scope}-config", NS)
    fields = annotations(config)
    assert fields["initialize"] == "7301234567890123456"
    assert json.loads(fields["config"])["ttl"] == 20
    assert json.loads(fields["config"])["synchronous_mode"] is True
    ((timeline, lsn, reason, stamped),) = json.loads(fields["history"])
    assert (timeline, lsn, reason) == (1, 100, "x") and stamped  # when it was published
    assert config.metadata.labels == {"cluster-name": scope}
    service = api.read_namespaced_service(f"{scope}-config", NS)
    assert service.spec.cluster_ip == "None"
    assert a.versioned_snapshot().config_version == config.metadata.resource_version


def test_sync_and_failover_are_annotations_of_their_own_endpoints(
    make: MakeDcs, api: Any, scope: str
) -> None:
    a = make(A)
    state = SyncState(leader=A, sync_standbys=frozenset({B, MemberName("c")}), quorum=1)
    assert a.set_sync_state(state, only_if_version=None)
    sync = annotations(api.read_namespaced_endpoints(f"{scope}-sync", NS))
    assert sync == {"leader": "a", "sync_standby": "b,c", "quorum": "1"}
    assert a.set_failover(FailoverRequest(leader=A, candidate=B, scheduled_at=1_900_000_000))
    failover = annotations(api.read_namespaced_endpoints(f"{scope}-failover", NS))
    assert failover == {"leader": "a", "member": "b", "scheduled_at": "2030-03-17T17:46:40+00:00"}
    assert a.set_failover(FailoverRequest(candidate=B))  # the fields it lacks are removed
    assert annotations(api.read_namespaced_endpoints(f"{scope}-failover", NS)) == {"member": "b"}
    assert a.delete_failover() and a.delete_sync_state()
    assert annotations(api.read_namespaced_endpoints(f"{scope}-failover", NS)) == {}
    assert annotations(api.read_namespaced_endpoints(f"{scope}-sync", NS)) == {}


def test_configmap_mode_keeps_every_record_in_configmaps(
    make: MakeDcs, api: Any, scope: str, k8s_server: K8sApiServer
) -> None:
    a = make(A, use_endpoints=False)
    b = make(B, use_endpoints=False)
    seen = threading.Event()
    b.watch(seen.set)
    assert a.attempt_to_acquire_leader(Lsn(3), ("10.0.0.1", 5432), **TIMING)
    assert a.set_config(DynamicConfig(), only_if_version=None)
    assert a.set_sync_state(SyncState(leader=A), only_if_version=None)
    assert a.set_failover(FailoverRequest(candidate=B))
    names = {cm.metadata.name for cm in api.list_namespaced_config_map(NS).items}
    assert names == {f"{scope}-leader", f"{scope}-config", f"{scope}-sync", f"{scope}-failover"}
    assert annotations(api.read_namespaced_config_map(f"{scope}-leader", NS))["leader"] == "a"
    assert not api.list_namespaced_endpoints(NS).items
    assert not api.list_namespaced_service(NS).items
    wait_for(lambda: b.snapshot().failover, 2, "b to see the records")
    view = b.snapshot()
    assert view.leader is not None and view.leader.name == A and view.config == DynamicConfig()
    assert a.delete_leader()
    wait_for(lambda: b.snapshot().leader is None, 2, "b to see the release")
    assert b.attempt_to_acquire_leader(Lsn(4), **TIMING)


def test_objects_written_by_patroni_are_read(make: MakeDcs, api: Any, scope: str) -> None:
    labels = {"cluster-name": scope}
    leader = {
        "leader": "a",
        "acquireTime": "2024-01-01T00:00:00.000000+00:00",
        "renewTime": "2024-01-01T00:00:10.000000+00:00",
        "ttl": "30",
        "transitions": "4",
        "optime": "67108960",
        "slots": json.dumps({"b": 67108960}),
    }
    objects = {
        scope: leader,
        f"{scope}-config": {"config": json.dumps({"ttl": 30, "loop_wait": 10}), "initialize": "7"},
        f"{scope}-sync": {"leader": "a", "sync_standby": "b"},
    }
    for name, fields in objects.items():
        body = {"metadata": {"name": name, "labels": labels, "annotations": fields}}
        api.create_namespaced_endpoints(NS, body)
    status = {
        "conn_url": "postgres://10.0.0.2:5432/postgres",
        "api_url": "http://10.0.0.2:8008/patroni",
        "state": "running",
        "role": "master",
        "xlog_location": 67108960,
        "timeline": 4,
    }
    pod = {
        "metadata": {"name": "a", "labels": labels, "annotations": {"status": json.dumps(status)}}
    }
    api.create_namespaced_pod(NS, pod)
    view = make(B).refresh()
    assert view.leader is not None
    assert (view.leader.name, view.leader.ttl_s, view.leader.transitions) == (A, 30, 4)
    assert view.leader.optime == 67108960
    assert view.config is not None and view.config.ttl_s == 30 and view.initialize == "7"
    assert view.sync == SyncState(leader=A, sync_standbys=frozenset({B}))
    member = view.member(A)
    assert member is not None and member.role is Role.PRIMARY and member.conn_host == "10.0.0.2"


def test_a_bad_annotation_reads_as_absent_but_its_version_allows_replacing_it(
    make: MakeDcs, api: Any, scope: str
) -> None:
    body = {
        "metadata": {
            "name": f"{scope}-config",
            "labels": {"cluster-name": scope},
            "annotations": {"config": "{not json"},
        }
    }
    api.create_namespaced_endpoints(NS, body)
    a = make(A)
    assert a.refresh().config is None
    version = a.config_version()
    assert version is not None
    assert a.set_config(DynamicConfig(ttl_s=25), only_if_version=version)
    assert a.refresh().config == DynamicConfig(ttl_s=25)


def test_an_unlabelled_leader_endpoints_is_adopted(make: MakeDcs, api: Any, scope: str) -> None:
    """An operator's manifest may create the Endpoints bare; the lock labels it."""
    api.create_namespaced_endpoints(NS, {"metadata": {"name": scope}})
    a = make(A)
    b = make(B)
    b.watch(lambda: None)
    assert a.refresh().leader is None  # the list does not show it: not labelled
    # the create lost: now a knows it exists
    assert not a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert api.read_namespaced_endpoints(scope, NS).metadata.labels == {"cluster-name": scope}
    wait_for(lambda: b.snapshot().leader, 2, "b to see the adopted lock")


# -- members ---------------------------------------------------------------------------


def test_a_member_is_its_pods_status_annotation_and_role_label(
    make: MakeDcs, api: Any, scope: str
) -> None:
    a = make(A, labels={"application": "pgactor"})
    status = MemberStatus(
        name=A, role=Role.REPLICA, state=PgState.RUNNING, conn_host="10.0.0.7", wal_position=Lsn(5)
    )
    assert a.touch_member(status)
    pod = api.read_namespaced_pod("a", NS)
    assert pod.metadata.labels == {
        "application": "pgactor",
        "cluster-name": scope,
        "role": "replica",
    }
    stored = json.loads(pod.metadata.annotations["status"])
    assert stored["state"] == "running" and stored["role"] == "replica"
    assert stored["conn_url"] == "postgres://10.0.0.7:5432/postgres"
    assert stored["xlog_location"] == 5
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert a.touch_member(MemberStatus(name=A, role=Role.PRIMARY, state=PgState.RUNNING))
    assert api.read_namespaced_pod("a", NS).metadata.labels["role"] == "primary"
    assert make(B).refresh().member(A) == MemberStatus(
        name=A, role=Role.PRIMARY, state=PgState.RUNNING
    )


def test_only_pods_of_the_scope_with_a_status_are_members(
    make: MakeDcs, api: Any, scope: str
) -> None:
    create_pod(api, NS, "bare", {"cluster-name": scope})  # no status yet
    create_pod(api, NS, "other", {"cluster-name": "another-cluster"})
    api.patch_namespaced_pod("other", NS, {"metadata": {"annotations": {"status": "{}"}}})
    a = make(A)
    assert a.touch_member(MemberStatus(name=A))
    assert [m.name for m in make(B).refresh().members] == [A]


def test_touching_a_member_without_a_pod_reports_false(make: MakeDcs) -> None:
    a = make(A, pod=False)
    assert not a.touch_member(MemberStatus(name=A))


def test_an_identical_touch_is_not_written_again_while_watching(
    make: MakeDcs, k8s_server: K8sApiServer
) -> None:
    a = make(A)
    a.watch(lambda: None)
    status = MemberStatus(name=A, state=PgState.RUNNING)
    assert a.touch_member(status)
    wait_for(lambda: a.snapshot().member(A), 2, "a to see itself")
    k8s_server.clear_request_log()
    assert a.touch_member(status)
    assert not requests(k8s_server, lambda r: r.method == "PATCH")


# -- failures -------------------------------------------------------------------------


def test_server_errors_are_retried_within_the_retry_timeout(
    make: MakeDcs, k8s_server: K8sApiServer
) -> None:
    a = make(A)
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    before = a.requests_made
    k8s_server.faults.fail_next(2, 500, method="PATCH")
    assert a.update_leader(Lsn(2), **TIMING)
    assert a.requests_made == before + 3
    k8s_server.faults.fail_next(100, 503)
    started = time.monotonic()
    with pytest.raises(DcsUnreachable):
        a.update_leader(Lsn(3), **TIMING)
    assert time.monotonic() - started < 1.5 + 0.3
    k8s_server.faults.clear()
    assert a.update_leader(Lsn(4), **TIMING)


def test_a_conflict_reads_the_object_back_and_a_renewal_tries_again(
    make: MakeDcs, k8s_server: K8sApiServer
) -> None:
    a = make(A)
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    k8s_server.faults.fail_next(1, 409, method="PATCH")  # as if someone touched the object
    k8s_server.clear_request_log()
    assert a.update_leader(Lsn(2), **TIMING)
    assert [r.method for r in k8s_server.request_log] == ["PATCH", "GET", "PATCH"]


def test_a_write_applied_by_an_attempt_that_timed_out_is_recognised_as_ours(
    make: MakeDcs, api: Any, k8s_server: K8sApiServer, scope: str
) -> None:
    """Two attempts stall past the request timeout; the first is applied late, the
    third meets the conflict it caused, reads back and finds its own renewal."""
    a = make(A, request_timeout_s=0.2)
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    k8s_server.faults.stall(0.3, 2, method="PATCH")
    assert a.update_leader(Lsn(2), **TIMING)
    methods = [r.method for r in k8s_server.request_log]
    assert methods[-4:] == ["PATCH", "PATCH", "PATCH", "GET"]  # the conflict, the read-back
    assert annotations(api.read_namespaced_endpoints(scope, NS))["optime"] == "2"
    assert a.update_leader(Lsn(3), **TIMING)


def test_a_lost_create_race_is_false_and_teaches_the_winner(
    make: MakeDcs, api: Any, scope: str
) -> None:
    a, b = make(A), make(B)
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    # b's cache knew nothing: create -> 409
    assert not b.attempt_to_acquire_leader(Lsn(1), **TIMING)
    leader = b.snapshot().leader
    assert leader is not None and leader.name == A


def test_an_expired_watch_lists_again_and_catches_up(
    make: MakeDcs, k8s_server: K8sApiServer
) -> None:
    writer = make(A)
    watcher = make(B)
    changed = threading.Event()
    watcher.watch(changed.set)
    wait_for(lambda: k8s_server.open_watches == 2, 2, "both watches")
    k8s_server.faults.fail_next(1, 410, method="GET", path="/endpoints")
    k8s_server.faults.drop_watches()
    assert writer.set_failover(FailoverRequest(candidate=B))
    wait_for(lambda: watcher.snapshot().failover, 3, "the watcher to list again")
    lists = requests(k8s_server, lambda r: r.method == "GET" and r.path.endswith("/endpoints"))
    lists = [r for r in lists if not is_watch(r)]
    assert len(lists) == 2  # the first read, and the one after 410
    changed.clear()
    assert writer.delete_failover()
    assert changed.wait(2)


def test_watch_and_list_errors_are_retried_quietly(
    make: MakeDcs, k8s_server: K8sApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    writer, watcher = make(A), make(B)
    k8s_server.faults.fail_next(2, 500, method="GET")  # the first list and the next request
    watcher.watch(lambda: None)
    wait_for(lambda: k8s_server.open_watches == 2, 3, "both watches despite the errors")
    k8s_server.faults.fail_next(1, 503, method="GET", path="/pods")
    k8s_server.faults.drop_watches()
    assert writer.touch_member(MemberStatus(name=A, state=PgState.RUNNING))
    wait_for(lambda: watcher.snapshot().member(A), 3, "the watcher to catch up")
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_a_server_that_forgot_everything_is_listed_again(
    make: MakeDcs, k8s_server: K8sApiServer
) -> None:
    writer = make(A)
    watcher = make(B)
    watcher.watch(lambda: None)
    assert writer.set_failover(FailoverRequest(candidate=B))
    wait_for(lambda: watcher.snapshot().failover, 2, "the request")
    k8s_server.reset()  # objects and history gone; versions go on: resuming answers 410
    wait_for(lambda: watcher.snapshot().failover is None, 5, "the watcher to see it gone")


def test_watches_survive_dropped_connections_and_resume_without_listing(
    make: MakeDcs, k8s_server: K8sApiServer
) -> None:
    writer = make(A)
    watcher = make(B)
    watcher.watch(lambda: None)
    wait_for(lambda: k8s_server.open_watches == 2, 2, "both watches")
    for i in range(3):
        k8s_server.faults.drop_connections()
        assert writer.touch_member(MemberStatus(name=A, timeline=Timeline(i + 1)))
        wait_for(
            lambda i=i: (m := watcher.snapshot().member(A)) and m.timeline == i + 1,
            3,
            "the watcher to catch up",
        )
    lists = requests(k8s_server, lambda r: r.method == "GET" and not is_watch(r))
    assert len(lists) == 2  # one per watched resource, at the start only


def test_close_ends_a_watch_whose_reconnect_the_server_holds(
    make: MakeDcs, k8s_server: K8sApiServer
) -> None:
    a = make(A, request_timeout_s=0.3)
    a.watch(lambda: None)
    wait_for(lambda: k8s_server.open_watches == 2, 2, "both watches")
    k8s_server.faults.stall(60)
    k8s_server.faults.drop_watches()  # the threads reconnect into the stall
    time.sleep(0.1)
    started = time.monotonic()
    a.close()
    assert time.monotonic() - started < 0.3 + 0.3
    assert not a.watching
    k8s_server.faults.stall(0)


def test_a_server_refusing_connections_is_unreachable_and_then_caught_up_with(
    make: MakeDcs, k8s_server: K8sApiServer
) -> None:
    writer, watcher = make(A), make(B)
    watcher.watch(lambda: None)
    wait_for(lambda: k8s_server.open_watches == 2, 2, "both watches")
    k8s_server.faults.refuse_connections()
    k8s_server.faults.drop_connections()
    started = time.monotonic()
    with pytest.raises(DcsUnreachable):
        writer.set_failover(FailoverRequest(candidate=B))
    assert time.monotonic() - started < 1.5 + 0.3
    k8s_server.faults.refuse_connections(False)
    assert writer.set_failover(FailoverRequest(candidate=B))
    wait_for(lambda: watcher.snapshot().failover, 5, "the watcher to reconnect and catch up")


# -- RBAC and imports -------------------------------------------------------------------


@pytest.mark.parametrize("use_endpoints", [True, False])
def test_every_request_needs_only_the_required_permissions(
    make: MakeDcs, k8s_server: K8sApiServer, use_endpoints: bool, scope: str
) -> None:
    a = make(A, use_endpoints=use_endpoints)
    b = make(B, use_endpoints=use_endpoints)
    k8s_server.clear_request_log()  # the Pods the fixture made
    b.watch(lambda: None)
    assert a.initialize(create_new=True)
    assert not b.initialize(create_new=True)
    assert a.set_config(DynamicConfig(), only_if_version=None)
    assert a.attempt_to_acquire_leader(Lsn(1), ("10.0.0.1", 5432), **TIMING)
    assert not b.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert a.touch_member(MemberStatus(name=A, role=Role.PRIMARY))
    assert a.set_sync_state(SyncState(leader=A), only_if_version=None)
    assert a.set_failover(FailoverRequest(candidate=B)) and a.delete_failover()
    assert a.refresh().leader is not None and a.delete_leader()
    used = {permission(r) for r in k8s_server.request_log}
    allowed = required_permissions(use_endpoints)
    assert used <= allowed | OPTIONAL_PERMISSIONS
    assert allowed <= REQUIRED_PERMISSIONS
    kind = "endpoints" if use_endpoints else "configmaps"
    assert {(kind, verb) for verb in ("get", "list", "watch", "create", "patch")} <= used
    assert {("pods", "list"), ("pods", "watch"), ("pods", "patch")} <= used
    # What a Role may grant by name is only ever asked of the records objects.
    named = {
        r.path.rsplit("/", 1)[1]
        for r in k8s_server.request_log
        if permission(r) in {(kind, verb) for verb in BY_NAME_VERBS}
    }
    assert named <= records_objects(scope, use_endpoints)


def test_a_guard_service_the_role_does_not_allow_is_not_missed(
    make: MakeDcs, k8s_server: K8sApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    a = make(A)
    k8s_server.faults.fail_next(1, 403, method="POST", path="/services")
    with caplog.at_level(logging.INFO):
        assert a.initialize(create_new=True)
    assert a.refresh().initialize == ""
    assert any("the deployment must provide it" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_etcd_node_never_imports_the_kubernetes_client() -> None:
    code = (
        "import sys, actors.leader_lock.etcd, actors.leader_lock.factory, actors.leader_lock.actor;"
        " assert 'kubernetes' not in sys.modules, 'kubernetes imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_the_official_client_is_imported_by_one_module_only() -> None:
    sources = (REPO / "actors").rglob("*.py")
    importers = {
        path.name
        for path in sources
        for line in path.read_text().splitlines()
        if line.strip().startswith(("import kubernetes", "from kubernetes"))
    }
    assert importers == {"k8s_rest.py"}  # which loads only the parts pgactor uses


def test_a_member_whose_pod_was_deleted_cannot_touch_but_goes_on(make: MakeDcs, api: Any) -> None:
    a = make(A)
    assert a.touch_member(MemberStatus(name=A))
    api.delete_namespaced_pod("a", NS)
    assert not a.touch_member(MemberStatus(name=A, state=PgState.RUNNING))
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)


# -- the status annotations --------------------------------------------------------------


def test_the_status_is_annotations_of_the_leader_object_that_outlive_the_lock(
    make: MakeDcs, api: Any, scope: str
) -> None:
    a = make(A)
    assert a.attempt_to_acquire_leader(Lsn(7), **TIMING)
    fields = annotations(api.read_namespaced_endpoints(scope, NS))
    assert (fields["lastLeader"], fields["optime"], fields["lastLeaderClean"]) == (
        "a",
        "7",
        "false",
    )
    assert a.delete_leader(Lsn(9), clean=True)
    fields = annotations(api.read_namespaced_endpoints(scope, NS))
    assert "leader" not in fields
    assert (fields["lastLeader"], fields["optime"], fields["lastLeaderClean"]) == ("a", "9", "true")


def test_a_leader_object_released_by_patroni_gives_the_position_and_garbage_is_absent(
    make: MakeDcs, api: Any, scope: str, caplog: pytest.LogCaptureFixture
) -> None:
    labels = {"cluster-name": scope}
    released = {"optime": "67108960", "transitions": "4", "ttl": "30"}  # no "leader"
    body = {"metadata": {"name": scope, "labels": labels, "annotations": released}}
    api.create_namespaced_endpoints(NS, body)
    view = make(A).refresh()
    assert view.leader is None
    assert (view.last_leader_name, view.last_leader_optime) == (None, 67108960)
    api.patch_namespaced_endpoints(scope, NS, {"metadata": {"annotations": {"optime": "far"}}})
    with caplog.at_level(logging.WARNING):
        view = make(B).refresh()
    assert (view.last_leader_name, view.last_leader_optime) == (None, 0)
    assert any("ignoring bad status" in r.getMessage() for r in caplog.records)


def test_a_lock_write_and_its_status_are_one_patch(make: MakeDcs, k8s_server: K8sApiServer) -> None:
    a = make(A)
    k8s_server.clear_request_log()
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert a.update_leader(Lsn(2), **TIMING)
    assert a.delete_leader(Lsn(3))
    assert [r.method for r in k8s_server.request_log] == ["POST", "PATCH", "PATCH"]
