"""A Kubernetes API server the demo did not start (``scripts/demo --k8s-api-url``).

The test API server the demo starts itself (tests/k8s_api_server.py) keeps
everything in memory and goes with the demo.  An external one -- a real
cluster's API, another emulator -- outlives it, so here the demo plays the
StatefulSet: it makes the namespace if the server has none of that name and
one Pod per member, and at stop it takes away what it made together with the
records pgactor wrote for the cluster (everything labelled
``cluster-name=<scope>``), so that the next start bootstraps afresh rather
than meeting an ``initialize`` key no data directory backs.  Before it makes
anything it refuses a namespace that already holds objects of that cluster:
they are someone else's, or a crashed run's, and are never deleted.

Access is the official client.  Without credentials the URL alone (an
emulator); with a bearer token, a CA file or unverified TLS the demo writes a
kubeconfig (mode 0600) that both it and the nodes read, so nodes and demo
authenticate the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

if TYPE_CHECKING:  # the client is imported when used: the etcd demo never loads it
    from kubernetes.client import CoreV1Api

TOKEN_ENV = "PGACTOR_DEMO_K8S_TOKEN"
"""A bearer token for the external API server (or ``--k8s-token-file``)."""
SCOPE_LABEL = "cluster-name"  # pgactor's default scope_label: every object it makes has it
KINDS = ("endpoints", "config_map", "service")  # what pgactor makes besides the Pods
_PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
_NOT_FOUND, _METHOD_NOT_ALLOWED, _CONFLICT, _FORBIDDEN = 404, 405, 409, 403


class ExternalApiError(RuntimeError):
    """The external API server refused what the demo needs there; nothing was left made."""


@dataclass(frozen=True)
class ExternalApi:
    """Where the API server is and how to authenticate to it."""

    url: str
    token_file: str | None = None
    token: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    insecure: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--k8s-api-url must be an http:// or https:// URL, not {self.url!r}")
        for option, path in (
            ("--k8s-token-file", self.token_file),
            ("--k8s-ca-file", self.ca_file),
        ):
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{option}: no such file: {path}")

    @property
    def needs_kubeconfig(self) -> bool:
        """Whether nodes need more than the URL (then they read a kubeconfig)."""
        return bool(self.token_file or self.token or self.ca_file or self.insecure)

    def kubeconfig(self) -> dict[str, Any]:
        cluster: dict[str, Any] = {"server": self.url}
        if self.ca_file:
            cluster["certificate-authority"] = str(Path(self.ca_file).resolve())
        if self.insecure:
            cluster["insecure-skip-tls-verify"] = True
        user: dict[str, Any] = {}
        # Copied, not named as tokenFile: the client would send a file's final newline
        # in the header, which http.client refuses.
        token = Path(self.token_file).read_text().strip() if self.token_file else self.token
        if token:
            user["token"] = token.strip()
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "demo", "cluster": cluster}],
            "users": [{"name": "demo", "user": user}],
            "contexts": [{"name": "demo", "context": {"cluster": "demo", "user": "demo"}}],
            "current-context": "demo",
        }

    def write_kubeconfig(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:  # it may hold the token
            fh.write(yaml.safe_dump(self.kubeconfig(), sort_keys=False))
        os.chmod(path, 0o600)


def core_api(url: str, kubeconfig: str | None) -> CoreV1Api:
    """A client for `url`, authenticated as `kubeconfig` says when there is one."""
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    configuration = k8s.Configuration(host=url)
    if kubeconfig:
        k8s_config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    return k8s.CoreV1Api(k8s.ApiClient(configuration))


@dataclass
class Made:
    """What the demo made on the external server: what ``remove`` takes away."""

    url: str
    namespace: str
    scope: str
    kubeconfig: str | None
    pods: list[str] = field(default_factory=list)
    namespace_created: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Made:
        return cls(**data)


def pod(name: str, scope: str) -> dict[str, Any]:
    """A member's Pod as the StatefulSet would make it, but one no node ever runs: a
    scheduling gate holds it (the agent runs here, not in it).  ``status.podIP`` only
    an emulator keeps; a real API server ignores status on create."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {SCOPE_LABEL: scope}},
        "spec": {
            "schedulingGates": [{"name": "pgactor.demo/agent-runs-outside"}],
            "containers": [{"name": "pgactor", "image": _PAUSE_IMAGE}],
        },
        "status": {"phase": "Running", "podIP": "127.0.0.1"},
    }


def prepare(api: CoreV1Api, made: Made, members: list[str]) -> None:
    """The namespace (if missing) and the members' Pods, recorded in `made` as they are
    made; on a failure what was made is removed again and ExternalApiError raised."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    ns, where = made.namespace, f"namespace {made.namespace} on {made.url}"
    try:
        leftovers = list(_labelled(api, made))
    except (ApiException, HTTPError) as e:
        raise ExternalApiError(f"cannot list the objects in {where}: {_why(e)}") from e
    taken = [m for m in members if _pod_exists(api, ns, m)]
    if leftovers or taken:
        names = [f"{kind} {name}" for kind, name in leftovers] + [f"pod {m}" for m in taken]
        raise ExternalApiError(
            f"{where} already holds {', '.join(names)}: another cluster's, or one a demo "
            f"left; pick another --k8s-namespace or delete them ({SCOPE_LABEL}={made.scope})"
        )
    try:
        made.namespace_created = _ensure_namespace(api, ns)
        for member in members:
            api.create_namespaced_pod(ns, pod(member, made.scope))
            made.pods.append(member)
    except (ApiException, HTTPError) as e:
        remove(api, made)
        raise ExternalApiError(f"cannot create the members' Pods in {where}: {_why(e)}") from e


def remove(api: CoreV1Api, made: Made) -> list[str]:
    """Delete the Pods the demo made and what pgactor wrote for the cluster, then the
    namespace if the demo made it.  Returns what could not be deleted (and why)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    failed: list[str] = []
    targets = [("pod", name) for name in made.pods]
    try:
        targets += list(_labelled(api, made, kinds=KINDS))
    except ApiException as e:  # listing refused: the Pods still go
        failed.append(f"pgactor's objects ({SCOPE_LABEL}={made.scope}): {_why(e)}")
    except HTTPError as e:
        return [f"the API server: {_why(e)}"]
    if made.namespace_created:
        targets.append(("namespace", made.namespace))
    for kind, name in targets:
        try:
            if kind == "namespace":
                api.delete_namespace(name)
            else:
                getattr(api, f"delete_namespaced_{kind}")(name, made.namespace)
        except ApiException as e:
            if e.status != _NOT_FOUND:
                failed.append(f"{kind} {name}: {_why(e)}")
        except HTTPError as e:
            failed.append(f"{kind} {name}: {_why(e)}")
    return failed


def _labelled(
    api: CoreV1Api, made: Made, kinds: tuple[str, ...] = ("pod", *KINDS)
) -> Iterator[tuple[str, str]]:
    selector = f"{SCOPE_LABEL}={made.scope}"
    for kind in kinds:
        listing = getattr(api, f"list_namespaced_{kind}")(made.namespace, label_selector=selector)
        for item in listing.items:
            yield kind, item.metadata.name


def _pod_exists(api: CoreV1Api, namespace: str, name: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        api.read_namespaced_pod(name, namespace)
    except ApiException as e:
        if e.status == _NOT_FOUND:
            return False
        raise ExternalApiError(f"cannot read pod {name}: {_why(e)}") from e
    return True


def _ensure_namespace(api: CoreV1Api, namespace: str) -> bool:
    """Make the namespace when the server has none of that name; True if made here.

    A server without Namespace objects (the test server, some emulators: their
    namespaces are implicit) answers 404 or 405 to both the read and the create.
    A user confined to a namespace may not read it (403): it exists, or the Pods'
    create says clearly that it does not.
    """
    from kubernetes.client.exceptions import ApiException

    try:
        api.read_namespace(namespace)
        return False
    except ApiException as e:
        if e.status == _FORBIDDEN:
            return False
        if e.status != _NOT_FOUND:
            raise
    try:
        api.create_namespace({"metadata": {"name": namespace}})
    except ApiException as e:
        if e.status in (_NOT_FOUND, _METHOD_NOT_ALLOWED, _CONFLICT):
            return False
        raise
    return True


def _why(e: Exception) -> str:
    """The API server's own message (its Status object), else the HTTP status; for a
    server that did not answer, why."""
    status = getattr(e, "status", None)
    if status is None:
        return f"no answer ({e})"
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        message = json.loads(getattr(e, "body", None) or "").get("message")
        if message:
            return f"{status} {message}"
    return f"{status} {getattr(e, 'reason', '')}"
