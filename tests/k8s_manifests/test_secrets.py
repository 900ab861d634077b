"""No password in what ``kubectl apply -k`` deploys, and a missing Secret said out loud.

The manifests ship no Secret: k8s/README.md gives the one command that makes
``pgactor-credentials``.  The StatefulSet references its keys optionally, so a
pod whose Secret is missing starts, and pgactor stops at once with the names of
what is missing in the pod's log (PGACTOR_REQUIRED_ENV), instead of the kubelet
holding the container in CreateContainerConfigError where only ``kubectl
describe`` says why.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from kustomized import (
    DEFAULT_OVERLAY,
    K8S,
    OVERLAYS,
    SECRET,
    Doc,
    config_text,
    container,
    kustomization_dirs,
    objects,
    pod_env,
    render,
)

SECRET_WORDS = re.compile(r"password|secret|token|private|credential", re.IGNORECASE)
SECRET_NAME = "pgactor-credentials"


def secret_refs(docs: list[Doc]) -> dict[str, dict[str, str]]:
    """Variable name -> its secretKeyRef."""
    return {
        var["name"]: var["valueFrom"]["secretKeyRef"]
        for var in container(docs)["env"]
        if "secretKeyRef" in var.get("valueFrom", {})
    }


def required_names(docs: list[Doc]) -> list[str]:
    (value,) = [v["value"] for v in container(docs)["env"] if v["name"] == "PGACTOR_REQUIRED_ENV"]
    return str(value).split()


@pytest.mark.parametrize("directory", kustomization_dirs(), ids=lambda p: str(p.relative_to(K8S)))
def test_no_kustomization_renders_a_secret_or_a_password(directory: Path) -> None:
    docs = render(directory)
    assert not [d for d in docs if d["kind"] == "Secret"], "the manifests ship no Secret"
    for doc in docs:
        for var in (
            doc.get("spec", {})
            .get("template", {})
            .get("spec", {})
            .get("containers", [{}])[0]
            .get("env", [])
        ):
            if SECRET_WORDS.search(var["name"]) and "value" in var:
                assert var["name"] == "PGACTOR_REQUIRED_ENV", f"{var['name']} has a literal value"
    config = yaml.safe_load(config_text(objects(DEFAULT_OVERLAY)))

    def walk(value: object, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                assert not (SECRET_WORDS.search(str(key)) and isinstance(item, str)), path + key
                walk(item, f"{path}{key}.")
        elif isinstance(value, list):
            for item in value:
                walk(item, path)

    walk(config, "")


def test_the_readme_command_makes_the_secret_the_pods_read() -> None:
    text = (K8S / "README.md").read_text()
    command = re.findall(r"kubectl create secret generic (?:[^\n]*\\\n)*[^\n]*", text)[0]
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:5] == ["kubectl", "create", "secret", "generic", SECRET_NAME]
    keys = {w.split("=", 2)[1] for w in words if w.startswith("--from-literal=")}
    assert keys == set(SECRET)
    for overlay in OVERLAYS:
        refs = secret_refs(objects(overlay))
        assert {ref["name"] for ref in refs.values()} == {SECRET_NAME}
        assert {ref["key"] for ref in refs.values()} == keys


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_every_secret_reference_is_optional_and_required_by_name(overlay: str) -> None:
    docs = objects(overlay)
    refs = secret_refs(docs)
    assert all(ref.get("optional") is True for ref in refs.values()), refs
    assert sorted(required_names(docs)) == sorted(refs)


def test_a_pod_without_its_secret_stops_at_once_naming_what_is_missing(tmp_path: Path) -> None:
    docs = objects(DEFAULT_OVERLAY)
    path = tmp_path / "pgactor.yaml"
    path.write_text(config_text(docs))
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pgactor"), "node", "-c", str(path)],
        env=pod_env(docs, secrets={}),  # the kubelet leaves optional references out
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    took_s = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert took_s < 15, f"took {took_s:.1f} s"
    (line,) = [line for line in done.stderr.splitlines() if "PGACTOR_REQUIRED_ENV" in line]
    for name in required_names(docs):
        assert name in line
    assert "Secret" in line


def test_a_pod_with_its_secret_passes_the_check() -> None:
    docs = objects(DEFAULT_OVERLAY)
    env = pod_env(docs, SECRET)
    assert all(env[name] for name in required_names(docs))
