"""Tests of the fake Kubernetes API server, driven by the official client.

The server (tests/k8s_api_server.py) stands in for kube-apiserver in every
test that needs Kubernetes, so these tests pin down the behaviour clients
depend on: status codes, reasons and messages, resourceVersion semantics,
patches, selectors, watches and the fault-injection switchboard.  They use
the objects pgactor keeps (Patroni's layout): Endpoints ``<scope>`` holding
the leader lock in annotations, ``<scope>-config``, ``-sync``, ``-failover``,
and pods labelled ``cluster-name``/``role`` with a ``status`` annotation.

Everything listens on 127.0.0.1 with OS-chosen ports; every thread and
process a test starts is joined before it ends (checked by an autouse
fixture); synchronisation is by polling with a deadline, never by sleeping.
"""

from __future__ import annotations

import http.client
import json
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from k8s_api_server import K8sApiServer
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

NS = "default"
SCOPE = "pgact"
SERVER_SCRIPT = Path(__file__).with_name("k8s_api_server.py")
CONFLICT_MSG = (
    'Operation cannot be fulfilled on {kind} "{name}": the object has been modified;'
    " please apply your changes to the latest version and try again"
)

# ---------------------------------------------------------------------------
# helpers and fixtures
# ---------------------------------------------------------------------------


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from freeport import free_port  # noqa: E402  (one for every suite: scripts/freeport.py)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll `predicate` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(0.01)


def make_api(url: str) -> client.CoreV1Api:
    # An explicit no_proxy keeps a proxy from the environment off loopback.
    config = client.Configuration(host=url, no_proxy="127.0.0.1,localhost")
    return client.CoreV1Api(client.ApiClient(config))


def raw(
    server: K8sApiServer,
    method: str,
    path: str,
    body: str | bytes | None = None,
    content_type: str | None = None,
) -> tuple[int, Any]:
    """One request over plain http.client: (status, parsed JSON or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read().decode()
        is_json = resp.getheader("Content-Type", "").startswith("application/json")
        if resp.getheader("Transfer-Encoding") == "chunked":
            is_json = False  # a watch stream: JSON lines, left to the caller
        return resp.status, json.loads(data) if is_json else data
    finally:
        conn.close()


def error_of(exc_info: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body = exc_info.value.body
    assert body is not None
    status: dict[str, Any] = json.loads(body)
    return status


def leader_endpoints(name: str = SCOPE, leader: str = "node1") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": {"application": "pgactor", "cluster-name": SCOPE},
            "annotations": {
                "leader": leader,
                "acquireTime": "2024-01-01T00:00:00.000000+00:00",
                "renewTime": "2024-01-01T00:00:10.000000+00:00",
                "ttl": "30",
                "transitions": "0",
                "optime": "67108960",
                "slots": json.dumps({"node2": 67108960}),
            },
        },
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 5432}]}],
    }


def member_pod(name: str, role: str | None, **labels: str) -> dict[str, Any]:
    all_labels = {"cluster-name": SCOPE, **labels}
    if role is not None:
        all_labels["role"] = role
    return {
        "metadata": {
            "name": name,
            "labels": all_labels,
            "annotations": {"status": json.dumps({"state": "running", "role": role})},
        },
        "spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]},
    }


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every thread a test (or a server it starts) creates must be gone afterwards."""
    before = set(threading.enumerate())
    yield
    wait_until(lambda: not (set(threading.enumerate()) - before), timeout=5)


@pytest.fixture
def server() -> Iterator[K8sApiServer]:
    with K8sApiServer(port=0, bookmark_interval=0.2) as srv:
        yield srv


@pytest.fixture
def api(server: K8sApiServer) -> Iterator[client.CoreV1Api]:
    core = make_api(server.url)
    yield core
    core.api_client.close()


class BackgroundWatch:
    """Runs ``Watch().stream`` in a thread so a test can write while it records events."""

    def __init__(
        self,
        func: Callable[..., Any],
        *args: Any,
        until: Callable[[list[dict[str, Any]]], bool] | None = None,
        **kwargs: Any,
    ) -> None:
        self.events: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self._watch = watch.Watch()
        self._until = until
        self._thread = threading.Thread(target=self._run, args=(func, args, kwargs))

    def start(self, server: K8sApiServer, open_watches: int = 1) -> BackgroundWatch:
        """Start, and return once the server has `open_watches` streams open."""
        self._thread.start()
        wait_until(lambda: server.open_watches >= open_watches or not self._thread.is_alive())
        return self

    def _run(self, func: Callable[..., Any], args: Any, kwargs: Any) -> None:
        try:
            for event in self._watch.stream(func, *args, **kwargs):
                self.events.append(event)
                if self._until is not None and self._until(self.events):
                    self._watch.stop()
        except BaseException as exc:  # handed to the test thread by join()
            self.error = exc

    def join(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "watch did not end"
        return self.events

    def types(self) -> list[tuple[str, str]]:
        return [(e["type"], e["raw_object"]["metadata"].get("name", "")) for e in self.events]


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


# ---------------------------------------------------------------------------
# CRUD on the four kinds
# ---------------------------------------------------------------------------

KIND_BODIES: dict[str, dict[str, Any]] = {
    "endpoints": leader_endpoints(f"{SCOPE}-sync"),
    "config_map": {"metadata": {"name": f"{SCOPE}-config"}, "data": {"ttl": "30"}},
    "pod": member_pod(f"{SCOPE}-0", "replica"),
    "service": {"metadata": {"name": SCOPE}, "spec": {"ports": [{"port": 5432}]}},
}


def patch_three_ways(patch: Callable[..., Any], name: str) -> list[Any]:
    """Strategic (the client's default for a dict), merge, then JSON patch."""
    strategic = patch(name, NS, {"metadata": {"annotations": {"strategic": "1"}}})
    merged = patch(
        name,
        NS,
        {"metadata": {"annotations": {"put": None, "merge": "1"}}},
        _content_type="application/merge-patch+json",
    )
    json_patched = patch(
        name, NS, [{"op": "add", "path": "/metadata/annotations/json", "value": "1"}]
    )
    return [strategic, merged, json_patched]


@pytest.mark.parametrize("kind", sorted(KIND_BODIES))
def test_crud_roundtrip(api: client.CoreV1Api, kind: str) -> None:
    def verb(name: str) -> Callable[..., Any]:
        return getattr(api, f"{name}_namespaced_{kind}")

    body = KIND_BODIES[kind]
    name = body["metadata"]["name"]
    created = verb("create")(NS, body)
    assert created.kind and created.api_version == "v1"
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert created.metadata.namespace == NS
    versions = [int(created.metadata.resource_version)]

    assert verb("read")(name, NS).metadata.uid == created.metadata.uid
    listed = verb("list")(NS)
    assert [i.metadata.name for i in listed.items] == [name]
    assert listed.metadata.resource_version == created.metadata.resource_version

    current = verb("read")(name, NS)
    current.metadata.annotations = {**(current.metadata.annotations or {}), "put": "1"}
    replaced = verb("replace")(name, NS, current)
    versions.append(int(replaced.metadata.resource_version))

    patched = patch_three_ways(verb("patch"), name)
    versions.extend(int(obj.metadata.resource_version) for obj in patched)
    json_patched = patched[-1]
    assert {"strategic", "merge", "json"} <= set(json_patched.metadata.annotations)
    assert "put" not in json_patched.metadata.annotations
    assert json_patched.metadata.uid == created.metadata.uid
    assert versions == list(range(versions[0], versions[0] + 5))

    verb("delete")(name, NS)
    with pytest.raises(ApiException) as exc_info:
        verb("read")(name, NS)
    assert exc_info.value.status == 404


def test_delete_answers_like_the_real_server(api: client.CoreV1Api) -> None:
    """Endpoints/configmaps answer a success Status, pods/services the deleted object."""
    ep = api.create_namespaced_endpoints(NS, leader_endpoints())
    status = api.delete_namespaced_endpoints(SCOPE, NS)
    assert status["status"] == "Success"
    assert status["details"] == {"name": SCOPE, "kind": "endpoints", "uid": ep.metadata.uid}

    pod = api.create_namespaced_pod(NS, member_pod("pgact-0", "master"))
    deleted = api.delete_namespaced_pod("pgact-0", NS)
    assert isinstance(deleted, client.V1Pod)
    assert int(deleted.metadata.resource_version) == int(pod.metadata.resource_version) + 1


def test_pods_get_empty_status_and_generated_names(
    api: client.CoreV1Api, server: K8sApiServer
) -> None:
    body = member_pod("ignored", "replica")
    body["metadata"] = {**body["metadata"], "generateName": f"{SCOPE}-"}
    del body["metadata"]["name"]
    pod = api.create_namespaced_pod(NS, body)
    name = pod.metadata.name
    assert name.startswith(f"{SCOPE}-") and len(name) == len(SCOPE) + 6

    code, raw_pod = raw(server, "GET", f"/api/v1/namespaces/{NS}/pods/{name}")
    assert code == 200 and raw_pod["status"] == {}
    assert raw_pod["kind"] == "Pod" and raw_pod["apiVersion"] == "v1"
    assert raw_pod["metadata"]["labels"] == body["metadata"]["labels"]
    assert raw_pod["metadata"]["annotations"] == body["metadata"]["annotations"]


def test_lists_have_list_kinds_and_cluster_wide_variants(
    api: client.CoreV1Api, server: K8sApiServer
) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    api.create_namespaced_endpoints("other", leader_endpoints())
    for plural, list_kind in [
        ("endpoints", "EndpointsList"),
        ("configmaps", "ConfigMapList"),
        ("pods", "PodList"),
        ("services", "ServiceList"),
    ]:
        code, body = raw(server, "GET", f"/api/v1/namespaces/{NS}/{plural}")
        assert code == 200 and body["kind"] == list_kind and body["apiVersion"] == "v1"
        assert body["metadata"]["resourceVersion"] == str(server.store.resource_version)
    everywhere = api.list_endpoints_for_all_namespaces()
    assert [(i.metadata.namespace, i.metadata.name) for i in everywhere.items] == [
        (NS, SCOPE),
        ("other", SCOPE),
    ]


def test_endpoints_put_to_a_missing_name_creates_it(api: client.CoreV1Api) -> None:
    """Endpoints allow create-on-update on a real server; configmaps do not."""
    created = api.replace_namespaced_endpoints(f"{SCOPE}-failover", NS, {"metadata": {}})
    assert created.metadata.uid
    with pytest.raises(ApiException) as exc_info:
        api.replace_namespaced_config_map(f"{SCOPE}-config", NS, {"metadata": {}})
    assert exc_info.value.status == 404


# ---------------------------------------------------------------------------
# resourceVersion and conflicts
# ---------------------------------------------------------------------------


def test_resource_version_is_global_and_noop_writes_do_not_bump(
    api: client.CoreV1Api,
) -> None:
    ep = api.create_namespaced_endpoints(NS, leader_endpoints())
    cm = api.create_namespaced_config_map(NS, {"metadata": {"name": f"{SCOPE}-config"}})
    assert int(cm.metadata.resource_version) == int(ep.metadata.resource_version) + 1

    same = api.patch_namespaced_endpoints(SCOPE, NS, {"metadata": {"annotations": {"ttl": "30"}}})
    assert same.metadata.resource_version == ep.metadata.resource_version
    again = api.replace_namespaced_endpoints(SCOPE, NS, api.read_namespaced_endpoints(SCOPE, NS))
    assert again.metadata.resource_version == ep.metadata.resource_version
    assert (
        api.list_namespaced_endpoints(NS).metadata.resource_version == cm.metadata.resource_version
    )

    changed = api.patch_namespaced_endpoints(
        SCOPE, NS, {"metadata": {"annotations": {"ttl": "31"}}}
    )
    assert int(changed.metadata.resource_version) == int(cm.metadata.resource_version) + 1


def test_replace_with_stale_resource_version_conflicts(api: client.CoreV1Api) -> None:
    stale = api.create_namespaced_endpoints(NS, leader_endpoints())
    api.patch_namespaced_endpoints(SCOPE, NS, {"metadata": {"annotations": {"leader": "node2"}}})
    stale.metadata.annotations["leader"] = "node3"
    with pytest.raises(ApiException) as exc_info:
        api.replace_namespaced_endpoints(SCOPE, NS, stale)
    status = error_of(exc_info)
    assert exc_info.value.status == 409 and status["reason"] == "Conflict"
    assert status["message"] == CONFLICT_MSG.format(kind="endpoints", name=SCOPE)
    assert status["details"] == {"name": SCOPE, "kind": "endpoints"}
    assert api.read_namespaced_endpoints(SCOPE, NS).metadata.annotations["leader"] == "node2"


def test_replace_without_resource_version_is_unconditional(api: client.CoreV1Api) -> None:
    api.create_namespaced_config_map(NS, {"metadata": {"name": f"{SCOPE}-sync"}})
    api.patch_namespaced_config_map(f"{SCOPE}-sync", NS, {"data": {"leader": "node1"}})
    body = {"metadata": {"name": f"{SCOPE}-sync"}, "data": {"leader": "node2"}}
    replaced = api.replace_namespaced_config_map(f"{SCOPE}-sync", NS, body)
    assert replaced.data == {"leader": "node2"}


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [
        ("endpoints", None),
        ("endpoints", "application/merge-patch+json"),
        ("pod", "application/strategic-merge-patch+json"),
        ("config_map", "application/merge-patch+json"),
    ],
)
def test_patch_with_stale_resource_version_conflicts(
    api: client.CoreV1Api, kind: str, content_type: str | None
) -> None:
    body = KIND_BODIES[kind]
    name = body["metadata"]["name"]
    created = getattr(api, f"create_namespaced_{kind}")(NS, body)
    patch = getattr(api, f"patch_namespaced_{kind}")
    extra = {"_content_type": content_type} if content_type else {}
    patch(name, NS, {"metadata": {"annotations": {"leader": "a"}}}, **extra)
    stale = {"metadata": {"resourceVersion": created.metadata.resource_version}}
    with pytest.raises(ApiException) as exc_info:
        patch(name, NS, {**stale, "data": {"x": "y"}}, **extra)
    plural = {"endpoints": "endpoints", "pod": "pods", "config_map": "configmaps"}[kind]
    assert exc_info.value.status == 409
    assert error_of(exc_info)["message"] == CONFLICT_MSG.format(kind=plural, name=name)


def test_patch_with_current_resource_version_succeeds(api: client.CoreV1Api) -> None:
    ep = api.create_namespaced_endpoints(NS, leader_endpoints())
    body = {
        "metadata": {
            "resourceVersion": ep.metadata.resource_version,
            "annotations": {"leader": "node2", "transitions": "1"},
        }
    }
    patched = api.patch_namespaced_endpoints(SCOPE, NS, body)
    assert patched.metadata.annotations["leader"] == "node2"
    assert int(patched.metadata.resource_version) == int(ep.metadata.resource_version) + 1


def test_json_patch_test_operation_failure_is_422(api: client.CoreV1Api) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    ops = [
        {"op": "test", "path": "/metadata/annotations/leader", "value": "someone-else"},
        {"op": "replace", "path": "/metadata/annotations/leader", "value": "node2"},
    ]
    with pytest.raises(ApiException) as exc_info:
        api.patch_namespaced_endpoints(SCOPE, NS, ops)
    assert exc_info.value.status == 422 and error_of(exc_info)["reason"] == "Invalid"


def test_json_patch_operations_and_pointer_escapes(api: client.CoreV1Api) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    ops = [
        {"op": "test", "path": "/metadata/annotations/leader", "value": "node1"},
        {"op": "add", "path": "/metadata/annotations/a~1b~0c", "value": "escaped"},
        {"op": "copy", "from": "/metadata/annotations/leader", "path": "/metadata/labels/old"},
        {"op": "move", "from": "/metadata/annotations/optime", "path": "/metadata/labels/optime"},
        {"op": "remove", "path": "/metadata/annotations/slots"},
        {"op": "add", "path": "/subsets/-", "value": {"addresses": [{"ip": "10.0.0.2"}]}},
        {"op": "replace", "path": "/subsets/0/ports/0/port", "value": 5433},
    ]
    ep = api.patch_namespaced_endpoints(SCOPE, NS, ops)
    assert ep.metadata.annotations["a/b~c"] == "escaped"
    assert ep.metadata.labels["old"] == "node1" and ep.metadata.labels["optime"] == "67108960"
    assert "slots" not in ep.metadata.annotations and "optime" not in ep.metadata.annotations
    assert [s.addresses[0].ip for s in ep.subsets] == ["10.0.0.1", "10.0.0.2"]
    assert ep.subsets[0].ports[0].port == 5433


def test_merge_patches_replace_lists_whole_and_null_deletes(api: client.CoreV1Api) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    patched = api.patch_namespaced_endpoints(
        SCOPE,
        NS,
        {"metadata": {"annotations": {"leader": None}}, "subsets": [{"addresses": []}]},
    )
    assert "leader" not in patched.metadata.annotations
    assert len(patched.subsets) == 1 and not patched.subsets[0].addresses


def test_create_of_existing_name_is_already_exists(api: client.CoreV1Api) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    with pytest.raises(ApiException) as exc_info:
        api.create_namespaced_endpoints(NS, leader_endpoints())
    status = error_of(exc_info)
    assert exc_info.value.status == 409 and status["reason"] == "AlreadyExists"
    assert status["message"] == f'endpoints "{SCOPE}" already exists'


@pytest.mark.parametrize("verb", ["read", "patch", "replace", "delete"])
def test_missing_object_is_not_found(api: client.CoreV1Api, verb: str) -> None:
    call = getattr(api, f"{verb}_namespaced_pod")
    args = () if verb in ("read", "delete") else ({"metadata": {}},)
    with pytest.raises(ApiException) as exc_info:
        call(f"{SCOPE}-9", NS, *args)
    status = error_of(exc_info)
    assert exc_info.value.status == 404
    assert status == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'pods "{SCOPE}-9" not found',
        "reason": "NotFound",
        "details": {"name": f"{SCOPE}-9", "kind": "pods"},
        "code": 404,
    }


def test_delete_preconditions(api: client.CoreV1Api) -> None:
    ep = api.create_namespaced_endpoints(NS, leader_endpoints())
    api.patch_namespaced_endpoints(SCOPE, NS, {"metadata": {"annotations": {"leader": "x"}}})
    stale = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(resource_version=ep.metadata.resource_version)
    )
    with pytest.raises(ApiException) as exc_info:
        api.delete_namespaced_endpoints(SCOPE, NS, body=stale)
    assert exc_info.value.status == 409 and error_of(exc_info)["reason"] == "Conflict"
    current = api.read_namespaced_endpoints(SCOPE, NS).metadata.resource_version
    fresh = client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version=current))
    assert api.delete_namespaced_endpoints(SCOPE, NS, body=fresh)["status"] == "Success"


# ---------------------------------------------------------------------------
# malformed requests
# ---------------------------------------------------------------------------


def test_unsupported_patch_media_type_is_415(api: client.CoreV1Api, server: K8sApiServer) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    with pytest.raises(ApiException) as exc_info:
        api.patch_namespaced_endpoints(
            SCOPE, NS, {"metadata": {}}, _content_type="application/apply-patch+yaml"
        )
    assert exc_info.value.status == 415
    assert error_of(exc_info)["reason"] == "UnsupportedMediaType"
    path = f"/api/v1/namespaces/{NS}/endpoints/{SCOPE}"
    code, status = raw(server, "PATCH", path, "leader: x", "text/plain")
    assert code == 415 and status["reason"] == "UnsupportedMediaType"


def test_json_patch_must_be_a_list(server: K8sApiServer, api: client.CoreV1Api) -> None:
    """The client would turn a dict into a strategic patch, so this goes raw."""
    api.create_namespaced_endpoints(NS, leader_endpoints())
    path = f"/api/v1/namespaces/{NS}/endpoints/{SCOPE}"
    body = json.dumps({"op": "remove", "path": "/metadata/annotations/leader"})
    code, status = raw(server, "PATCH", path, body, "application/json-patch+json")
    assert code == 400 and status["reason"] == "BadRequest" and status["code"] == 400


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("POST", f"/api/v1/namespaces/{NS}/endpoints", "application/json"),
        ("PATCH", f"/api/v1/namespaces/{NS}/endpoints/{SCOPE}", "application/merge-patch+json"),
        ("PUT", f"/api/v1/namespaces/{NS}/endpoints/{SCOPE}", "application/json"),
    ],
)
def test_malformed_json_is_400(
    server: K8sApiServer, api: client.CoreV1Api, method: str, path: str, content_type: str
) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    code, status = raw(server, method, path, '{"metadata": {', content_type)
    assert code == 400 and status["kind"] == "Status" and status["reason"] == "BadRequest"


def test_namespace_mismatch_is_400(api: client.CoreV1Api) -> None:
    body = leader_endpoints()
    body["metadata"]["namespace"] = "elsewhere"
    with pytest.raises(ApiException) as exc_info:
        api.create_namespaced_endpoints(NS, body)
    assert exc_info.value.status == 400 and error_of(exc_info)["reason"] == "BadRequest"


def test_non_string_annotations_are_400(server: K8sApiServer) -> None:
    """The Go decoder rejects a number in a map[string]string; so do we.

    Raw HTTP: the official client already refuses such a body itself.
    """
    body = leader_endpoints()
    body["metadata"]["annotations"]["ttl"] = 30
    path = f"/api/v1/namespaces/{NS}/endpoints"
    code, status = raw(server, "POST", path, json.dumps(body), "application/json")
    assert code == 400 and status["reason"] == "BadRequest"


def test_unknown_paths_are_404_status(server: K8sApiServer) -> None:
    code, status = raw(server, "GET", "/apis/coordination.k8s.io/v1/leases")
    assert code == 404 and status["kind"] == "Status" and status["reason"] == "NotFound"
    assert raw(server, "GET", "/version")[1]["major"] == "1"


# ---------------------------------------------------------------------------
# selectors
# ---------------------------------------------------------------------------


@pytest.fixture
def members(api: client.CoreV1Api) -> None:
    api.create_namespaced_pod(NS, member_pod("pgact-0", "master"))
    api.create_namespaced_pod(NS, member_pod("pgact-1", "replica"))
    api.create_namespaced_pod(NS, member_pod("pgact-2", None, nofailover="true"))
    other = member_pod("other-0", "master")
    other["metadata"]["labels"]["cluster-name"] = "other"
    api.create_namespaced_pod(NS, other)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", ["other-0", "pgact-0", "pgact-1", "pgact-2"]),
        ("cluster-name=pgact", ["pgact-0", "pgact-1", "pgact-2"]),
        ("cluster-name==pgact,role=master", ["pgact-0"]),
        ("role!=master", ["pgact-1", "pgact-2"]),
        ("role in (master, replica),cluster-name=pgact", ["pgact-0", "pgact-1"]),
        ("cluster-name=pgact,role notin (master)", ["pgact-1", "pgact-2"]),
        ("role", ["other-0", "pgact-0", "pgact-1"]),
        ("!role", ["pgact-2"]),
        ("cluster-name in (pgact,other),!nofailover,role in (master)", ["other-0", "pgact-0"]),
    ],
)
def test_label_selectors(
    api: client.CoreV1Api, members: None, selector: str, expected: list[str]
) -> None:
    pods = api.list_namespaced_pod(NS, label_selector=selector)
    assert [p.metadata.name for p in pods.items] == expected


@pytest.mark.parametrize(
    "selector", ["role=", "role in ()", "role in (a", "=x", "role x", "a,,b", "ro le=x", "a=b=c"]
)
def test_malformed_label_selector_is_400(
    api: client.CoreV1Api, members: None, selector: str
) -> None:
    if selector == "role=":  # legal: selects the empty value
        assert api.list_namespaced_pod(NS, label_selector=selector).items == []
        return
    with pytest.raises(ApiException) as exc_info:
        api.list_namespaced_pod(NS, label_selector=selector)
    assert exc_info.value.status == 400 and error_of(exc_info)["reason"] == "BadRequest"


def test_field_selectors(api: client.CoreV1Api) -> None:
    for suffix in ("", "-config", "-sync", "-failover"):
        api.create_namespaced_endpoints(NS, {"metadata": {"name": SCOPE + suffix}})
    only = api.list_namespaced_endpoints(NS, field_selector=f"metadata.name={SCOPE}-config")
    assert [e.metadata.name for e in only.items] == [f"{SCOPE}-config"]
    rest = api.list_namespaced_endpoints(
        NS, field_selector=f"metadata.name!={SCOPE},metadata.namespace=={NS}"
    )
    assert len(rest.items) == 3
    with pytest.raises(ApiException) as exc_info:
        api.list_namespaced_endpoints(NS, field_selector="spec.nodeName=x")
    assert exc_info.value.status == 400


def test_delete_collection_by_label_selector(
    api: client.CoreV1Api, server: K8sApiServer, members: None
) -> None:
    path = f"/api/v1/namespaces/{NS}/pods?labelSelector=cluster-name%3Dpgact,role"
    code, body = raw(server, "DELETE", path)
    assert code == 200 and body["kind"] == "PodList"
    assert [i["metadata"]["name"] for i in body["items"]] == ["pgact-0", "pgact-1"]
    api.delete_collection_namespaced_pod(NS, label_selector="cluster-name=other")
    assert [p.metadata.name for p in api.list_namespaced_pod(NS).items] == ["pgact-2"]


# ---------------------------------------------------------------------------
# watches
# ---------------------------------------------------------------------------


def test_watch_replays_history_from_a_version(api: client.CoreV1Api) -> None:
    start = api.list_namespaced_endpoints(NS).metadata.resource_version
    api.create_namespaced_endpoints(NS, leader_endpoints())
    api.patch_namespaced_endpoints(SCOPE, NS, {"metadata": {"annotations": {"leader": "n2"}}})
    api.create_namespaced_config_map(NS, {"metadata": {"name": "unrelated"}})
    api.delete_namespaced_endpoints(SCOPE, NS)
    w = watch.Watch()
    events = []
    for event in w.stream(
        api.list_namespaced_endpoints, NS, resource_version=start, timeout_seconds=5
    ):
        events.append(event)
        if event["type"] == "DELETED":
            w.stop()
    assert event_types(events) == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1]["object"].metadata.annotations["leader"] == "n2"
    deleted_version = int(events[2]["object"].metadata.resource_version)
    assert deleted_version == int(events[1]["object"].metadata.resource_version) + 2


def test_watch_without_version_starts_with_current_state_then_live(
    api: client.CoreV1Api, server: K8sApiServer
) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    api.create_namespaced_endpoints(NS, {"metadata": {"name": f"{SCOPE}-config"}})
    bg = BackgroundWatch(
        api.list_namespaced_endpoints,
        NS,
        timeout_seconds=5,
        until=lambda evs: len(evs) == 4,
    ).start(server)
    api.patch_namespaced_endpoints(SCOPE, NS, {"metadata": {"annotations": {"leader": "n2"}}})
    api.delete_namespaced_endpoints(f"{SCOPE}-config", NS)
    bg.join()
    assert bg.error is None
    assert bg.types() == [
        ("ADDED", SCOPE),
        ("ADDED", f"{SCOPE}-config"),
        ("MODIFIED", SCOPE),
        ("DELETED", f"{SCOPE}-config"),
    ]


def test_watch_selector_transitions(api: client.CoreV1Api, server: K8sApiServer) -> None:
    """Starting to match is ADDED, still matching MODIFIED, stopping DELETED."""
    api.create_namespaced_pod(NS, member_pod("pgact-0", "replica"))
    version = api.list_namespaced_pod(NS).metadata.resource_version
    bg = BackgroundWatch(
        api.list_namespaced_pod,
        NS,
        label_selector="cluster-name=pgact,role=master",
        resource_version=version,
        timeout_seconds=5,
        until=lambda evs: evs[-1]["type"] == "DELETED",
    ).start(server)

    def set_role(role: str) -> None:
        api.patch_namespaced_pod("pgact-0", NS, {"metadata": {"labels": {"role": role}}})

    set_role("master")
    api.patch_namespaced_pod("pgact-0", NS, {"metadata": {"annotations": {"status": "{}"}}})
    set_role("replica")
    bg.join()
    assert bg.error is None
    assert event_types(bg.events) == ["ADDED", "MODIFIED", "DELETED"]
    assert bg.events[2]["object"].metadata.labels["role"] == "replica"


def test_watch_of_a_too_old_version_raises_410() -> None:
    with K8sApiServer(port=0, history_size=3) as small:
        api = make_api(small.url)
        for i in range(5):
            api.create_namespaced_endpoints(NS, {"metadata": {"name": f"e{i}"}})
        with pytest.raises(ApiException) as exc_info:
            for _ in watch.Watch().stream(
                api.list_namespaced_endpoints, NS, resource_version="1", timeout_seconds=1
            ):
                pass
        assert exc_info.value.status == 410
        path = f"/api/v1/namespaces/{NS}/endpoints?watch=1&resourceVersion=2"
        code, text = raw(small, "GET", path)
        assert code == 200
        event = json.loads(text.splitlines()[0])
        assert event["type"] == "ERROR" and event["object"]["code"] == 410
        assert event["object"]["reason"] == "Expired"
        assert event["object"]["message"] == "too old resource version: 2 (3)"
        api.api_client.close()


def test_watch_bookmarks(api: client.CoreV1Api, server: K8sApiServer) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    current = api.list_namespaced_endpoints(NS).metadata.resource_version
    w = watch.Watch()
    events = []
    for event in w.stream(
        api.list_namespaced_endpoints,
        NS,
        resource_version=current,
        allow_watch_bookmarks=True,
        timeout_seconds=5,
    ):
        events.append(event)
        w.stop()  # the server sends one every bookmark_interval (0.2 s here)
    assert event_types(events) == ["BOOKMARK"]
    marker = events[0]["raw_object"]
    assert marker == {
        "kind": "Endpoints",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": current},
    }
    assert w.resource_version == current


def read_chunks(sock: socket.socket) -> list[bytes]:
    """Read one chunked HTTP response off `sock`; returns its chunks, headers checked."""
    reader = sock.makefile("rb")
    assert reader.readline().startswith(b"HTTP/1.1 200")
    headers = {}
    while (line := reader.readline().strip()) != b"":
        key, _, value = line.decode().partition(":")
        headers[key.lower()] = value.strip()
    assert headers["transfer-encoding"] == "chunked"
    assert headers["content-type"] == "application/json"
    chunks = []
    while size := int(reader.readline().strip(), 16):
        chunks.append(reader.read(size))
        assert reader.readline() == b"\r\n"
    assert reader.readline() == b"\r\n"  # the end of the zero-length terminating chunk
    return chunks


def send_get(sock: socket.socket, path: str) -> None:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())


def test_watch_stream_framing_and_final_bookmark() -> None:
    """One JSON line per chunk; a bookmark, then a zero-length chunk at timeoutSeconds."""
    with K8sApiServer(port=0, bookmark_interval=60) as srv:
        api = make_api(srv.url)
        api.create_namespaced_endpoints(NS, leader_endpoints())
        api.create_namespaced_endpoints(NS, {"metadata": {"name": f"{SCOPE}-sync"}})
        api.api_client.close()
        path = f"/api/v1/namespaces/{NS}/endpoints?watch=true&timeoutSeconds=1"
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            send_get(sock, path + "&allowWatchBookmarks=true")
            chunks = read_chunks(sock)
    assert all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in chunks)
    events = [json.loads(c) for c in chunks]
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[0]["object"]["kind"] == "Endpoints"
    assert events[2]["object"]["metadata"] == {"resourceVersion": "3"}


@pytest.mark.parametrize(
    ("path", "names"),
    [
        (f"/api/v1/watch/namespaces/{NS}/endpoints", [SCOPE, f"{SCOPE}-sync"]),
        (f"/api/v1/watch/namespaces/{NS}/endpoints/{SCOPE}-sync", [f"{SCOPE}-sync"]),
        ("/api/v1/endpoints?watch=1", [SCOPE, f"{SCOPE}-sync", SCOPE]),
        ("/api/v1/watch/endpoints?labelSelector=cluster-name", [SCOPE, f"{SCOPE}-sync"]),
    ],
)
def test_watch_paths(
    api: client.CoreV1Api, server: K8sApiServer, path: str, names: list[str]
) -> None:
    """Legacy /watch/ paths, a single object and cluster-wide; the client hangs up early."""
    for namespace in (NS, "other"):
        labels = {"cluster-name": SCOPE} if namespace == NS else {}
        for name in (SCOPE, f"{SCOPE}-sync"):
            body = {"metadata": {"name": name, "labels": labels}}
            api.create_namespaced_endpoints(namespace, body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        send_get(sock, path)
        reader = sock.makefile("rb")
        while reader.readline().strip():
            pass  # status line and headers
        seen = []
        for _ in names:
            size = int(reader.readline().strip(), 16)
            seen.append(json.loads(reader.read(size + 2))["object"]["metadata"]["name"])
        reader.close()
    assert seen == names
    wait_until(lambda: server.open_watches == 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(v, "watch") for v in ("1", "t", "T", "true", "True", "TRUE")]
    + [(v, "list") for v in ("0", "f", "F", "false", "False", "FALSE")]
    + [(v, "error") for v in ("yes", "tRuE", "")],
)
def test_watch_parameter_parses_like_go(server: K8sApiServer, value: str, expected: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", f"/api/v1/namespaces/{NS}/endpoints?watch={value}")
        resp = conn.getresponse()
        outcome = {200: "list", 400: "error"}.get(resp.status, "?")
        if resp.getheader("Transfer-Encoding") == "chunked":
            outcome = "watch"  # a live stream: hang up; the server notices and moves on
    finally:
        conn.close()
    assert outcome == expected
    wait_until(lambda: server.open_watches == 0)


def test_client_disconnecting_mid_watch_does_not_hurt_the_server(
    api: client.CoreV1Api, server: K8sApiServer, capfd: pytest.CaptureFixture[str]
) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        request = f"GET /api/v1/namespaces/{NS}/endpoints?watch=true HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(request.encode())
        assert sock.recv(20)  # mid-response
        # Linger 0 makes close() send a RST: the rudest way to leave.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    api.patch_namespaced_endpoints(SCOPE, NS, {"metadata": {"annotations": {"leader": "n2"}}})
    wait_until(lambda: server.open_watches == 0)
    assert api.read_namespaced_endpoints(SCOPE, NS).metadata.annotations["leader"] == "n2"
    assert "Traceback" not in capfd.readouterr().err


# ---------------------------------------------------------------------------
# fault injection
# ---------------------------------------------------------------------------


def test_stop_ends_open_watches() -> None:
    srv = K8sApiServer(port=0).start()
    api = make_api(srv.url)
    bg = BackgroundWatch(api.list_namespaced_pod, NS, timeout_seconds=30).start(srv)
    started = time.monotonic()
    srv.stop()
    bg.join(timeout=5)
    assert time.monotonic() - started < 5 and bg.error is None
    api.api_client.close()


def test_fail_next_500_then_success(api: client.CoreV1Api, server: K8sApiServer) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    server.faults.fail_next(1, 500, method="PATCH", path="endpoints")
    assert api.read_namespaced_endpoints(SCOPE, NS)  # a GET does not match the rule
    patch = {"metadata": {"annotations": {"leader": "n2"}}}
    with pytest.raises(ApiException) as exc_info:
        api.patch_namespaced_endpoints(SCOPE, NS, patch)
    status = error_of(exc_info)
    assert exc_info.value.status == 500 and status["reason"] == "InternalError"
    assert status["kind"] == "Status" and status["details"]["name"] == SCOPE
    assert api.patch_namespaced_endpoints(SCOPE, NS, patch).metadata.annotations["leader"] == "n2"


def test_fail_next_409_is_a_conflict(api: client.CoreV1Api, server: K8sApiServer) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    server.faults.fail_next(2, 409, path=f"/endpoints/{SCOPE}")
    for _ in range(2):
        with pytest.raises(ApiException) as exc_info:
            api.patch_namespaced_endpoints(SCOPE, NS, {"metadata": {}})
        assert error_of(exc_info)["message"] == CONFLICT_MSG.format(kind="endpoints", name=SCOPE)
    api.patch_namespaced_endpoints(SCOPE, NS, {"metadata": {}})


def test_fail_next_410_on_a_watch_arrives_as_an_error_event(
    api: client.CoreV1Api, server: K8sApiServer
) -> None:
    server.faults.fail_next(1, 410, method="GET")
    with pytest.raises(ApiException) as exc_info:
        for _ in watch.Watch().stream(api.list_namespaced_endpoints, NS, timeout_seconds=1):
            pass
    assert exc_info.value.status == 410
    assert "too old resource version" in str(exc_info.value.reason)


def test_stall_holds_requests(api: client.CoreV1Api, server: K8sApiServer) -> None:
    server.faults.stall(0.3, n=1, method="GET")
    started = time.monotonic()
    api.list_namespaced_endpoints(NS)
    assert time.monotonic() - started >= 0.3
    assert server.faults.describe()["stall"] == []  # n=1: used up


def test_drop_watches_ends_open_streams(api: client.CoreV1Api, server: K8sApiServer) -> None:
    bg = BackgroundWatch(api.list_namespaced_endpoints, NS, timeout_seconds=30).start(server)
    started = time.monotonic()
    assert server.faults.drop_watches() == 1
    bg.join(timeout=5)
    assert time.monotonic() - started < 5
    # The stream was cut, not ended: urllib3 may notice the missing last chunk.
    assert bg.error is None or isinstance(bg.error, urllib3.exceptions.HTTPError)
    wait_until(lambda: server.open_watches == 0)
    assert api.list_namespaced_endpoints(NS).items == []


def test_drop_connections_cuts_everything_but_keeps_the_data(
    api: client.CoreV1Api, server: K8sApiServer
) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    bg = BackgroundWatch(api.list_namespaced_endpoints, NS, timeout_seconds=30).start(server)
    assert server.faults.drop_connections() >= 1
    bg.join()
    assert bg.error is None or isinstance(bg.error, urllib3.exceptions.HTTPError)
    assert api.read_namespaced_endpoints(SCOPE, NS).metadata.annotations["leader"] == "node1"
    spec = json.dumps({"drop_connections": True})
    code, state = raw(server, "POST", "/_test/faults", spec, "application/json")
    assert code == 200 and state["dropped_connections"] >= 1  # the client's, never ours


def test_refuse_connections(api: client.CoreV1Api, server: K8sApiServer) -> None:
    server.faults.refuse_connections(True)
    with pytest.raises(urllib3.exceptions.HTTPError):
        api.list_namespaced_endpoints(NS)
    with pytest.raises(urllib3.exceptions.HTTPError):
        api.create_namespaced_endpoints(NS, leader_endpoints())
    server.faults.refuse_connections(False)
    assert api.list_namespaced_endpoints(NS).items == []


def test_request_log_records_verbs_and_patch_types(
    api: client.CoreV1Api, server: K8sApiServer
) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    api.patch_namespaced_endpoints(SCOPE, NS, {"metadata": {}})
    api.patch_namespaced_endpoints(
        SCOPE, NS, {"metadata": {}}, _content_type="application/merge-patch+json"
    )
    api.patch_namespaced_endpoints(
        SCOPE, NS, [{"op": "test", "path": "/kind", "value": "Endpoints"}]
    )
    api.list_namespaced_endpoints(NS, label_selector="cluster-name=pgact")
    log = server.request_log
    assert [(r.method, r.content_type.split(";")[0]) for r in log] == [
        ("POST", ""),  # the client sends creates without a Content-Type: read as JSON
        ("PATCH", "application/strategic-merge-patch+json"),
        ("PATCH", "application/merge-patch+json"),
        ("PATCH", "application/json-patch+json"),
        ("GET", ""),
    ]
    assert log[1].path == f"/api/v1/namespaces/{NS}/endpoints/{SCOPE}"
    assert log[-1].query == "labelSelector=cluster-name%3Dpgact"
    server.clear_request_log()
    assert server.request_log == []


def test_fault_and_log_http_api(server: K8sApiServer) -> None:
    spec = {"fail_next": {"n": 1, "code": 503, "method": "GET", "path": "configmaps"}}
    code, state = raw(server, "POST", "/_test/faults", json.dumps(spec), "application/json")
    assert code == 200 and state["fail_next"][0]["code"] == 503
    code, status = raw(server, "GET", f"/api/v1/namespaces/{NS}/configmaps")
    assert code == 503 and status["reason"] == "ServiceUnavailable"
    assert raw(server, "GET", f"/api/v1/namespaces/{NS}/configmaps")[0] == 200

    code, log = raw(server, "GET", "/_test/requests")
    assert code == 200
    assert [(r["method"], r["path"]) for r in log["requests"]] == [
        ("GET", f"/api/v1/namespaces/{NS}/configmaps")
    ] * 2
    assert raw(server, "DELETE", "/_test/requests")[1] == {"requests": []}

    bad = json.dumps({"fail_next": {"code": "x"}})
    assert raw(server, "POST", "/_test/faults", bad, "application/json")[0] == 400
    refuse = json.dumps({"refuse_connections": True})
    raw(server, "POST", "/_test/faults", refuse, "application/json")
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        raw(server, "GET", f"/api/v1/namespaces/{NS}/configmaps")
    code, state = raw(server, "POST", "/_test/faults", json.dumps({"clear": True}))
    assert code == 200 and state["refuse_connections"] is False
    assert raw(server, "GET", "/_test/watches")[1] == {"open": 0}


def test_reset_empties_the_server(api: client.CoreV1Api, server: K8sApiServer) -> None:
    api.create_namespaced_endpoints(NS, leader_endpoints())
    before = api.list_namespaced_endpoints(NS).metadata.resource_version
    bg = BackgroundWatch(api.list_namespaced_endpoints, NS, timeout_seconds=30).start(server)
    server.faults.refuse_connections(True)
    server.reset()
    bg.join()
    assert not server.faults.refusing and server.request_log == []
    assert api.list_namespaced_endpoints(NS).items == []
    with pytest.raises(ApiException) as exc_info:
        for _ in watch.Watch().stream(
            api.list_namespaced_endpoints, NS, resource_version=before, timeout_seconds=1
        ):
            pass
    assert exc_info.value.status == 410
    # The client raises on the ERROR event; the server ends that stream a moment later.
    wait_until(lambda: server.open_watches == 0)
    code, body = raw(server, "POST", "/_test/reset")
    assert code == 200 and body == {"dropped_watches": 0}


# ---------------------------------------------------------------------------
# process mode
# ---------------------------------------------------------------------------


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The first stdout line, waiting at most `timeout` (select, not a blind sleep)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "server process did not report it was listening"
    return proc.stdout.readline()


def exercise_process(url: str) -> None:
    """Client calls plus the HTTP fault and request-log API of a server process."""
    api = make_api(url)
    port = int(url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        api.create_namespaced_endpoints(NS, leader_endpoints())
        spec = {"fail_next": {"n": 1, "code": 500, "method": "GET", "path": "endpoints"}}
        conn.request("POST", "/_test/faults", json.dumps(spec))
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["fail_next"][0]["code"] == 500
        with pytest.raises(ApiException) as exc_info:
            api.read_namespaced_endpoints(SCOPE, NS)
        assert exc_info.value.status == 500
        assert api.read_namespaced_endpoints(SCOPE, NS).metadata.annotations["leader"] == "node1"
        conn.request("GET", "/_test/requests")
        log = json.loads(conn.getresponse().read())["requests"]
        assert [r["method"] for r in log] == ["POST", "GET", "GET"]
    finally:
        conn.close()
        api.api_client.close()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_process_mode(stop_signal: signal.Signals) -> None:
    port = free_port() if stop_signal == signal.SIGTERM else 0
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = read_line(proc, timeout=10)
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert port == 0 or url.endswith(f":{port}")
        exercise_process(url)
        proc.send_signal(stop_signal)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_process_keeps_the_history_size_it_is_given() -> None:
    """``--history-size``: a watch from a version older than what is kept gets 410."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "--port", "0", "--history-size", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = read_line(proc, timeout=10).split()[-1]
        api = make_api(url)
        versions = [
            api.create_namespaced_endpoints(NS, {"metadata": {"name": f"e{i}"}}).metadata
            for i in range(4)
        ]
        kept_from = versions[1].resource_version  # changes after it: the last two
        events = watch.Watch().stream(
            api.list_namespaced_endpoints, NS, resource_version=kept_from, timeout_seconds=1
        )
        assert [e["object"].metadata.name for e in events] == ["e2", "e3"]
        with pytest.raises(ApiException) as exc_info:
            for _ in watch.Watch().stream(
                api.list_namespaced_endpoints,
                NS,
                resource_version=versions[0].resource_version,
                timeout_seconds=1,
            ):
                pass
        assert exc_info.value.status == 410
        api.api_client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("size", ["0", "-1", "many"])
def test_process_refuses_a_history_size_below_one(size: str) -> None:
    done = subprocess.run(
        [sys.executable, str(SERVER_SCRIPT), "--port", "0", "--history-size", size],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "argument --history-size" in done.stderr
