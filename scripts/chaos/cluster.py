"""A LocalCluster whose etcd and members each live on a host of their own.

Every process runs in its host's network namespace (``ip netns exec``), so
each has a whole port space: the members all use the same ports, none of
them the demo's.  The machine's own network never sees them; the cluster is
observed from the client host (scripts/chaos/client.py writes what it sees to
``roles.json``), not from here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from localcluster import ROOT, LocalCluster, Node

from chaos.netns import SUBNET, Host, Topology

PG_PORT, API_PORT, GOSSIP_PORT, CONSOLE_PORT, ETCD_PORT = 6432, 9008, 9100, 9200, 2379
MEMBERS = ("node1", "node2", "node3")

_REQUEST = """
import json, sys, urllib.error, urllib.request
url, method, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
data = None if body is None else json.dumps(body).encode()
headers = {"Content-Type": "application/json", "Authorization": sys.argv[4]}
req = urllib.request.Request(url, data=data, method=method, headers=headers)
try:
    with urllib.request.urlopen(req, timeout=30) as r:  # a switchover waits for its outcome
        code, raw = r.status, r.read()
except urllib.error.HTTPError as e:
    code, raw = e.code, e.read()
except OSError:
    code, raw = 0, b"null"
try:
    answer = json.loads(raw)
except ValueError:
    answer = raw.decode("utf-8", "replace")
print(json.dumps({"code": code, "body": answer}))
"""
"""Run on the client host by ChaosCluster.api: one request, its status and body as JSON."""


class ChaosCluster(LocalCluster):
    def __init__(self, base_dir: Path, topology: Topology, dynamic: dict[str, Any]) -> None:
        self.topology = topology
        count = len(MEMBERS)
        super().__init__(
            base_dir,
            scope="chaos",
            pg_ports=[PG_PORT] * count,
            api_ports=[API_PORT] * count,
            gossip_ports=[GOSSIP_PORT] * count,
            console_ports=[CONSOLE_PORT] * count,
            etcd_port=ETCD_PORT,
            dynamic=dynamic,
        )

    def host(self, node: Node) -> Host:
        return self.topology.hosts[node.name]

    def addr(self, node: Node) -> str:
        return self.host(node).addr

    @property
    def etcd_addr(self) -> str:
        return self.topology.hosts["etcd"].addr

    def launch(self, node: Node | None, argv: list[str]) -> list[str]:
        host = self.topology.hosts["etcd"] if node is None else self.host(node)
        return host.exec(*argv)

    def answers(self, url: str) -> bool:
        probe = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=1)"
        argv = self.topology.hosts["client"].exec(sys.executable, "-c", probe)
        return subprocess.run(argv, capture_output=True, check=False).returncode == 0

    def config_for(self, node: Node) -> dict[str, Any]:
        config = super().config_for(node)
        # The members and the client reach each other over the namespaces' subnet.
        config["postgresql"]["pg_hba"] = [
            f"host all all {SUBNET}.0/24 scram-sha-256",
            f"host replication replicator {SUBNET}.0/24 scram-sha-256",
        ]
        return config

    def in_client(self, *argv: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command on the client host (it reaches every member, and etcd)."""
        cmd = self.topology.hosts["client"].exec(*argv)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        pgactor = str(ROOT / ".venv" / "bin" / "pgactor")
        return self.in_client(pgactor, "ctl", "-c", str(self.ctl_path), *args)

    def api(self, node: Node, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One REST request to a member, from the client host: (status, JSON or None);
        status 0 when it did not answer."""
        url = f"http://{self.addr(node)}:{node.api_port}{path}"
        done = self.in_client(
            sys.executable, "-c", _REQUEST, url, method, json.dumps(body), self.auth_header()
        )
        try:
            answer = json.loads(done.stdout)
        except ValueError:
            return 0, None
        return int(answer["code"]), answer["body"]

    def config_seen(self, wanted: dict[str, Any]) -> bool:
        """Every member's GET /config shows these values."""
        for node in self.nodes:
            code, body = self.api(node, "GET", "/config")
            if code != 200 or any(body.get(k) != v for k, v in wanted.items()):
                return False
        return True

    def member_args(self) -> list[str]:
        """The client's --member arguments: name=host:pgport:api_url."""
        args = []
        for node in self.nodes:
            addr = self.addr(node)
            args += ["--member", f"{node.name}={addr}:{node.pg_port}:http://{addr}:{node.api_port}"]
        return args

    def roles(self) -> dict[str, str]:
        """What the client last saw (see client.py); empty when it has seen nothing yet."""
        try:
            snapshot = json.loads((self.base_dir / "client" / "roles.json").read_text())
        except (OSError, ValueError):
            return {}
        return dict(snapshot.get("roles", {}))
