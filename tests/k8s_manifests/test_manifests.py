"""The k8s/ manifests and Dockerfile: valid for every Kubernetes from 1.25, and
consistent with each other and with what pgactor needs, in both modes.

Schema validation is kubernetes-validate's bundled, strict schemas (offline),
for every version it ships from 1.25 on.  The consistency checks are what a
schema cannot see: the StatefulSet selects its own Pods, the primary Service
routes the way its mode needs, the ConfigMap's config is one a pod would load
(in each overlay's mode), and the image runs that config as the user the pod
expects.  The RBAC checks are in test_rbac.py.
"""

from __future__ import annotations

import functools
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
import zmq
from kubernetes_validate import utils as kv_utils
from kustomized import (
    DEFAULT_OVERLAY,
    K8S,
    OVERLAYS,
    SECRET,
    Doc,
    config_text,
    container,
    documents,
    kustomization_dirs,
    matches,
    objects,
    one,
    pod_env,
    render,
    statefulset,
    template_labels,
)

from actors.leader_lock.k8s_records import POSTGRES_PORT_NAME
from messages.config import KubernetesSettings, NodeConfig
from node.config import ConfigError
from node.config.loader import parse_config

FIRST_VERSION = (1, 25)
KUBERNETES_VERSIONS = sorted(
    {
        v
        for v in kv_utils.all_versions()
        if tuple(int(x) for x in v.split(".")[:2]) >= FIRST_VERSION
    },
    key=lambda v: tuple(int(x) for x in v.split(".")),
)
"""Every version from 1.25 on that the installed kubernetes-validate bundles schemas for."""
OVERLAY_NAMES = sorted(OVERLAYS)


def node_config(overlay: str, extra: Mapping[str, str] | None = None) -> NodeConfig:
    if not extra:
        return _node_config(overlay)
    docs = objects(overlay)
    env = {**pod_env(docs, SECRET), **extra}
    return parse_config(yaml.safe_load(config_text(docs)), env)


@functools.cache
def _node_config(overlay: str) -> NodeConfig:
    docs = objects(overlay)
    return parse_config(yaml.safe_load(config_text(docs)), pod_env(docs, SECRET))


def kubernetes_settings(overlay: str) -> KubernetesSettings:
    settings = node_config(overlay).dcs
    assert isinstance(settings, KubernetesSettings)
    return settings


def services(overlay: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in objects(overlay) if d["kind"] == "Service"}


# -- schemas and rendering -------------------------------------------------------------


def test_the_validator_ships_every_kubernetes_from_1_25_to_a_current_one() -> None:
    minors = {int(v.split(".")[1]) for v in KUBERNETES_VERSIONS}
    assert minors >= set(range(25, 38)), sorted(minors)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_every_object_passes_strict_validation(overlay: str, version: str) -> None:
    docs = objects(overlay)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_strict_validation_would_catch_a_misspelt_field() -> None:
    bad = statefulset(objects(DEFAULT_OVERLAY))
    bad["spec"]["template"]["spec"]["terminationGracePeriod"] = 60
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSIONS[-1], strict=True)


def test_every_manifest_is_in_a_kustomization_and_every_kustomization_renders() -> None:
    listed = set()
    for directory in kustomization_dirs():
        render(directory)
        for resource in documents(directory / "kustomization.yaml")[0].get("resources", []):
            listed.add((directory / resource).resolve())
    # k8s/monitoring holds plain Prometheus rules and a Grafana dashboard, no objects.
    plain = K8S / "monitoring"
    manifests = {
        p.resolve()
        for p in K8S.rglob("*.yaml")
        if p.name != "kustomization.yaml" and p.parent != plain
    }
    assert manifests - listed == set(), "a manifest no kustomization deploys"


def test_kubectl_apply_k_k8s_deploys_the_label_routed_overlay() -> None:
    assert render(K8S) == objects(DEFAULT_OVERLAY)
    assert not OVERLAYS[DEFAULT_OVERLAY], "new clusters: the lock in ConfigMaps"


def kubectl_kustomize(directory: Path) -> list[Doc]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.mark.parametrize("directory", kustomization_dirs(), ids=lambda p: str(p.relative_to(K8S)))
def test_kubectl_kustomize_renders_what_these_tests_check(directory: Path) -> None:
    def key(doc: Doc) -> tuple[str, str]:
        return doc["kind"], doc["metadata"]["name"]

    assert sorted(kubectl_kustomize(directory), key=key) == sorted(render(directory), key=key)


# -- the StatefulSet ----------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_the_statefulset_selects_its_own_pods_and_nothing_else(overlay: str) -> None:
    spec = statefulset(objects(overlay))["spec"]
    selector = spec["selector"]["matchLabels"]
    assert matches(selector, template_labels(objects(overlay)))
    assert "role" not in selector, "the role label changes; a selector on it loses Pods"
    assert spec["replicas"] == 3


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_the_pods_carry_the_scope_label_pgactor_watches(overlay: str) -> None:
    config = node_config(overlay)
    settings = kubernetes_settings(overlay)
    labels = template_labels(objects(overlay))
    assert labels[settings.scope_label] == config.scope
    # The labels pgactor adds to its Pod are in the template already, so a
    # patch never moves a Pod out of the StatefulSet's selector.
    assert matches(settings.labels, labels)


def test_the_pod_gets_its_name_ip_and_namespace_from_the_downward_api() -> None:
    refs = {
        var["name"]: var["valueFrom"]["fieldRef"]["fieldPath"]
        for var in container(objects(DEFAULT_OVERLAY))["env"]
        if "fieldRef" in var.get("valueFrom", {})
    }
    assert refs == {
        "POD_NAME": "metadata.name",
        "POD_IP": "status.podIP",
        "POD_NAMESPACE": "metadata.namespace",
    }


def test_probes_ask_the_rest_api_for_readiness_and_liveness() -> None:
    api_port = node_config(DEFAULT_OVERLAY).restapi.listen_port
    spec = container(objects(DEFAULT_OVERLAY))
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    for probe, path in (("readinessProbe", "/readiness"), ("livenessProbe", "/liveness")):
        get = spec[probe]["httpGet"]
        assert get["path"] == path
        assert ports.get(get["port"], get["port"]) == api_port


def test_the_container_runs_as_postgres_not_root_and_cannot_escalate() -> None:
    docs = objects(DEFAULT_OVERLAY)
    pod = statefulset(docs)["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == dockerfile_uid() != 0
    assert pod["fsGroup"] == pod["runAsGroup"] == dockerfile_uid()
    own = container(docs)["securityContext"]
    assert own["allowPrivilegeEscalation"] is False
    assert own["capabilities"]["drop"] == ["ALL"]


def test_a_clean_demote_fits_in_the_termination_grace_period() -> None:
    spec = statefulset(objects(DEFAULT_OVERLAY))["spec"]["template"]["spec"]
    grace = spec["terminationGracePeriodSeconds"]
    assert grace >= node_config(DEFAULT_OVERLAY).postgresql.pg_ctl_timeout_s + 10


def test_the_data_directory_is_on_the_volume_claim() -> None:
    docs = objects(DEFAULT_OVERLAY)
    (claim,) = statefulset(docs)["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container(docs)["volumeMounts"]}
    data_dir = Path(node_config(DEFAULT_OVERLAY).postgresql.data_dir)
    mount = Path(mounts[claim["metadata"]["name"]])
    assert mount in data_dir.parents, "the data directory must not be the mount root"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_the_config_is_mounted_where_the_image_reads_it() -> None:
    docs = objects(DEFAULT_OVERLAY)
    spec = statefulset(docs)["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in container(docs)["volumeMounts"]}
    (volume,) = [v for v in spec["volumes"] if "configMap" in v]
    node_configmap = one(docs, "ConfigMap", "pgactor-node")
    assert volume["configMap"]["name"] == node_configmap["metadata"]["name"]
    (key,) = node_configmap["data"]
    assert f"{mounts[volume['name']]}/{key}" == entrypoint()[-1]


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_the_overlay_tells_the_members_their_mode(overlay: str) -> None:
    assert kubernetes_settings(overlay).use_endpoints is OVERLAYS[overlay]


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_the_pods_run_as_the_bound_service_account(overlay: str) -> None:
    docs = objects(overlay)
    account = statefulset(docs)["spec"]["template"]["spec"]["serviceAccountName"]
    assert account == one(docs, "ServiceAccount")["metadata"]["name"]
    binding = one(docs, "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": one(docs, "Role")["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account}]


# -- Services and the disruption budget ------------------------------------------------


def test_the_label_routed_primary_service_selects_the_pod_labelled_primary() -> None:
    overlay = "configmaps"
    settings = kubernetes_settings(overlay)
    primary = services(overlay)[node_config(overlay).scope]["spec"]
    selector = primary["selector"]
    assert selector[settings.role_label] == "primary"
    rest = {k: v for k, v in selector.items() if k != settings.role_label}
    assert matches(rest, template_labels(objects(overlay)))
    assert rest[settings.scope_label] == node_config(overlay).scope
    assert "publishNotReadyAddresses" not in primary, "readiness is a second guard"
    (port,) = primary["ports"]
    assert port["targetPort"] == "postgresql"


def test_label_routed_mode_has_no_endpoints_guard_service() -> None:
    assert f"{node_config('configmaps').scope}-config" not in services("configmaps")


def test_the_endpoints_primary_service_has_no_selector_and_the_port_the_leader_writes() -> None:
    scope = node_config("endpoints").scope
    primary = services("endpoints")[scope]["spec"]
    assert "selector" not in primary, "the leader writes this Service's Endpoints itself"
    (port,) = primary["ports"]
    assert port["name"] == POSTGRES_PORT_NAME
    assert port["targetPort"] == node_config("endpoints").postgresql.listen_port


def test_the_config_endpoints_have_their_guard_service() -> None:
    spec = services("endpoints")[f"{node_config('endpoints').scope}-config"]["spec"]
    assert spec == {"clusterIP": "None"}


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_the_replicas_service_selects_members_labelled_replica(overlay: str) -> None:
    settings = kubernetes_settings(overlay)
    selector = services(overlay)[f"{node_config(overlay).scope}-repl"]["spec"]["selector"]
    assert selector[settings.role_label] == "replica"
    rest = {k: v for k, v in selector.items() if k != settings.role_label}
    assert matches(rest, template_labels(objects(overlay)))


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_the_headless_service_governs_the_statefulset_and_sees_unready_members(
    overlay: str,
) -> None:
    name = statefulset(objects(overlay))["spec"]["serviceName"]
    spec = services(overlay)[name]["spec"]
    assert spec["clusterIP"] == "None"
    assert spec["publishNotReadyAddresses"] is True
    assert matches(spec["selector"], template_labels(objects(overlay)))


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_selector_services_do_not_carry_the_scope_label(overlay: str) -> None:
    # Their Endpoints copy the Service's labels and would join pgactor's watches.
    scope_label = kubernetes_settings(overlay).scope_label
    for name, service in services(overlay).items():
        if "selector" in service["spec"]:
            assert scope_label not in service["metadata"]["labels"], name


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_nothing_the_manifests_deploy_is_named_like_a_record_pgactor_writes(overlay: str) -> None:
    scope = node_config(overlay).scope
    records = {f"{scope}-leader", f"{scope}-config", f"{scope}-sync", f"{scope}-failover"}
    kind = "Endpoints" if OVERLAYS[overlay] else "ConfigMap"
    deployed = {d["metadata"]["name"] for d in objects(overlay) if d["kind"] == kind}
    assert not deployed & (records | {scope})


def test_the_disruption_budget_covers_the_members_one_at_a_time() -> None:
    docs = objects(DEFAULT_OVERLAY)
    spec = one(docs, "PodDisruptionBudget")["spec"]
    assert spec["maxUnavailable"] == 1
    assert spec["selector"]["matchLabels"] == statefulset(docs)["spec"]["selector"]["matchLabels"]


# -- the pgactor config in the ConfigMap ------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_the_configmap_config_is_valid_as_a_pod_loads_it(overlay: str, tmp_path: Path) -> None:
    docs = objects(overlay)
    config = node_config(overlay)
    assert config.name == "pgactor-0"
    settings = kubernetes_settings(overlay)
    assert (settings.namespace, settings.pod_ip, settings.api_url) == ("db", "10.244.1.7", None)
    assert (config.postgresql.listen_host, config.postgresql.listen_port) == ("0.0.0.0", 5432)
    assert config.postgresql.connect_host == "10.244.1.7"
    assert config.restapi.connect_address == "10.244.1.7:8008"
    auth = config.postgresql.authentication
    assert auth.superuser.password == SECRET["superuser-password"]
    assert auth.replication.password == SECRET["replication-password"]
    assert config.restapi.username == SECRET["restapi-username"]
    # and `pgactor config validate` agrees, in that environment
    path = tmp_path / "pgactor.yaml"
    path.write_text(config_text(docs))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pgactor"), "config", "validate", str(path)],
        env=pod_env(docs, SECRET),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_configmap_config_needs_the_pod_ip_outside_a_pod() -> None:
    docs = objects(DEFAULT_OVERLAY)
    env = {k: v for k, v in pod_env(docs, SECRET).items() if k != "POD_IP"}
    with pytest.raises(ConfigError, match="POD_IP"):
        parse_config(yaml.safe_load(config_text(docs)), env)


def test_gossip_turned_on_as_the_comments_say_gives_a_valid_config() -> None:
    # Uncomment the gossip and console sections and give the keypair the way
    # the commented PGACTOR__GOSSIP__CURVE_* variables of the StatefulSet would.
    docs = objects(DEFAULT_OVERLAY)
    text = config_text(docs)
    block = text[text.index("# gossip:") :]
    enabled = text + re.sub(r"(?m)^# ?", "", block)
    assert "PGACTOR__GOSSIP__CURVE_PUBLIC_KEY" in (K8S / "base" / "statefulset.yaml").read_text()
    public, secret = zmq.curve_keypair()
    env = {
        **pod_env(docs, SECRET),
        "PGACTOR__GOSSIP__CURVE_PUBLIC_KEY": public.decode(),
        "PGACTOR__GOSSIP__CURVE_SECRET_KEY": secret.decode(),
    }
    config = parse_config(yaml.safe_load(enabled), env)
    assert config.gossip is not None and config.gossip.connect_address == "10.244.1.7:7000"
    assert config.console is not None and config.console.enabled


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
