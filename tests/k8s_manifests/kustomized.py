"""The k8s/ kustomizations rendered in Python, and what the tests read from them.

The manifests use the part of kustomize a few lines of Python can render:
``resources`` (files, and directories holding a kustomization) and ``images``.
No patches: what differs between the overlays is whole objects (the Role, the
primary Service, the ConfigMap ``pgactor-dcs`` the StatefulSet reads with
``envFrom``).  So every check runs without kubectl; where kubectl is installed,
a test checks that ``kubectl kustomize`` renders exactly the same objects.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parents[2] / "k8s"
OVERLAYS = {"configmaps": False, "endpoints": True}
"""Overlay directory (under k8s/overlays) -> the kubernetes.use_endpoints it runs."""
DEFAULT_OVERLAY = "configmaps"
"""What ``kubectl apply -k k8s/`` deploys."""
Doc = dict[str, Any]
SECRET = {
    "superuser-password": "test-superuser-password",
    "replication-password": "test-replication-password",
    "rewind-password": "test-rewind-password",
    "restapi-username": "pgactor",
    "restapi-password": "test-restapi-password",
}
"""The Secret pgactor-credentials as the command in k8s/README.md makes it (test values)."""


def documents(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kustomization(directory: Path) -> Doc:
    return documents(directory / "kustomization.yaml")[0]


def kustomization_dirs() -> list[Path]:
    return sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


def _images(docs: list[Doc], images: list[Doc]) -> list[Doc]:
    """kustomize's images transformer, for the container images of pod templates."""
    for doc in docs:
        template = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in template.get("containers", []):
            name, _, tag = container["image"].partition(":")
            for image in images:
                if image["name"] == name:
                    name = image.get("newName", name)
                    tag = image.get("newTag", tag)
            container["image"] = f"{name}:{tag}" if tag else name
    return docs


@functools.cache
def _render(directory: Path) -> tuple[Doc, ...]:
    spec = kustomization(directory)
    assert set(spec) <= {"apiVersion", "kind", "resources", "images"}, sorted(spec)
    docs: list[Doc] = []
    for resource in spec.get("resources", []):
        path = (directory / resource).resolve()
        docs += render(path) if path.is_dir() else documents(path)
    return tuple(_images(docs, spec.get("images", [])))


def render(directory: Path) -> list[Doc]:
    """The objects ``kubectl kustomize directory`` would output (fresh copies)."""
    return copy.deepcopy(list(_render(directory.resolve())))


def overlay_dir(overlay: str) -> Path:
    return K8S / "overlays" / overlay


def objects(overlay: str) -> list[Doc]:
    return render(overlay_dir(overlay))


def one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def statefulset(docs: list[Doc]) -> Doc:
    return one(docs, "StatefulSet")


def container(docs: list[Doc]) -> Doc:
    (only,) = statefulset(docs)["spec"]["template"]["spec"]["containers"]
    return dict(only)


def config_text(docs: list[Doc]) -> str:
    (text,) = one(docs, "ConfigMap", "pgactor-node")["data"].values()
    return str(text)


def template_labels(docs: list[Doc]) -> dict[str, str]:
    return dict(statefulset(docs)["spec"]["template"]["metadata"]["labels"])


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def pod_env(
    docs: list[Doc], secrets: Mapping[str, str] | None = None, pod_ip: str = "10.244.1.7"
) -> dict[str, str]:
    """The container's environment as the kubelet would fill it in.

    ``secrets``: the Secret's keys and values; a variable whose key is missing is
    left out when the reference is optional (the kubelet does the same).
    """
    downward = {"metadata.name": "pgactor-0", "metadata.namespace": "db", "status.podIP": pod_ip}
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    spec = container(docs)
    for source in spec.get("envFrom", []):
        env.update(one(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for var in spec["env"]:
        value_from = var.get("valueFrom", {})
        if "fieldRef" in value_from:
            env[var["name"]] = downward[value_from["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in value_from:
            ref = value_from["secretKeyRef"]
            if ref["key"] in (secrets or {}):
                env[var["name"]] = (secrets or {})[ref["key"]]
            else:
                assert ref.get("optional"), f"{var['name']}: the pod would not start"
        else:
            env[var["name"]] = var["value"]
    return env
