"""End to end on the Kubernetes DCS: the primary Service follows the leader, in both modes.

Three real nodes on PostgreSQL 15, started the way the StatefulSet in k8s/
starts them: each with a ``kubernetes:`` config, its Pod created first, and
POD_NAME / POD_IP / POD_NAMESPACE in its environment (scripts/localcluster.py
with ``dcs="kubernetes"``, against the Kubernetes API test server run as a
process).  Across a switchover and the leader's sudden death:

* Endpoints mode: the Endpoints ``<scope>`` -- the addresses of the primary
  Service, which has no selector -- name the current leader's address and
  nobody else's, and the Pods' role labels follow.
* Label-routed mode (the default for new clusters): the Pods the primary
  Service of k8s/overlays/configmaps selects are never more than one, and the
  new primary's alone within a second of its promotion.

Every request the nodes made is one the overlay's Role grants.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml
from localcluster import (  # type: ignore[import-not-found]
    PASSWORD,
    LocalCluster,
    Node,
    free_port,
    wait_for,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("pg_config") is None,
        reason="needs PostgreSQL 15 (scripts/setup installs it)",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "pgactor-e2e"
SCOPE = "e2e"
TTL_S, LOOP_WAIT_S, RETRY_TIMEOUT_S = 10, 1, 3


@dataclasses.dataclass
class PodCluster(LocalCluster):
    """LocalCluster's nodes as the StatefulSet runs them, in either Kubernetes mode, with
    the REST API's actions behind basic auth (as k8s/ sets them from the Secret)."""

    use_endpoints: bool = True

    def dcs_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().dcs_config()
        config["kubernetes"]["use_endpoints"] = self.use_endpoints
        return config

    def config_for(self, node: Node) -> dict[str, Any]:
        config: dict[str, Any] = super().config_for(node)
        config["restapi"].setdefault("authentication", {"username": "admin", "password": PASSWORD})
        return config

    def post(self, node: Node, path: str, body: dict[str, Any]) -> tuple[int, str]:
        auth = self.config_for(node)["restapi"]["authentication"]
        token = base64.b64encode(f"{auth['username']}:{auth['password']}".encode()).decode()
        request = urllib.request.Request(
            f"{node.api}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
            method="POST",
        )
        try:
            # a switchover is answered once it happened: up to 2 x max(10 s, loop_wait)
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def pod_cluster(*, use_endpoints: bool) -> Iterator[PodCluster]:
    base = Path(tempfile.mkdtemp(prefix="pgactor-e2e-k8s-", dir="/tmp"))
    cluster = PodCluster(
        base,
        scope=SCOPE,
        pg_ports=[free_port() for _ in range(3)],
        api_ports=[free_port() for _ in range(3)],
        dynamic={"ttl": TTL_S, "loop_wait": LOOP_WAIT_S, "retry_timeout": RETRY_TIMEOUT_S},
        dcs="kubernetes",
        k8s_namespace=NAMESPACE,
        use_endpoints=use_endpoints,
    )
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        if os.environ.get("PGACTOR_KEEP_TEST_DIR") != "1":
            cluster.remove_data()


@pytest.fixture
def k8s_cluster() -> Iterator[PodCluster]:
    """Endpoints mode: the lock's Endpoints route the primary Service."""
    yield from pod_cluster(use_endpoints=True)


# -- reading the API server -----------------------------------------------------------


def api_get(cluster: LocalCluster, path: str) -> Any:
    with urllib.request.urlopen(f"{cluster.k8s_api_url}{path}", timeout=5) as answer:
        return json.load(answer)


def primary_endpoints(cluster: LocalCluster) -> tuple[str | None, list[tuple[str, int]]]:
    """The leader named by the lock and the addresses the primary Service routes to."""
    obj = api_get(cluster, f"/api/v1/namespaces/{NAMESPACE}/endpoints/{SCOPE}")
    leader = (obj["metadata"].get("annotations") or {}).get("leader")
    addresses = [
        (address["ip"], port["port"])
        for subset in obj.get("subsets") or []
        for address in subset.get("addresses") or []
        for port in subset.get("ports") or []
        if port.get("name") == "postgresql"
    ]
    return leader, addresses


def role_labels(cluster: LocalCluster) -> dict[str, str | None]:
    pods = api_get(
        cluster, f"/api/v1/namespaces/{NAMESPACE}/pods?labelSelector=cluster-name%3D{SCOPE}"
    )
    return {p["metadata"]["name"]: p["metadata"]["labels"].get("role") for p in pods["items"]}


def labelled_primary(cluster: LocalCluster) -> list[str]:
    return sorted(name for name, role in role_labels(cluster).items() if role == "primary")


class EndpointsSampler:
    """Reads the primary Endpoints ten times a second for the whole test."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.samples: list[tuple[str | None, list[tuple[str, int]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="endpoints-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            with contextlib.suppress(OSError):  # not created yet: nothing to check
                self.samples.append(primary_endpoints(self.cluster))

    def __enter__(self) -> EndpointsSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# -- checks ---------------------------------------------------------------------------


def routes_to(cluster: LocalCluster, leader: Node, down: tuple[Node, ...] = ()) -> None:
    """Wait until the lock, the primary Service and the role labels all name ``leader``."""
    want_labels = {
        n.name: "primary" if n is leader else "replica" for n in cluster.nodes if n not in down
    }

    def settled() -> bool:
        named, addresses = primary_endpoints(cluster)
        labels = role_labels(cluster)
        return (
            named == leader.name
            and addresses == [("127.0.0.1", leader.pg_port)]
            and all(labels.get(name) == role for name, role in want_labels.items())
        )

    wait_for(settled, 20, f"the primary Service and role labels to follow {leader.name}")


def write_through_service(cluster: LocalCluster, first: int) -> list[int]:
    """Connect where the primary Service routes (Endpoints mode): it must take writes."""
    _, addresses = primary_endpoints(cluster)
    ((host, port),) = addresses
    return write_to(host, port, first)


def write_to(host: str, port: int, first: int) -> list[int]:
    with (
        psycopg2.connect(
            host=host,
            port=port,
            user="postgres",
            password=PASSWORD,
            dbname="postgres",
            connect_timeout=3,
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT pg_is_in_recovery()")
        assert cur.fetchone() == (False,)
        cur.execute("CREATE TABLE IF NOT EXISTS probe (n int primary key)")
        rows = list(range(first, first + 10))
        cur.executemany("INSERT INTO probe VALUES (%s)", [(n,) for n in rows])
    return rows


def rows_on(node: Node) -> set[int]:
    with (
        psycopg2.connect(
            host="127.0.0.1",
            port=node.pg_port,
            user="postgres",
            password=PASSWORD,
            dbname="postgres",
            connect_timeout=3,
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT n FROM probe")
        return {r[0] for r in cur.fetchall()}


def new_primary(cluster: LocalCluster, other_than: str) -> str | None:
    return next((n for n, r in cluster.roles().items() if r == "primary" and n != other_than), None)


def healthy(cluster: LocalCluster, timeout_s: float) -> Node:
    name = wait_for(cluster.healthy, timeout_s, "one primary and two streaming replicas", 0.2)
    return cluster.node(name)


# -- RBAC -----------------------------------------------------------------------------


def overlay_doc(overlay: str, file: str, kind: str) -> Any:
    docs = yaml.safe_load_all((ROOT / "k8s" / "overlays" / overlay / file).read_text())
    (doc,) = [d for d in docs if d and d["kind"] == kind]
    return doc


Request = tuple[str, str, str, str | None]
"""(namespace, resource, verb, the object's name for a request naming one)."""


def not_granted(made: list[Request], overlay: str) -> list[Request]:
    """The requests the overlay's Role (its scope renamed to the test's) would refuse."""
    rules = overlay_doc(overlay, "role.yaml", "Role")["rules"]

    def allows(rule: dict[str, Any], request: Request) -> bool:
        _, resource, verb, name = request
        names = [n.replace("pgactor", SCOPE, 1) for n in rule.get("resourceNames", [])]
        in_rule = resource in rule["resources"] and verb in rule["verbs"]
        return in_rule and (not names or name in names)

    optional = {("services", "create")}  # tried once; a refusal is fine (k8s_permissions)
    return [
        r
        for r in made
        if (r[1], r[2]) not in optional and not any(allows(rule, r) for rule in rules)
    ]


def requests_made(cluster: LocalCluster) -> list[Request]:
    """Every request since the Pods were made."""
    made: list[Request] = []
    for record in api_get(cluster, "/_test/requests")["requests"]:
        parts = record["path"].strip("/").split("/")  # api v1 namespaces NS resource [name]
        query = urllib.parse.parse_qs(record["query"])
        watching = query.get("watch", ["false"])[0] in ("1", "t", "T", "true", "True", "TRUE")
        verb = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}.get(
            record["method"],
            "get" if len(parts) > 5 else "watch" if watching else "list",
        )
        name = parts[5] if len(parts) > 5 else None
        made.append((parts[3], parts[4], verb, name))
    return made


# -- the test -------------------------------------------------------------------------


def test_the_primary_service_and_role_labels_follow_switchover_and_failover(
    k8s_cluster: LocalCluster,
) -> None:
    cluster = k8s_cluster
    port_of = {n.pg_port: n.name for n in cluster.nodes}
    with EndpointsSampler(cluster) as sampler:
        first = healthy(cluster, 60)
        routes_to(cluster, first)
        written = write_through_service(cluster, 0)

        # Planned switchover to a named candidate.
        candidate = next(n for n in cluster.nodes if n is not first)
        code, body = cluster.post(
            first, "/switchover", {"leader": first.name, "candidate": candidate.name}
        )
        assert code in (200, 202), body
        wait_for(lambda: cluster.healthy() == candidate.name, 60, f"{candidate.name} to lead")
        routes_to(cluster, candidate)
        written += write_through_service(cluster, 100)

        # The leader's sudden death: agent and postmaster killed together.
        died_at = time.monotonic()
        cluster.kill_node(candidate)
        survivor = cluster.node(
            wait_for(lambda: new_primary(cluster, candidate.name), 45, "a new primary")
        )
        took_s = time.monotonic() - died_at
        assert took_s <= TTL_S + LOOP_WAIT_S + RETRY_TIMEOUT_S + 5, f"failover took {took_s:.1f} s"
        # The dead leader's Pod lost its primary label when the survivor took the lock:
        # a Service selecting on it never routes to two Pods, nor to a dead one.
        wait_for(
            lambda: labelled_primary(cluster) == [survivor.name],
            1.0,
            "exactly one Pod labelled primary within a second of the promotion",
            0.05,
        )
        routes_to(cluster, survivor, down=(candidate,))
        written += write_through_service(cluster, 200)

        # The kubelet restarts the dead container: it rejoins as a replica.
        cluster.start_node(candidate)
        assert healthy(cluster, 60) is survivor
        routes_to(cluster, survivor)
        assert set(written) <= rows_on(survivor), "acknowledged rows lost"

    # At every moment sampled, the Service routed to the lock holder and nobody else.
    assert sampler.samples, "the sampler saw no Endpoints"
    for leader, addresses in sampler.samples:
        for ip, port in addresses:
            assert (ip, port_of.get(port)) == ("127.0.0.1", leader), (leader, addresses)
        assert len(addresses) <= 1, addresses
    leaders_seen = [leader for leader, addresses in sampler.samples if addresses]
    assert {first.name, candidate.name, survivor.name} <= set(leaders_seen)

    # What the nodes asked of the API is what the Role grants, in their own namespace.
    made = requests_made(cluster)
    assert {request[0] for request in made} == {NAMESPACE}
    used = {(resource, verb) for _, resource, verb, _ in made}
    assert not not_granted(made, "endpoints"), sorted(set(not_granted(made, "endpoints")))
    assert {("endpoints", "create"), ("endpoints", "patch"), ("endpoints", "watch")} <= used
    assert {("pods", "list"), ("pods", "watch"), ("pods", "patch")} <= used


# -- label-routed mode (the default for new clusters) ---------------------------------


@pytest.fixture
def label_routed_cluster() -> Iterator[PodCluster]:
    """ConfigMap mode: the lock in ConfigMaps, the primary Service selects role=primary."""
    yield from pod_cluster(use_endpoints=False)


def routed(cluster: LocalCluster) -> list[str]:
    """The Pods the label-routed primary Service (k8s/overlays/configmaps) selects."""
    selector = dict(overlay_doc("configmaps", "services.yaml", "Service")["spec"]["selector"])
    selector.pop("app.kubernetes.io/name")  # the test's Pods are not the StatefulSet's
    selector["cluster-name"] = SCOPE
    query = urllib.parse.quote(",".join(f"{k}={v}" for k, v in sorted(selector.items())))
    pods = api_get(cluster, f"/api/v1/namespaces/{NAMESPACE}/pods?labelSelector={query}")
    return sorted(p["metadata"]["name"] for p in pods["items"])


def configmap_leader(cluster: LocalCluster) -> str | None:
    obj = api_get(cluster, f"/api/v1/namespaces/{NAMESPACE}/configmaps/{SCOPE}-leader")
    leader: str | None = (obj["metadata"].get("annotations") or {}).get("leader")
    return leader


class RoutingSampler(threading.Thread):
    """Reads which Pods the primary Service selects, ten times a second."""

    def __init__(self, cluster: LocalCluster) -> None:
        super().__init__(name="routing-sampler", daemon=True)
        self.cluster = cluster
        self.samples: list[list[str]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            with contextlib.suppress(OSError):
                self.samples.append(routed(self.cluster))


def write_through_label_service(cluster: LocalCluster, leader: Node, first: int) -> list[int]:
    assert routed(cluster) == [leader.name]
    return write_to("127.0.0.1", leader.pg_port, first)


def test_the_label_routed_primary_service_follows_switchover_and_failover(
    label_routed_cluster: PodCluster,
) -> None:
    cluster = label_routed_cluster
    sampler = RoutingSampler(cluster)
    sampler.start()
    try:
        first = healthy(cluster, 60)
        routes_to_labelled(cluster, first)
        written = write_through_label_service(cluster, first, 0)

        candidate = next(n for n in cluster.nodes if n is not first)
        code, body = cluster.post(
            first, "/switchover", {"leader": first.name, "candidate": candidate.name}
        )
        assert code in (200, 202), body
        wait_for(lambda: cluster.healthy() == candidate.name, 60, f"{candidate.name} to lead")
        routes_to_labelled(cluster, candidate)
        written += write_through_label_service(cluster, candidate, 100)

        # The leader's node dies: agent and postmaster killed together.
        cluster.kill_node(candidate)
        survivor = cluster.node(
            wait_for(lambda: new_primary(cluster, candidate.name), 45, "a new primary")
        )
        wait_for(
            lambda: routed(cluster) == [survivor.name],
            1.0,
            "the primary Service to select the new primary alone within a second",
            0.05,
        )
        written += write_through_label_service(cluster, survivor, 200)
        cluster.start_node(candidate)
        assert healthy(cluster, 60) is survivor
        routes_to_labelled(cluster, survivor)
        assert set(written) <= rows_on(survivor), "acknowledged rows lost"
    finally:
        sampler.done.set()
        sampler.join(5)

    assert sampler.samples, "the sampler saw nothing"
    assert all(len(pods) <= 1 for pods in sampler.samples), "two Pods labelled primary at once"
    made = requests_made(cluster)
    used = {(resource, verb) for _, resource, verb, _ in made}
    assert not not_granted(made, "configmaps"), sorted(set(not_granted(made, "configmaps")))
    assert {("configmaps", "create"), ("configmaps", "patch"), ("configmaps", "watch")} <= used
    assert not {resource for resource, _ in used} & {"endpoints", "services"}


def routes_to_labelled(cluster: LocalCluster, leader: Node) -> None:
    """Wait until the lock and the role labels name ``leader`` and nobody else."""

    def settled() -> bool:
        labels = role_labels(cluster)
        return configmap_leader(cluster) == leader.name and labels == {
            n.name: "primary" if n is leader else "replica" for n in cluster.nodes
        }

    wait_for(settled, 20, f"the lock and the role labels to follow {leader.name}")
