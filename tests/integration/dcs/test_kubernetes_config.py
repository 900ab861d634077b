"""How the Kubernetes backend finds its API server: kubeconfig and in-cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from actors.leader_lock import k8s_client
from actors.leader_lock.contract import DcsError, DcsParams
from actors.leader_lock.kubernetes import KubernetesDcs
from messages.base import MemberName
from messages.config import KubernetesSettings

pytestmark = pytest.mark.integration


def write_kubeconfig(path: Path, url: str) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "test", "cluster": {"server": url}}],
                "users": [{"name": "test", "user": {"token": "t0ken"}}],
                "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
                "current-context": "test",
            }
        )
    )


def test_a_kubeconfig_is_used_outside_a_cluster(
    k8s_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    write_kubeconfig(tmp_path / "config", k8s_server.url)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "config"))
    dcs = KubernetesDcs(
        DcsParams(
            scope="kc", name=MemberName("m1"), namespace="default", ttl_s=5, retry_timeout_s=2
        ),
        settings=KubernetesSettings(namespace="default"),
    )
    try:
        view = dcs.refresh()  # a real round trip to the server the kubeconfig names
        assert view.leader is None
    finally:
        dcs.close()


def test_the_service_account_is_used_inside_a_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("sa-token")
    ca.write_text("not checked until a request is made")
    from kubernetes.config import incluster_config

    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    configuration = k8s_client._configuration(KubernetesSettings(namespace="default"))
    assert configuration.host == "https://10.96.0.1:443"
    assert "sa-token" in str(configuration.api_key)


def test_no_cluster_and_no_kubeconfig_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(DcsError, match="no Kubernetes API to talk to"):
        k8s_client._configuration(KubernetesSettings(namespace="default"))
