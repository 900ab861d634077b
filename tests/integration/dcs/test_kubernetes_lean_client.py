"""The Kubernetes DCS loads only the parts of the official client it uses, and sends
through them the very requests the library's generated CoreV1Api sends.

``import kubernetes`` (and CoreV1Api with its pydantic models) cost an agent 43 MB
(issue 16): the backend loads the client's configuration, REST client and
exceptions alone (actors.leader_lock.k8s_rest).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from actors.leader_lock.k8s_client import MERGE_PATCH, OPERATIONS

if TYPE_CHECKING:
    from k8s_api_server import K8sApiServer

REPO = Path(__file__).resolve().parents[3]
NS = "default"

_CONNECT = """
import json, sys
from actors.leader_lock.k8s_client import K8sClient
from messages.config import KubernetesSettings
client = K8sClient(KubernetesSettings(api_url=sys.argv[1]), namespace="default", retry_timeout_s=3)
try:
    client.get("endpoints", "nothing", client.deadline())
except Exception as e:
    print(type(e).__name__, file=sys.stderr)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.fixture
def server() -> Iterator[K8sApiServer]:
    from k8s_api_server import K8sApiServer

    with K8sApiServer(port=0) as running:  # started on entering, stopped on leaving
        yield running


def _modules_of_a_backend_that_talked(url: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _CONNECT, url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stderr.strip() == "NotFound", done.stderr
    return set(json.loads(done.stdout))


def test_a_kubernetes_backend_loads_neither_core_v1_api_nor_pydantic_nor_the_kubeconfig_loader(
    server: K8sApiServer,
) -> None:
    loaded = _modules_of_a_backend_that_talked(server.url)
    assert "kubernetes.client.rest" in loaded  # it does use the official client
    heavy = {
        "kubernetes.client.api.core_v1_api",
        "kubernetes.client.api_client",
        "kubernetes.config.kube_config",
        "kubernetes.dynamic",
        "kubernetes.watch",
        "kubernetes.stream",
        "pydantic",
        "yaml",
        "requests",
        "oauthlib",
    }
    assert heavy & loaded == set()


def test_the_deferred_kubernetes_package_still_gives_all_of_itself_when_asked() -> None:
    code = (
        "import actors.leader_lock.k8s_rest, sys\n"
        "assert 'kubernetes.watch' not in sys.modules\n"
        "import kubernetes\n"
        "assert kubernetes.__version__ and kubernetes.watch.Watch and kubernetes.client.CoreV1Api\n"
        "from kubernetes import config\n"
        "assert config.load_kube_config and config.load_incluster_config\n"
        "from kubernetes.utils import create_from_yaml\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def _requests(server: K8sApiServer, send: Any) -> list[dict[str, str]]:
    server.clear_request_log()
    for resource, verb in sorted(OPERATIONS):
        kwargs: dict[str, Any] = {}
        if verb in ("get", "patch"):
            kwargs["name"] = f"x-{resource}"
        if verb in ("list", "watch"):
            kwargs["label_selector"] = "application=pgactor,cluster-name=a b"
        if verb == "watch":
            kwargs.update(
                watch=True, resource_version="1", allow_watch_bookmarks=True, timeout_seconds=1
            )
        if verb in ("create", "patch"):
            kwargs["body"] = {"metadata": {"name": f"x-{resource}", "annotations": {"a": "b"}}}
        if verb == "patch":
            kwargs["content_type"] = MERGE_PATCH
        send(resource, verb, kwargs)
    return [r.as_dict() for r in server.request_log]


def test_each_verb_sends_the_request_the_generated_client_sends(server: K8sApiServer) -> None:
    from kubernetes import client

    from actors.leader_lock.k8s_rest import ApiException, CoreV1

    generated = client.CoreV1Api(client.ApiClient(client.Configuration(host=server.url)))
    names = {
        "endpoints": "endpoints",
        "configmaps": "config_map",
        "pods": "pod",
        "services": "service",
    }
    verbs = {"get": "read", "list": "list", "watch": "list", "create": "create", "patch": "patch"}

    def by_library(resource: str, verb: str, kwargs: dict[str, Any]) -> None:
        method = getattr(generated, f"{verbs[verb]}_namespaced_{names[resource]}")
        if "content_type" in kwargs:
            kwargs["_content_type"] = kwargs.pop("content_type")
        with contextlib.suppress(ApiException):
            method(namespace=NS, **kwargs, _preload_content=False, _request_timeout=(3, 3))

    lean = CoreV1(client.Configuration(host=server.url))

    def by_lean(resource: str, verb: str, kwargs: dict[str, Any]) -> None:
        with contextlib.suppress(ApiException):
            lean.send(resource, verb, namespace=NS, **kwargs, timeout=(3, 3))

    expected = _requests(server, by_library)
    assert len(expected) == len(OPERATIONS)
    assert _requests(server, by_lean) == expected
