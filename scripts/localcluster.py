"""A local pgactor cluster on loopback: etcd plus N nodes, for the demo and the tests.

Every process it starts is remembered by PID and stopped by PID.  Ports come
from the caller (the demo's defaults) or from the OS (tests), so a test run
and a running demo never collide.

Each node also gossips (CURVE, keys made under ``<base>/curve``) and serves
the admin console; ``<base>/ctl.yaml`` tells ``pgactor ctl`` and ``pgactor
console`` where the consoles are and which client key to use.

With ``dcs="kubernetes"`` the DCS is the Kubernetes API test server
(tests/k8s_api_server.py) instead of etcd, started as a process on a free
port.  The cluster then plays the StatefulSet: it creates each member's Pod
(labelled with the scope, ``status.podIP`` 127.0.0.1) before the node starts,
and starts each node with ``POD_NAME``, ``POD_IP`` and ``POD_NAMESPACE`` in its
environment, as the downward API gives them in a pod.  With ``k8s_external`` set
(``scripts/demo --k8s-api-url``) it starts no server and plays the StatefulSet on
that one instead, taking away at stop what it made there (see localk8s).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from freeport import free_port
from localprocs import (
    alive,
    current_postmaster,
    fences_of,
    kill_group,
    stop_pid,
)

if TYPE_CHECKING:  # imported when used: etcd clusters never load the kubernetes client
    from localk8s import ExternalApi, Made

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pgactor-demo"
API_USER = "admin"
"""The REST API's user for actions (switchover, restart, config edits): actions need
credentials by default, so every cluster gets its own password (API_PASSWORD_FILE)."""
API_PASSWORD_FILE = "api-password"


def wait_for(predicate: Any, timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


@dataclass
class Node:
    name: str
    pg_port: int
    api_port: int
    data_dir: Path
    config_path: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    gossip_port: int = 0
    console_port: int = 0
    groups: list[int] = field(default_factory=list)
    """Process groups of every agent started (each gets its own session): the agent,
    its fence process, whatever else it started there."""

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def postmaster_pid(self) -> int | None:
        """The postmaster serving this node's data directory now (see current_postmaster)."""
        return current_postmaster(self.data_dir)


@dataclass
class LocalCluster:
    base_dir: Path
    scope: str = "demo"
    pg_ports: list[int] = field(default_factory=list)
    api_ports: list[int] = field(default_factory=list)
    dynamic: dict[str, Any] = field(default_factory=dict)
    gossip_ports: list[int] = field(default_factory=list)
    """Empty: free ports."""
    console_ports: list[int] = field(default_factory=list)
    """Empty: free ports."""
    etcd_port: int = 0
    nodes: list[Node] = field(default_factory=list)
    etcd: subprocess.Popen[bytes] | None = None
    dcs: str = "etcd"
    """"etcd" or "kubernetes" (the Kubernetes API test server)."""
    k8s_namespace: str = "default"
    k8s_api_port: int = 0
    """The test API server's port; 0: a free one."""
    k8s_api: subprocess.Popen[bytes] | None = None
    k8s_external: ExternalApi | None = None
    """An API server this cluster did not start: none is started, the Pods (and the
    namespace) are made there and removed at stop, as :attr:`k8s_made` records."""
    k8s_made: Made | None = None
    k8s_use_endpoints: bool = True
    """False: the lock and records in ConfigMaps (label-routed mode)."""

    def __post_init__(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base_dir, 0o755)  # the postgres OS user must reach its data dir
        count = len(self.pg_ports)
        self.gossip_ports = self.gossip_ports or [free_port() for _ in range(count)]
        self.console_ports = self.console_ports or [free_port() for _ in range(count)]
        ports = (self.pg_ports, self.api_ports, self.gossip_ports, self.console_ports)
        for i, (pg, api, gossip, console) in enumerate(zip(*ports, strict=True), 1):
            home = self.base_dir / f"node{i}"
            home.mkdir(exist_ok=True)
            os.chmod(home, 0o755)
            self.nodes.append(
                Node(
                    f"node{i}",
                    pg,
                    api,
                    home / "data",
                    home / "pgactor.yaml",
                    home / "pgactor.log",
                    gossip_port=gossip,
                    console_port=console,
                )
            )

    # -- etcd ---------------------------------------------------------------------

    def start_etcd(self) -> None:
        self.etcd_port = self.etcd_port or free_port()
        peer = free_port()
        data = self.base_dir / "etcd"
        url = f"http://{self.etcd_addr}:{self.etcd_port}"
        peer_url = f"http://{self.etcd_addr}:{peer}"
        log = open(self.base_dir / "etcd.log", "ab")  # noqa: SIM115 - lives with the process
        self.etcd = subprocess.Popen(
            self.launch(
                None,
                [
                    "etcd",
                    "--name",
                    "demo",
                    "--data-dir",
                    str(data),
                    "--listen-client-urls",
                    url,
                    "--advertise-client-urls",
                    url,
                    "--listen-peer-urls",
                    peer_url,
                    "--initial-advertise-peer-urls",
                    peer_url,
                    "--initial-cluster",
                    f"demo={peer_url}",
                ],
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: self.answers(f"{url}/health"), 30, "etcd to answer")

    # -- the Kubernetes API test server (dcs="kubernetes") ---------------------------

    @property
    def k8s_api_url(self) -> str:
        if self.k8s_external is not None:
            return self.k8s_external.url
        return f"http://127.0.0.1:{self.k8s_api_port}"

    def start_k8s_api(self) -> None:
        """The test API server as a process, then the members' Pods, as a StatefulSet makes them."""
        log_path = self.base_dir / "k8s-api.log"
        log_path.unlink(missing_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115 - lives with the process
        self.k8s_api = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests" / "k8s_api_server.py"),
                "--port",
                str(self.k8s_api_port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = wait_for(lambda: _listening_url(log_path, self.k8s_api), 30, "the k8s API server")
        self.k8s_api_port = int(url.rsplit(":", 1)[1])
        for node in self.nodes:
            self.create_pod(node)
        # From here on its request log (GET /_test/requests) shows what pgactor asked.
        _delete(f"{self.k8s_api_url}/_test/requests")

    def create_pod(self, node: Node) -> None:
        """The member's Pod (the backend patches its own Pod; it must exist first)."""
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": node.name, "labels": {"cluster-name": self.scope}},
            "spec": {"containers": [{"name": "pgactor", "image": "pgactor"}]},
            "status": {"phase": "Running", "podIP": "127.0.0.1"},
        }
        req = urllib.request.Request(
            f"{self.k8s_api_url}/api/v1/namespaces/{self.k8s_namespace}/pods",
            data=json.dumps(pod).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            urllib.request.urlopen(req, timeout=5).close()
        except urllib.error.HTTPError as e:
            if e.code != 409:  # already there
                raise

    @property
    def kubeconfig_path(self) -> Path | None:
        """The kubeconfig an external API server's credentials need (nodes read it)."""
        if self.k8s_external is None or not self.k8s_external.needs_kubeconfig:
            return None
        return self.base_dir / "kubeconfig"

    def use_external_k8s_api(self) -> None:
        """Plays the StatefulSet on an API server someone else runs (see localk8s)."""
        from localk8s import Made, core_api, prepare

        kubeconfig = self.kubeconfig_path
        if self.k8s_external is not None and kubeconfig is not None:
            self.k8s_external.write_kubeconfig(kubeconfig)
        made = Made(self.k8s_api_url, self.k8s_namespace, self.scope, _str(kubeconfig))
        prepare(core_api(made.url, made.kubeconfig), made, [n.name for n in self.nodes])
        self.k8s_made = made

    def remove_k8s_objects(self) -> None:
        """What the cluster made on an external API server (nodes stopped first)."""
        made, self.k8s_made = self.k8s_made, None
        if made is not None:
            from localk8s import core_api, remove

            for failure in remove(core_api(made.url, made.kubeconfig), made):
                print(f"not removed from {made.url}: {failure}")

    def dcs_config(self) -> dict[str, Any]:
        """The node config's DCS section; namespace and pod_ip come from POD_* (see node_env)."""
        if self.dcs == "kubernetes":
            # With credentials the nodes find the server in their KUBECONFIG instead.
            kubernetes: dict[str, Any] = (
                {} if self.kubeconfig_path else {"api_url": self.k8s_api_url}
            )
            if not self.k8s_use_endpoints:
                kubernetes["use_endpoints"] = False
            return {"kubernetes": kubernetes}
        return {"etcd3": {"hosts": [f"{self.etcd_addr}:{self.etcd_port}"]}}

    def node_env(self, node: Node) -> dict[str, str]:
        """Ours, with the image's MALLOC_ARENA_MAX (k8s/Dockerfile), and for Kubernetes
        what a pod's downward API gives the node."""
        env = {"MALLOC_ARENA_MAX": "2", **os.environ}
        if self.dcs != "kubernetes":
            return env
        env.update({"POD_NAME": node.name, "POD_IP": "127.0.0.1"})
        env["POD_NAMESPACE"] = self.k8s_namespace
        if self.kubeconfig_path is not None:
            from localk8s import TOKEN_ENV

            env["KUBECONFIG"] = str(self.kubeconfig_path)
            # pgactor tries the in-cluster config first: not when the demo runs in a pod
            for name in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", TOKEN_ENV):
                env.pop(name, None)
        return env

    def describe_dcs(self) -> str:
        if self.k8s_external is not None:
            return f"Kubernetes API on {self.k8s_api_url} (namespace {self.k8s_namespace})"
        if self.dcs == "kubernetes":
            return (
                f"Kubernetes API test server on {self.k8s_api_url} (namespace {self.k8s_namespace})"
            )
        return f"etcd on {self.etcd_addr}:{self.etcd_port}"

    # -- nodes ----------------------------------------------------------------------

    @property
    def keys_dir(self) -> Path:
        return self.base_dir / "curve"

    @property
    def api_password_path(self) -> Path:
        return self.base_dir / API_PASSWORD_FILE

    @property
    def api_password(self) -> str:
        """This cluster's REST password: made once (mode 0600), kept with --keep."""
        path = self.api_password_path
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(18) + "\n")
        return path.read_text().strip()

    def auth_header(self) -> str:
        token = base64.b64encode(f"{API_USER}:{self.api_password}".encode()).decode()
        return f"Basic {token}"

    @property
    def ctl_path(self) -> Path:
        return self.base_dir / "ctl.yaml"

    def write_configs(self) -> None:
        from actors.runtime.zmq_io import generate_keys  # the venv's pgactor

        if not (self.keys_dir / "server.key_secret").exists():
            generate_keys(self.keys_dir, ["admin"])
        _private(self.keys_dir)
        for node in self.nodes:  # they hold passwords: readable by their owner only
            _write_private(node.config_path, yaml.safe_dump(self.config_for(node), sort_keys=False))
        self.write_ctl_config()

    def write_ctl_config(self) -> None:
        """The file `pgactor ctl` and `pgactor console` read: consoles and the client key."""
        ctl = {
            "scope": self.scope,
            "console": [f"{self.addr(n)}:{n.console_port}" for n in self.nodes],
            "server_key": str(self.keys_dir / "server.key"),
            "client_key": str(self.keys_dir / "admin.key_secret"),
            "timeout": 5,
        }
        _write_private(
            self.ctl_path,
            "# written by scripts/localcluster.py for pgactor ctl / pgactor console\n"
            + yaml.safe_dump(ctl, sort_keys=False),
        )

    def addr(self, node: Node) -> str:
        """The address a node listens on (a namespace's own in the chaos suite)."""
        return "127.0.0.1"

    @property
    def etcd_addr(self) -> str:
        return "127.0.0.1"

    def answers(self, url: str) -> bool:
        """Whether a GET of `url` succeeds from where this cluster is observed."""
        return _http_ok(url)

    def launch(self, node: Node | None, argv: list[str]) -> list[str]:
        """The argv that runs a node's (or, for None, etcd's) process where it lives."""
        return argv

    @property
    def bootstrap_dcs(self) -> dict[str, Any]:
        """The cluster-wide config a new cluster starts with (settings that must agree
        on every member, max_connections among them, belong here, not to a node)."""
        return {
            "ttl": 10,
            "loop_wait": 2,
            "retry_timeout": 3,
            "postgresql": {"parameters": {"max_connections": "50"}},
        }

    def config_for(self, node: Node) -> dict[str, Any]:
        me = self.addr(node)
        auth = {
            "superuser": {"username": "postgres", "password": PASSWORD},
            "replication": {"username": "replicator", "password": PASSWORD},
            "rewind": {"username": "rewinder", "password": PASSWORD},
        }
        return {
            "scope": self.scope,
            "name": node.name,
            "namespace": "/service",
            "restapi": {
                "listen": f"{me}:{node.api_port}",
                "connect_address": f"{me}:{node.api_port}",
                "authentication": {"username": API_USER, "password": self.api_password},
            },
            **self.dcs_config(),
            "bootstrap": {"dcs": {**self.bootstrap_dcs, **self.dynamic}},
            "postgresql": {
                "data_dir": str(node.data_dir),
                "listen": f"{me}:{node.pg_port}",
                "connect_address": f"{me}:{node.pg_port}",
                "authentication": auth,
                "parameters": {"shared_buffers": "32MB"},
            },
            "gossip": {
                "listen": f"{me}:{node.gossip_port}",
                "connect_address": f"{me}:{node.gossip_port}",
                "peers": [f"{self.addr(n)}:{n.gossip_port}" for n in self.nodes if n is not node],
                "heartbeat": 1,
                "curve_keys_dir": str(self.keys_dir),
            },
            "console": {
                "listen": f"{me}:{node.console_port}",
                "connect_address": f"{me}:{node.console_port}",
            },
        }

    def start_node(self, node: Node) -> None:
        log = open(node.log_path, "ab")  # noqa: SIM115 - lives with the process
        node.proc = subprocess.Popen(
            self.launch(
                node,
                [
                    str(ROOT / ".venv" / "bin" / "pgactor"),
                    "node",
                    "-c",
                    str(node.config_path),
                    "--log-level",
                    os.environ.get("DEMO_LOG_LEVEL", "INFO"),
                ],
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.base_dir,
            env=self.node_env(node),
        )
        node.groups.append(node.proc.pid)

    def start(self) -> None:
        if self.dcs == "kubernetes" and self.k8s_external is not None:
            self.use_external_k8s_api()
        elif self.dcs == "kubernetes":
            self.start_k8s_api()
        else:
            self.start_etcd()
        self.write_configs()
        for node in self.nodes:
            self.start_node(node)

    def stop_node(self, node: Node, sig: int = signal.SIGTERM) -> None:
        self.stop_nodes([node], sig)

    def stop_nodes(self, nodes: list[Node], sig: int = signal.SIGTERM) -> None:
        """Signal every node's agent at once, then wait for each; then stop (fast) a
        postmaster an agent left running."""
        running = [n for n in nodes if n.proc is not None]
        for node in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.proc.pid, sig)  # type: ignore[union-attr]
        for node in running:
            assert node.proc is not None
            if not stop_pid(node.proc.pid, sig, timeout_s=60):
                print(f"{node.name}'s agent ignored {sig} for 60 s: killed; see {node.log_path}")
            node.proc.wait()
            node.proc = None
        if sig == signal.SIGTERM:
            for node in nodes:
                pm = node.postmaster_pid()
                if pm is not None:
                    stop_pid(pm, signal.SIGINT, timeout_s=30)

    def kill_node(self, node: Node) -> None:
        """kill -9 of the agent and its postmaster together: a node's sudden death
        (its fence process with it, as a machine's death takes every process: the
        fence has a session of its own, so it is found by what it guards)."""
        pm = node.postmaster_pid()
        if node.proc is not None:
            kill_group(node.proc.pid)
            node.proc.wait()
            node.proc = None
        for fence in fences_of(node.data_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(fence, signal.SIGKILL)
        if pm is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pm, signal.SIGKILL)
            wait_for(lambda: not alive(pm), 10, "postmaster to die")

    def stop(self) -> None:
        self.resume_all()  # a test may have frozen one; a stopped process ignores SIGTERM
        roles = self.roles() if any(n.proc for n in self.nodes) else {}
        for group in safe_stop_order(self.nodes, roles):
            with contextlib.suppress(Exception):
                self.stop_nodes(group)
        for node in self.nodes:  # a postmaster left by a killed agent
            pm = node.postmaster_pid()
            if pm is not None:
                stop_pid(pm, signal.SIGQUIT, timeout_s=10)
        for node in self.nodes:  # a killed agent's fence, armed still
            for group in node.groups:
                kill_group(group)
            for fence in fences_of(node.data_dir):
                stop_pid(fence, signal.SIGKILL, timeout_s=5)
        if self.etcd is not None:
            stop_pid(self.etcd.pid, signal.SIGTERM, timeout_s=10)
            self.etcd.wait()
            self.etcd = None
        if self.k8s_api is not None:
            stop_pid(self.k8s_api.pid, signal.SIGTERM, timeout_s=10)
            self.k8s_api.wait()
            self.k8s_api = None
        self.remove_k8s_objects()

    def discard(self) -> None:
        """Tear down at once, for a cluster whose data goes with it (a test's end):
        SIGKILL each agent's group and fence, an immediate stop (SIGQUIT) of each
        postmaster, all at once rather than in the safe order :meth:`stop` keeps."""
        self.resume_all()
        postmasters = [pm for pm in (n.postmaster_pid() for n in self.nodes) if pm is not None]
        for node in self.nodes:
            if node.proc is not None:
                kill_group(node.proc.pid)
                node.proc.wait()
                node.proc = None
            for group in node.groups:
                kill_group(group)
            for fence in fences_of(node.data_dir):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(fence, signal.SIGKILL)
        for pm in postmasters:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pm, signal.SIGQUIT)
        for pm in postmasters:
            stop_pid(pm, signal.SIGQUIT, timeout_s=10)
        self.stop()  # what is left: etcd, the API server, a postmaster started meanwhile

    def resume_all(self) -> None:
        """SIGCONT to every agent's process group and to etcd: whatever was frozen runs."""
        for node in self.nodes:
            for group in node.groups:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGCONT)
        for proc in (self.etcd, self.k8s_api):
            if proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGCONT)

    def remove_data(self) -> None:
        from actors.postgres.oscommand import run_dir_for

        for node in self.nodes:  # the socket dir each server had beside its data dir
            shutil.rmtree(run_dir_for(str(node.data_dir)), ignore_errors=True)
        shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- observing ------------------------------------------------------------------

    def cluster_view(self, node: Node) -> dict[str, Any] | None:
        """The node's GET /cluster (members with roles, as Patroni shows them)."""
        return self._get_json(node, "/cluster")

    def status(self, node: Node) -> dict[str, Any] | None:
        return self._get_json(node, "/patroni")

    def _get_json(self, node: Node, path: str) -> dict[str, Any] | None:
        body = self.get_json(node, path)
        return dict(body) if isinstance(body, dict) else None

    def get_json(self, node: Node, path: str) -> Any:
        """A GET's JSON body, an error's too; None when there is no JSON answer."""
        try:
            with urllib.request.urlopen(f"{node.api}{path}", timeout=2) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            with contextlib.suppress(Exception):
                return json.load(e)
            return None
        except (OSError, ValueError):
            return None

    def roles(self) -> dict[str, str]:
        """name -> 'primary' | 'replica' | 'streaming' | state, for running nodes."""
        out = {}
        for node in self.nodes:
            st = self.status(node)
            if st is None:
                out[node.name] = "down"
                continue
            role, state = st.get("role", "?"), st.get("state", "?")
            if state != "running":
                out[node.name] = state
            elif role == "primary":
                out[node.name] = "primary"
            else:
                out[node.name] = (
                    "streaming" if st.get("replication_state") == "streaming" else "replica"
                )
        return out

    def healthy(self, expect: int | None = None) -> str | None:
        """The primary's name when one primary leads and all others stream."""
        roles = self.roles()
        primaries = [n for n, r in roles.items() if r == "primary"]
        want = expect if expect is not None else len(self.nodes)
        streaming = [n for n, r in roles.items() if r == "streaming"]
        if len(primaries) == 1 and len(streaming) == want - 1:
            return primaries[0]
        return None

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def dsn(self) -> str:
        hosts = ",".join("127.0.0.1" for _ in self.nodes)
        ports = ",".join(str(n.pg_port) for n in self.nodes)
        return (
            f"postgresql://postgres@{hosts.split(',')[0]}:{self.nodes[0].pg_port}"
            if len(self.nodes) == 1
            else f"host={hosts} port={ports} user=postgres dbname=postgres "
            "target_session_attrs=read-write"
        )

    def post(self, node: Node, path: str, body: dict[str, Any]) -> tuple[int, str]:
        return self.request(node, "POST", path, body)

    def request(
        self, node: Node, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, str]:
        """One REST request with this cluster's credentials: (status, body)."""
        req = urllib.request.Request(
            f"{node.api}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": self.auth_header()},
            method=method,
        )
        try:
            # a switchover is answered once it happened: up to 2 x max(10 s, loop_wait)
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def _write_private(path: Path, text: str) -> None:
    """Write `text` readable and writable by its owner only (it may hold passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)  # an older file may have been made with wider modes


def _private(directory: Path) -> None:
    """A key directory: the owner's only (secret keys inside it, 0600 each)."""
    os.chmod(directory, 0o700)
    for entry in directory.iterdir():
        os.chmod(entry, 0o600)


def _listening_url(log_path: Path, proc: subprocess.Popen[bytes] | None) -> str | None:
    """The URL the test API server printed once it listens (it exits if it cannot)."""
    if proc is not None and proc.poll() is not None:
        raise RuntimeError(f"the k8s API test server exited; see {log_path}")
    with contextlib.suppress(OSError):
        for line in log_path.read_text().splitlines():
            if line.startswith("listening on "):
                return line.removeprefix("listening on ").strip()
    return None


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _delete(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=5).close()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return bool(r.status == 200)
    except (OSError, ValueError):
        return False


def safe_stop_order(nodes: list[Node], roles: dict[str, str]) -> list[list[Node]]:
    """The groups to stop one after the other: the primary alone, then the rest together.

    Primary first loses nothing in asynchronous mode: a primary's clean (fast)
    shutdown waits until its WAL senders have sent everything, its shutdown
    checkpoint included, to the replicas still streaming, so every write it
    acknowledged is on them.  Replicas first would leave the primary alone
    acknowledging writes that only it has; the next start keeps them only if it
    elects that very member.  The replicas go together, right after: the one
    that takes over the released lock has little time to take writes, and what
    it does take its own clean shutdown sends to whoever still follows it.
    """
    first = [n for n in nodes if roles.get(n.name) == "primary"]
    rest = [n for n in nodes if n not in first]
    return [group for group in (first, rest) if group]


@contextlib.contextmanager
def running_cluster(base_dir: Path, **kwargs: Any) -> Iterator[LocalCluster]:
    cluster = LocalCluster(base_dir, **kwargs)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit("import this module; scripts/demo runs a cluster")
