"""The k8s/ manifests and Dockerfile: valid for a current Kubernetes, and consistent
with each other and with what pgactor needs.

Schema validation is kubernetes-validate's bundled, strict schemas (offline), at
the newest Kubernetes version the installed package ships.  The consistency
checks are what a schema cannot see: the StatefulSet selects its own Pods, the
Role grants exactly what the Kubernetes backend requests, the primary Service
is the one the leader writes, the ConfigMap's config is one a pod would load,
and the image runs that config as the user the pod expects.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
import zmq
from kubernetes_validate import utils as kv_utils

from actors.leader_lock.k8s_records import POSTGRES_PORT_NAME
from actors.leader_lock.kubernetes import REQUIRED_PERMISSIONS, required_permissions
from messages.config import KubernetesSettings, NodeConfig
from node.config import ConfigError
from node.config.loader import parse_config

K8S = Path(__file__).resolve().parents[2] / "k8s"
KUBERNETES_VERSION = kv_utils.latest_version()
"""The newest version the installed kubernetes-validate bundles schemas for."""
Doc = dict[str, Any]


def documents(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def all_objects() -> list[Doc]:
    return [doc for path in manifest_files() for doc in documents(path)]


def one(kind: str, name: str | None = None) -> Doc:
    found = [
        d
        for d in all_objects()
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def statefulset() -> Doc:
    return one("StatefulSet")


def container() -> Doc:
    (only,) = statefulset()["spec"]["template"]["spec"]["containers"]
    return dict(only)


def config_text() -> str:
    (text,) = one("ConfigMap")["data"].values()
    return str(text)


def secret_values() -> dict[str, str]:
    return dict(one("Secret")["stringData"])


def pod_env(pod_ip: str = "10.244.1.7") -> dict[str, str]:
    """The container's environment as the kubelet would fill it in (no PGACTOR_* of ours)."""
    downward = {"metadata.name": "pgactor-0", "metadata.namespace": "db", "status.podIP": pod_ip}
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    for var in container()["env"]:
        source = var.get("valueFrom", {})
        if "fieldRef" in source:
            env[var["name"]] = downward[source["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in source:
            env[var["name"]] = secret_values()[source["secretKeyRef"]["key"]]
        else:
            env[var["name"]] = var["value"]
    return env


def node_config(extra: Mapping[str, str] | None = None) -> NodeConfig:
    return parse_config(yaml.safe_load(config_text()), {**pod_env(), **(extra or {})})


def kubernetes_settings() -> KubernetesSettings:
    settings = node_config().dcs
    assert isinstance(settings, KubernetesSettings)
    return settings


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def template_labels() -> dict[str, str]:
    return dict(statefulset()["spec"]["template"]["metadata"]["labels"])


# -- schemas ------------------------------------------------------------------------


def test_the_validator_ships_a_current_kubernetes() -> None:
    major, minor = (int(x) for x in KUBERNETES_VERSION.split(".")[:2])
    assert (major, minor) >= (1, 33), KUBERNETES_VERSION


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_every_manifest_passes_strict_validation(path: Path) -> None:
    docs = documents(path)
    assert docs, f"{path.name} holds no object"
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_strict_validation_would_catch_a_misspelt_field() -> None:
    bad = statefulset()
    bad["spec"]["template"]["spec"]["terminationGracePeriod"] = 60
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = documents(K8S / "kustomization.yaml")[0]
    assert sorted(kustomization["resources"]) == [p.name for p in manifest_files()]


def kubectl_kustomize() -> list[Doc]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def test_kubectl_kustomize_renders_every_object_and_each_validates() -> None:
    rendered = kubectl_kustomize()
    for doc in rendered:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)

    def names(docs: list[Doc]) -> list[tuple[str, str]]:
        return sorted((d["kind"], d["metadata"]["name"]) for d in docs)

    assert names(rendered) == names(all_objects())


# -- the StatefulSet ----------------------------------------------------------------------


def test_the_statefulset_selects_its_own_pods_and_nothing_else() -> None:
    spec = statefulset()["spec"]
    selector = spec["selector"]["matchLabels"]
    assert matches(selector, template_labels())
    assert "role" not in selector, "the role label changes; a selector on it loses Pods"
    assert spec["replicas"] == 3


def test_the_pods_carry_the_scope_label_pgactor_watches() -> None:
    config = node_config()
    settings = kubernetes_settings()
    assert template_labels()[settings.scope_label] == config.scope
    # The labels pgactor adds to its Pod are in the template already, so a
    # patch never moves a Pod out of the StatefulSet's selector.
    assert matches(settings.labels, template_labels())


def test_the_pod_gets_its_name_ip_and_namespace_from_the_downward_api() -> None:
    refs = {
        var["name"]: var["valueFrom"]["fieldRef"]["fieldPath"]
        for var in container()["env"]
        if "fieldRef" in var.get("valueFrom", {})
    }
    assert refs == {
        "POD_NAME": "metadata.name",
        "POD_IP": "status.podIP",
        "POD_NAMESPACE": "metadata.namespace",
    }


def test_probes_ask_the_rest_api_for_readiness_and_liveness() -> None:
    api_port = node_config().restapi.listen_port
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    for probe, path in (("readinessProbe", "/readiness"), ("livenessProbe", "/liveness")):
        get = container()[probe]["httpGet"]
        assert get["path"] == path
        assert ports.get(get["port"], get["port"]) == api_port


def test_the_container_runs_as_postgres_not_root_and_cannot_escalate() -> None:
    pod = statefulset()["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == dockerfile_uid() != 0
    assert pod["fsGroup"] == pod["runAsGroup"] == dockerfile_uid()
    own = container()["securityContext"]
    assert own["allowPrivilegeEscalation"] is False
    assert own["capabilities"]["drop"] == ["ALL"]


def test_a_clean_demote_fits_in_the_termination_grace_period() -> None:
    grace = statefulset()["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= node_config().postgresql.pg_ctl_timeout_s + 10


def test_the_data_directory_is_on_the_volume_claim() -> None:
    spec = statefulset()["spec"]
    (claim,) = spec["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container()["volumeMounts"]}
    data_dir = Path(node_config().postgresql.data_dir)
    mount = Path(mounts[claim["metadata"]["name"]])
    assert mount in data_dir.parents, "the data directory must not be the mount root"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_the_config_is_mounted_where_the_image_reads_it() -> None:
    spec = statefulset()["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in container()["volumeMounts"]}
    (volume,) = [v for v in spec["volumes"] if "configMap" in v]
    assert volume["configMap"]["name"] == one("ConfigMap")["metadata"]["name"]
    (key,) = one("ConfigMap")["data"]
    assert f"{mounts[volume['name']]}/{key}" == entrypoint()[-1]


def test_every_secret_reference_names_a_key_of_the_secret() -> None:
    refs = [
        var["valueFrom"]["secretKeyRef"]
        for var in container()["env"]
        if "secretKeyRef" in var.get("valueFrom", {})
    ]
    assert refs
    for ref in refs:
        assert ref["name"] == one("Secret")["metadata"]["name"]
        assert ref["key"] in secret_values()


def test_the_pods_run_as_the_bound_service_account() -> None:
    account = statefulset()["spec"]["template"]["spec"]["serviceAccountName"]
    assert account == one("ServiceAccount")["metadata"]["name"]
    binding = one("RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": one("Role")["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account}]


# -- RBAC -----------------------------------------------------------------------------


def granted(rules: list[Doc]) -> set[tuple[str, str]]:
    permissions = set()
    for rule in rules:
        assert rule["apiGroups"] == [""], "only core/v1 objects"
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        permissions |= {(r, v) for r in rule["resources"] for v in rule["verbs"]}
    return permissions


def test_the_role_grants_exactly_what_the_configured_backend_requests() -> None:
    needed = required_permissions(kubernetes_settings().use_endpoints)
    have = granted(one("Role")["rules"])
    assert have == needed, (
        f"missing: {sorted(needed - have)}, more than needed: {sorted(have - needed)}"
    )
    assert have <= REQUIRED_PERMISSIONS


def test_the_commented_configmap_mode_rule_is_what_that_mode_needs() -> None:
    text = (K8S / "rbac.yaml").read_text()
    block = text[text.index("  # - apiGroups") :].split("\n---")[0]
    rule = yaml.safe_load(re.sub(r"(?m)^  # ?", "", block))
    endpoints_mode = granted(one("Role")["rules"])
    configmap_mode = {p for p in endpoints_mode if p[0] == "pods"} | granted(rule)
    assert configmap_mode == required_permissions(use_endpoints=False)


# -- Services and the disruption budget ------------------------------------------------


def services() -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in all_objects() if d["kind"] == "Service"}


def test_the_primary_service_has_no_selector_and_the_port_the_leader_writes() -> None:
    scope = node_config().scope
    primary = services()[scope]["spec"]
    assert "selector" not in primary, "the leader writes this Service's Endpoints itself"
    (port,) = primary["ports"]
    assert port["name"] == POSTGRES_PORT_NAME
    assert port["targetPort"] == node_config().postgresql.listen_port


def test_the_replicas_service_selects_members_labelled_replica() -> None:
    settings = kubernetes_settings()
    selector = services()[f"{node_config().scope}-repl"]["spec"]["selector"]
    assert selector[settings.role_label] == "replica"
    assert matches(
        {k: v for k, v in selector.items() if k != settings.role_label}, template_labels()
    )


def test_the_headless_service_governs_the_statefulset_and_sees_unready_members() -> None:
    name = statefulset()["spec"]["serviceName"]
    spec = services()[name]["spec"]
    assert spec["clusterIP"] == "None"
    assert spec["publishNotReadyAddresses"] is True
    assert matches(spec["selector"], template_labels())


def test_the_config_endpoints_have_their_guard_service() -> None:
    spec = services()[f"{node_config().scope}-config"]["spec"]
    assert spec == {"clusterIP": "None"}


def test_selector_services_do_not_carry_the_scope_label() -> None:
    # Their Endpoints copy the Service's labels and would join pgactor's watches.
    scope_label = kubernetes_settings().scope_label
    for name, service in services().items():
        if "selector" in service["spec"]:
            assert scope_label not in service["metadata"]["labels"], name


def test_the_disruption_budget_covers_the_members_one_at_a_time() -> None:
    spec = one("PodDisruptionBudget")["spec"]
    assert spec["maxUnavailable"] == 1
    assert spec["selector"]["matchLabels"] == statefulset()["spec"]["selector"]["matchLabels"]


# -- the pgactor config in the ConfigMap ------------------------------------------------


def test_the_configmap_config_is_valid_as_a_pod_loads_it(tmp_path: Path) -> None:
    config = node_config()
    assert config.name == "pgactor-0"
    settings = kubernetes_settings()
    assert (settings.namespace, settings.pod_ip, settings.api_url) == ("db", "10.244.1.7", None)
    assert settings.use_endpoints
    assert (config.postgresql.listen_host, config.postgresql.listen_port) == ("0.0.0.0", 5432)
    assert config.postgresql.connect_host == "10.244.1.7"
    assert config.restapi.connect_address == "10.244.1.7:8008"
    auth = config.postgresql.authentication
    assert auth.superuser.password == secret_values()["superuser-password"]
    assert auth.replication.password == secret_values()["replication-password"]
    assert config.restapi.username == secret_values()["restapi-username"]
    # and `pgactor config validate` agrees, in that environment
    path = tmp_path / "pgactor.yaml"
    path.write_text(config_text())
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pgactor"), "config", "validate", str(path)],
        env=pod_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_configmap_config_needs_the_pod_ip_outside_a_pod() -> None:
    env = {k: v for k, v in pod_env().items() if k != "POD_IP"}
    with pytest.raises(ConfigError, match="POD_IP"):
        parse_config(yaml.safe_load(config_text()), env)


def test_gossip_turned_on_as_the_comments_say_gives_a_valid_config() -> None:
    # Uncomment the gossip and console sections and give the keypair the way
    # the commented PGACTOR__GOSSIP__CURVE_* variables of the StatefulSet would.
    text = config_text()
    block = text[text.index("# gossip:") :]
    enabled = text + re.sub(r"(?m)^# ?", "", block)
    assert "PGACTOR__GOSSIP__CURVE_PUBLIC_KEY" in (K8S / "statefulset.yaml").read_text()
    assert {"gossip-curve-public-key", "gossip-curve-secret-key"} <= secret_values().keys()
    public, secret = zmq.curve_keypair()
    env = {
        **pod_env(),
        "PGACTOR__GOSSIP__CURVE_PUBLIC_KEY": public.decode(),
        "PGACTOR__GOSSIP__CURVE_SECRET_KEY": secret.decode(),
    }
    config = parse_config(yaml.safe_load(enabled), env)
    assert config.gossip is not None and config.gossip.connect_address == "10.244.1.7:7000"
    assert config.console is not None and config.console.enabled


def test_the_example_curve_keys_are_placeholders_that_fail_loudly() -> None:
    env = {
        "PGACTOR__GOSSIP__CURVE_PUBLIC_KEY": secret_values()["gossip-curve-public-key"],
        "PGACTOR__GOSSIP__CURVE_SECRET_KEY": secret_values()["gossip-curve-secret-key"],
    }
    with pytest.raises(ConfigError, match="CURVE key"):
        node_config(env)


# -- the Dockerfile -------------------------------------------------------------------


def dockerfile_instructions() -> Iterator[tuple[str, str]]:
    text = (K8S / "Dockerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            yield word.upper(), rest.strip()


def final_stage() -> list[tuple[str, str]]:
    instructions = list(dockerfile_instructions())
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def entrypoint() -> list[str]:
    (args,) = [rest for word, rest in final_stage() if word == "ENTRYPOINT"]
    return list(yaml.safe_load(args))  # the exec form is a JSON list


def dockerfile_uid() -> int:
    (useradd,) = [rest for word, rest in final_stage() if word == "RUN" and "useradd" in rest]
    words = shlex.split(useradd)
    return int(words[words.index("--uid") + 1])


def test_the_image_is_debian_bookworm_with_postgresql_15_from_debian() -> None:
    text = (K8S / "Dockerfile").read_text()
    assert re.search(r"(?m)^ARG DEBIAN_RELEASE=bookworm$", text)
    assert final_stage()[0] == ("FROM", "debian:${DEBIAN_RELEASE}-slim")
    installs = " ".join(rest for word, rest in final_stage() if word == "RUN")
    assert "apt-get install" in installs and "postgresql-15" in installs
    assert "pip install" in " ".join(rest for _, rest in dockerfile_instructions())


def test_the_image_runs_as_the_non_root_postgres_user() -> None:
    users = [rest for word, rest in final_stage() if word == "USER"]
    assert users, "no USER: the image would run as root"
    user, _, group = users[-1].partition(":")
    assert user not in ("root", "0") and group not in ("root", "0")
    assert int(user) == dockerfile_uid() == 999


def test_the_image_runs_the_node_on_the_mounted_config() -> None:
    args = entrypoint()
    assert args[-4:] == ["pgactor", "node", "-c", "/etc/pgactor/pgactor.yaml"]
    assert args[:2] == ["/usr/bin/tini", "--"], "PID 1 must reap PostgreSQL's orphans"
