"""Where the members run and what they may use: placement, memory, network, TLS.

Placement: one member per node (required), spread over zones.  Memory: the
request and the limit cover what was measured (docs/BENCHMARKS.md: the agent
in Kubernetes mode and its fence) plus what the config makes PostgreSQL use.
Network: the members admit PostgreSQL, the REST API and gossip only from where
they are needed.  TLS for the REST API: the commented lines, turned on, give a
valid StatefulSet and a config that serves HTTPS.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import kubernetes_validate
import yaml
from kubernetes_validate import utils as kv_utils
from kustomized import (
    DEFAULT_OVERLAY,
    K8S,
    SECRET,
    Doc,
    config_text,
    container,
    matches,
    objects,
    one,
    pod_env,
    statefulset,
    template_labels,
)

from messages.config import NodeConfig
from node.config.loader import parse_config

MIB = 1024 * 1024
AGENT_RSS_MIB = 92
"""The agent's RSS in Kubernetes mode, idle: 91.4-92.3 MB (docs/BENCHMARKS.md)."""
FENCE_RSS_MIB = 13
"""The fence process: 12.7-12.8 MB (docs/BENCHMARKS.md)."""
BACKEND_MIB = 3
"""An idle PostgreSQL backend's private memory, roughly."""
UNITS = {"kB": 1024, "MB": MIB, "GB": 1024 * MIB, "Ki": 1024, "Mi": MIB, "Gi": 1024 * MIB}


@functools.cache
def docs() -> list[Doc]:
    """The default overlay's objects (read only: shared by the tests of this module)."""
    return objects(DEFAULT_OVERLAY)


def pod_spec() -> Doc:
    return dict(statefulset(docs())["spec"]["template"]["spec"])


def node_config(extra: dict[str, str] | None = None) -> NodeConfig:
    env = {**pod_env(docs(), SECRET), **(extra or {})}
    return parse_config(yaml.safe_load(config_text(docs())), env)


def size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)\s*([kKMG]i?B?|)", str(text)).groups()  # type: ignore[union-attr]
    return int(number) * UNITS.get(unit, 1)


# -- placement ------------------------------------------------------------------------


def test_no_two_members_ever_share_a_node() -> None:
    (term,) = pod_spec()["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == template_labels(docs())


def test_the_members_spread_over_zones_and_nodes() -> None:
    spread = {c["topologyKey"]: c for c in pod_spec()["topologySpreadConstraints"]}
    assert set(spread) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for constraint in spread.values():
        assert constraint["maxSkew"] == 1
        assert constraint["labelSelector"]["matchLabels"] == template_labels(docs())
    # A zone that is down must not keep its member from being scheduled elsewhere.
    assert spread["topology.kubernetes.io/zone"]["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"


# -- memory ---------------------------------------------------------------------------


def test_memory_request_and_limit_cover_the_measured_agent_and_postgresql() -> None:
    resources = container(docs())["resources"]
    limit = size(resources["limits"]["memory"])
    assert size(resources["requests"]["memory"]) == limit, "request = limit"
    assert "cpu" not in resources["limits"], "a throttled agent renews its lock late"
    params = node_config().postgresql.parameters
    shared_buffers = size(params["shared_buffers"])
    connections = int(params.get("max_connections", "100"))
    autovacuum = 3 * size(params.get("maintenance_work_mem", "64MB"))
    budget = (
        (AGENT_RSS_MIB + FENCE_RSS_MIB) * MIB
        + shared_buffers
        + shared_buffers // 32  # wal_buffers' default
        + connections * BACKEND_MIB * MIB
        + autovacuum
    )
    assert budget <= limit * 0.8, f"{budget // MIB} MiB leaves too little of {limit // MIB} MiB"
    dshm = next(v for v in pod_spec()["volumes"] if v["name"] == "dshm")
    assert size(dshm["emptyDir"]["sizeLimit"]) <= limit // 4


def test_the_readme_gives_the_sizing_formula() -> None:
    text = (K8S / "README.md").read_text()
    assert "shared_buffers" in text and "max_connections" in text and "RSS" in text


# -- network ---------------------------------------------------------------------------


def policy() -> Doc:
    return one(docs(), "NetworkPolicy")


def port_names() -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container(docs())["ports"]}


def admitted(rule: Doc) -> set[int]:
    return {port_names().get(p["port"], p["port"]) for p in rule["ports"]}


def test_the_network_policy_covers_the_members_and_only_limits_ingress() -> None:
    spec = policy()["spec"]
    assert spec["podSelector"]["matchLabels"] == template_labels(docs())
    assert spec["policyTypes"] == ["Ingress"]
    for rule in spec["ingress"]:
        assert rule.get("from"), "a rule without 'from' admits everyone"
        assert rule.get("ports"), "a rule without 'ports' admits every port"
        for peer in rule["from"]:
            assert "ipBlock" not in peer and peer.get("podSelector", {}).get("matchLabels")


def test_members_reach_each_other_on_postgresql_the_rest_api_and_gossip() -> None:
    gossip_text = config_text(docs())
    gossip = int(re.search(r"#\s+listen: 0\.0\.0\.0:(\d+)", gossip_text).group(1))  # type: ignore[union-attr]
    config = node_config()
    from_members = [
        r
        for r in policy()["spec"]["ingress"]
        if any(matches(p["podSelector"]["matchLabels"], template_labels(docs())) for p in r["from"])
    ]
    (rule,) = from_members
    assert admitted(rule) == {config.postgresql.listen_port, config.restapi.listen_port, gossip}


def test_clients_reach_postgresql_only_and_admins_the_api_and_console() -> None:
    config = node_config()
    others = {
        tuple(sorted(p["podSelector"]["matchLabels"].items())): admitted(r)
        for r in policy()["spec"]["ingress"]
        for p in r["from"]
        if not matches(p["podSelector"]["matchLabels"], template_labels(docs()))
    }
    assert others == {
        (("pgactor-client", "true"),): {config.postgresql.listen_port},
        (("pgactor-admin", "true"),): {config.restapi.listen_port, 7100},
    }


# -- TLS for the REST API --------------------------------------------------------------


def with_tls(text: str) -> str:
    return re.sub(r"(?m)^(\s*)#tls ", r"\1", text)


def test_the_commented_tls_lines_give_a_valid_statefulset_that_serves_https() -> None:
    text = (K8S / "base" / "statefulset.yaml").read_text()
    assert text.count("#tls ") >= 8
    sts = yaml.safe_load(with_tls(text))
    for version in ("1.25.0", kv_utils.latest_version()):
        kubernetes_validate.validate(sts, version, strict=True)
    spec = sts["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["scheme"] == "HTTPS"
    env = {v["name"]: v["value"] for v in c["env"] if "value" in v}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    (volume,) = [v for v in spec["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == "pgactor-restapi-tls"
    tls_dir = Path(mounts[volume["name"]])
    assert env["PGACTOR__RESTAPI__CERTFILE"] == str(tls_dir / "tls.crt")
    assert env["PGACTOR__RESTAPI__KEYFILE"] == str(tls_dir / "tls.key")
    config = node_config(extra={k: v for k, v in env.items() if k.startswith("PGACTOR__")})
    assert (config.restapi.certfile, config.restapi.keyfile) == (
        str(tls_dir / "tls.crt"),
        str(tls_dir / "tls.key"),
    )
