"""``scripts/demo --dcs kubernetes --k8s-api-url URL``: the demo on an API server it did
not start (a real cluster's, another emulator).

The Kubernetes API test server plays that server here, started by the test as a
process of its own, so the demo has nothing of it to stop.  The demo must make
the members' Pods there (pgactor patches its own Pod, which must exist), run a
healthy cluster on it, and at ``--stop`` remove what it made -- and the records
pgactor wrote, so that the next start bootstraps afresh -- leaving the server
running and anything not the demo's untouched.  Before it makes anything it
refuses a namespace already holding that cluster's objects.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from localcluster import free_port, wait_for  # type: ignore[import-not-found]
from localk8s import (  # type: ignore[import-not-found]
    ExternalApi,
    ExternalApiError,
    Made,
    core_api,
    prepare,
    remove,
)

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "tests" / "k8s_api_server.py"
SCOPE = "demo"  # the demo's scope
NAMESPACE = "pgactor-external"
MEMBERS = ["node1", "node2", "node3"]
LABELLED = f"labelSelector=cluster-name%3D{SCOPE}"
pg_needed = pytest.mark.skipif(
    shutil.which("pg_config") is None, reason="needs PostgreSQL 15 (scripts/setup installs it)"
)


@pytest.fixture
def external() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The test API server as a process the demo did not start, on a free port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once it listens; EOF if it exits
        assert line.startswith("listening on "), line
        yield proc, line.split()[-1]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def api_get(url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{url}{path}", timeout=5) as answer:
        return json.load(answer)


def names(url: str, kind: str, namespace: str = NAMESPACE) -> list[str]:
    listing = api_get(url, f"/api/v1/namespaces/{namespace}/{kind}?{LABELLED}")
    return sorted(item["metadata"]["name"] for item in listing["items"])


def post(url: str, kind: str, body: dict[str, Any], namespace: str = NAMESPACE) -> None:
    request = urllib.request.Request(
        f"{url}/api/v1/namespaces/{namespace}/{kind}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()


def role_labels(url: str) -> dict[str, str | None]:
    pods = api_get(url, f"/api/v1/namespaces/{NAMESPACE}/pods?{LABELLED}")["items"]
    return {p["metadata"]["name"]: p["metadata"]["labels"].get("role") for p in pods}


def demo(home: Path, *args: str, timeout_s: float = 240) -> subprocess.CompletedProcess[str]:
    """scripts/demo (its Python part: scripts/setup has run), HOME in the test's dir so
    the ~/.pgpass it writes is the test's."""
    env = {**os.environ, "HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "scripts" / "demo.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        cwd=ROOT,
        check=False,
    )


def ports() -> list[str]:
    return [",".join(str(free_port()) for _ in MEMBERS) for _ in range(4)]


# -- the demo, end to end ---------------------------------------------------------------


@pytest.mark.e2e
@pg_needed
def test_the_demo_runs_on_an_api_server_it_did_not_start_and_leaves_it_as_it_found_it(
    external: tuple[subprocess.Popen[str], str],
) -> None:
    server, url = external
    # Not under pytest's tmp_path: its parents are root's alone, and PostgreSQL runs
    # as the postgres user, which must reach its data directory.
    home = Path(tempfile.mkdtemp(prefix="pgactor-e2e-k8s-external-", dir="/tmp"))
    os.chmod(home, 0o755)
    base = home / "demo"
    token = home / "token"
    token.write_text("not-checked-by-the-test-server\n")
    post(url, "configmaps", {"metadata": {"name": "bystander", "labels": {"cluster-name": "x"}}})
    pg, api, gossip, console = ports()
    start = [
        *("--dir", str(base), "--pg-ports", pg, "--api-ports", api),
        *("--gossip-ports", gossip, "--console-ports", console),
        *("--dcs", "kubernetes", "--k8s-api-url", url, "--k8s-namespace", NAMESPACE),
        *("--k8s-token-file", str(token), "--k8s-configmaps", "--detach"),
    ]
    try:
        started = demo(home, *start)
        assert started.returncode == 0, started.stdout + started.stderr
        assert "cluster is healthy" in started.stdout  # one primary, two streaming

        # The nodes found the server only through the kubeconfig the demo wrote.
        kubeconfig = base / "kubeconfig"
        assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
        assert "token: not-checked-by-the-test-server\n" in kubeconfig.read_text()
        node_config = (base / "node1" / "pgactor.yaml").read_text()
        assert url not in node_config and "use_endpoints: false" in node_config

        assert names(url, "pods") == MEMBERS
        wait_for(
            lambda: sorted(role_labels(url).values()) == ["primary", "replica", "replica"],
            20,
            "the role labels: one primary, two replicas",
        )
        assert f"{SCOPE}-leader" in names(url, "configmaps")  # the lock, written there
        leader = api_get(url, f"/api/v1/namespaces/{NAMESPACE}/configmaps/{SCOPE}-leader")
        primary = next(n for n, r in role_labels(url).items() if r == "primary")
        assert leader["metadata"]["annotations"]["leader"] == primary

        stopped = demo(home, "--dir", str(base), "--stop", timeout_s=180)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert "removed the demo's objects" in stopped.stdout
        for kind in ("pods", "configmaps", "endpoints", "services"):
            assert names(url, kind) == [], kind
        assert not (base / "pids.json").exists()
        # The server is still there, and what was not the demo's is too.
        assert server.poll() is None
        bystander = api_get(url, f"/api/v1/namespaces/{NAMESPACE}/configmaps/bystander")
        assert bystander["metadata"]["labels"] == {"cluster-name": "x"}
    finally:
        if (base / "pids.json").exists():
            demo(home, "--dir", str(base), "--stop", timeout_s=180)
        if os.environ.get("PGACTOR_KEEP_TEST_DIR") != "1":
            shutil.rmtree(home, ignore_errors=True)


# -- what the demo makes and removes, without PostgreSQL ---------------------------------


def test_a_namespace_holding_the_clusters_objects_is_refused_and_left_alone(
    external: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    _, url = external
    post(
        url,
        "configmaps",
        {"metadata": {"name": f"{SCOPE}-config", "labels": {"cluster-name": SCOPE}}},
    )
    pg, api, gossip, console = ports()
    refused = demo(
        tmp_path,
        *("--dir", str(tmp_path / "demo"), "--pg-ports", pg, "--api-ports", api),
        *("--gossip-ports", gossip, "--console-ports", console),
        *("--dcs", "kubernetes", "--k8s-api-url", url, "--k8s-namespace", NAMESPACE),
        timeout_s=60,
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"already holds config_map {SCOPE}-config" in refused.stderr
    assert names(url, "pods") == []
    assert names(url, "configmaps") == [f"{SCOPE}-config"]  # not the demo's to delete
    assert not (tmp_path / "demo" / "node1" / "pgactor.log").exists()  # no node started


def test_prepare_makes_gated_pods_and_remove_takes_them_and_the_records_away(
    external: tuple[subprocess.Popen[str], str],
) -> None:
    _, url = external
    api = core_api(url, None)
    made = Made(url, NAMESPACE, SCOPE, None)
    prepare(api, made, MEMBERS)
    assert made.pods == MEMBERS
    assert not made.namespace_created  # the test server's namespaces are implicit
    pod = api_get(url, f"/api/v1/namespaces/{NAMESPACE}/pods/node1")
    assert pod["metadata"]["labels"] == {"cluster-name": SCOPE}
    assert pod["spec"]["schedulingGates"]  # a real scheduler never runs it
    # What pgactor writes for the cluster, and what is someone else's.
    for kind in ("configmaps", "endpoints", "services"):
        post(url, kind, {"metadata": {"name": f"{SCOPE}-x", "labels": {"cluster-name": SCOPE}}})
        post(url, kind, {"metadata": {"name": "other", "labels": {"cluster-name": "other"}}})
    with pytest.raises(ExternalApiError, match="already holds"):
        prepare(api, Made(url, NAMESPACE, SCOPE, None), MEMBERS)
    assert remove(api, made) == []
    for kind in ("pods", "configmaps", "endpoints", "services"):
        assert names(url, kind) == [], kind
        other = api_get(
            url, f"/api/v1/namespaces/{NAMESPACE}/{kind}?labelSelector=cluster-name%3Dother"
        )
        assert len(other["items"]) == (0 if kind == "pods" else 1), kind
    api.api_client.close()


def test_an_unreachable_api_server_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens
    api = core_api(url, None)
    api.api_client.configuration.retries = 0
    with pytest.raises(ExternalApiError, match=f"cannot list the objects in .* on {url}"):
        prepare(api, Made(url, NAMESPACE, SCOPE, None), MEMBERS)


def test_credentials_reach_the_client_through_the_kubeconfig(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("from-a-file\n")
    path = tmp_path / "kubeconfig"
    ExternalApi("https://127.0.0.1:6443", token_file=str(token), insecure=True).write_kubeconfig(
        path
    )
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    configuration = core_api("https://127.0.0.1:6443", str(path)).api_client.configuration
    assert configuration.host == "https://127.0.0.1:6443"
    assert configuration.auth_settings()["BearerToken"]["value"] == "Bearer from-a-file"
    assert configuration.verify_ssl is False
    ExternalApi("http://127.0.0.1:1", token="from-the-env").write_kubeconfig(path)
    configuration = core_api("http://127.0.0.1:1", str(path)).api_client.configuration
    assert configuration.auth_settings()["BearerToken"]["value"] == "Bearer from-the-env"
    for bad, why in (("ftp://x", "http:// or https://"), ("http://", "http:// or https://")):
        with pytest.raises(ValueError, match=why):
            ExternalApi(bad)
    with pytest.raises(ValueError, match="--k8s-token-file: no such file"):
        ExternalApi("http://x", token_file=str(tmp_path / "missing"))
