"""Fixtures for the DCS contract suite: one real server per backend, a fresh scope per test.

Every backend joins the suite by adding a parameter to ``backend`` and a
harness that can (1) make a client for a member of the test's scope, (2) make
the server stop answering for a while, and (3) drop every connection and watch
while keeping the data (a server restart).

The ``"kubernetes"`` harness runs one in-process test API server
(tests/k8s_api) per test, in a namespace of the test's own: its fault
injection stalls requests and drops connections.  It creates each member's
Pod (labelled with the scope, as a StatefulSet's pod template would) before
the member's client is made, since in Kubernetes the Pod exists before
pgactor runs in it, and deletes it when the contract needs a member to die
(there is no member lease in Kubernetes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from actors.leader_lock.contract import Dcs, DcsParams
from actors.leader_lock.etcd import EtcdDcs
from messages.base import MemberName
from messages.config import EtcdSettings, KubernetesSettings

from .etcd_server import EtcdServer

if TYPE_CHECKING:
    from k8s_api_server import K8sApiServer

TTL_S = 3.0
RETRY_TIMEOUT_S = 1.5
TIMING = {"ttl_s": TTL_S, "retry_timeout_s": RETRY_TIMEOUT_S}
"""What the HA core would give every lock call (the contract takes no default)."""


class MakeClient(Protocol):
    def __call__(
        self, member: str, *, ttl_s: float = TTL_S, retry_timeout_s: float = RETRY_TIMEOUT_S
    ) -> Dcs: ...


@dataclasses.dataclass
class Harness:
    """What the contract tests need from a backend, whatever it is."""

    name: str
    scope: str
    make: MakeClient
    stalled: Callable[[], contextlib.AbstractContextManager[None]]
    """Inside the ``with``, the server accepts connections but answers nothing."""
    restart: Callable[[], None]
    """Drop every connection and watch; the data survives."""
    member_dies: Callable[[str], None] | None = None
    """What makes a dead member's record go, where no lease does it (Kubernetes: its Pod
    is deleted); None where the record expires with its lease (etcd)."""


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = EtcdServer(Path(tmp_path_factory.mktemp("etcd")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def scope() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def _etcd_harness(request: pytest.FixtureRequest, scope: str) -> Harness:
    server: EtcdServer = request.getfixturevalue("etcd_server")

    def make(member: str, *, ttl_s: float = TTL_S, retry_timeout_s: float = RETRY_TIMEOUT_S) -> Dcs:
        return EtcdDcs(
            DcsParams(
                scope=scope,
                name=MemberName(member),
                namespace="service",
                ttl_s=ttl_s,
                retry_timeout_s=retry_timeout_s,
            ),
            settings=EtcdSettings(hosts=(server.host,)),
        )

    return Harness("etcd", scope, make, server.paused, server.restart)


@pytest.fixture
def k8s_server() -> Iterator[K8sApiServer]:
    from k8s_api_server import K8sApiServer

    server = K8sApiServer(port=0).start()
    try:
        yield server
    finally:
        server.stop()


def k8s_api(server: K8sApiServer) -> Any:
    """The official client's CoreV1Api on the test server, for arranging and checking."""
    from kubernetes import client

    config = client.Configuration(host=server.url)
    return client.CoreV1Api(client.ApiClient(config))


def create_pod(api: Any, namespace: str, name: str, labels: dict[str, str]) -> None:
    """A member's Pod, as its StatefulSet would have made it (no-op if it exists)."""
    from kubernetes.client.exceptions import ApiException

    body = {
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "postgres", "image": "postgres:17"}]},
    }
    try:
        api.create_namespaced_pod(namespace, body)
    except ApiException as e:
        if e.status != 409:
            raise


@contextlib.contextmanager
def _stalled(server: K8sApiServer) -> Iterator[None]:
    server.faults.stall(60)  # requests held this long; stopping the server frees them
    try:
        yield
    finally:
        server.faults.stall(0)


def _kubernetes_harness(request: pytest.FixtureRequest, scope: str) -> Harness:
    from actors.leader_lock.kubernetes import KubernetesDcs

    server: K8sApiServer = request.getfixturevalue("k8s_server")
    namespace = scope
    api = k8s_api(server)

    def make(member: str, *, ttl_s: float = TTL_S, retry_timeout_s: float = RETRY_TIMEOUT_S) -> Dcs:
        create_pod(api, namespace, member, {"cluster-name": scope})
        return KubernetesDcs(
            DcsParams(
                scope=scope,
                name=MemberName(member),
                namespace=namespace,
                ttl_s=ttl_s,
                retry_timeout_s=retry_timeout_s,
            ),
            settings=KubernetesSettings(namespace=namespace, api_url=server.url),
        )

    def member_dies(member: str) -> None:
        api.delete_namespaced_pod(member, namespace)

    return Harness(
        "kubernetes",
        scope,
        make,
        lambda: _stalled(server),
        server.faults.drop_connections,
        member_dies,
    )


_HARNESSES: dict[str, Callable[[pytest.FixtureRequest, str], Harness]] = {
    "etcd": _etcd_harness,
    "kubernetes": _kubernetes_harness,
}


@pytest.fixture(params=sorted(_HARNESSES))
def backend_factory(request: pytest.FixtureRequest, scope: str) -> Iterator[Harness]:
    """The backend under test; every client it makes is closed at teardown."""
    harness = _HARNESSES[request.param](request, scope)
    made: list[Dcs] = []
    make = harness.make

    def tracked(member: str, **kw: float) -> Dcs:
        client = make(member, **kw)
        made.append(client)
        return client

    harness.make = tracked
    try:
        yield harness
    finally:
        for client in made:
            client.close()
