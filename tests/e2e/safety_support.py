"""What the safety tests watch a local cluster with, and how they act on it.

:class:`Watch` runs the chaos suite's client (scripts/chaos/client.py) beside a
:class:`LocalCluster`: it writes to every member straight (no routing), records
each acknowledged write with the member and timeline that took it, and samples
pg_is_in_recovery() on every member every 100 ms.  Its :meth:`Watch.verdict`
is the chaos checker's: no two members writable at one instant, no
acknowledged write missing from the final primary.

The rest are the operator's hands: ``pgactor ctl``, etcd's own keys (read
through its JSON gateway, not through pgactor), and freezing a process by PID.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from chaos.checker import (  # type: ignore[import-not-found]
    Death,
    Sample,
    Verdict,
    Write,
    load_samples,
    load_writes,
    unavailability,
    verdict,
)
from localcluster import (  # type: ignore[import-not-found]
    PASSWORD,
    ROOT,
    LocalCluster,
    Node,
    stop_pid,
    wait_for,
)

MakeCluster = Callable[[dict[str, object]], LocalCluster]
"""The make_cluster fixture: a started cluster with this dynamic config."""

CLIENT = ROOT / "scripts" / "chaos" / "client.py"
PGACTOR = ROOT / ".venv" / "bin" / "pgactor"


class Watch:
    """The chaos client writing to and probing every member of `cluster`."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.out = cluster.base_dir / "client"
        self.proc: subprocess.Popen[bytes] | None = None

    def member_args(self) -> list[str]:
        args = []
        for n in self.cluster.nodes:
            args += ["--member", f"{n.name}=127.0.0.1:{n.pg_port}:{n.api}"]
        return args

    def start(self) -> Watch:
        self.out.mkdir(exist_ok=True)
        argv = [sys.executable, str(CLIENT), "run", "--out", str(self.out), "--password", PASSWORD]
        log = open(self.out / "client.log", "ab")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            [*argv, *self.member_args()],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc.pid, signal.SIGTERM, timeout_s=10)
            self.proc.wait()
            self.proc = None

    def writes(self) -> list[Write]:
        path = self.out / "writes.jsonl"
        return load_writes(path) if path.exists() else []

    def samples(self) -> list[Sample]:
        return load_samples(self.out / "probes.jsonl")

    def acked_by(self, member: str, after: float = 0.0) -> list[Write]:
        return [w for w in self.writes() if w.member == member and w.acked > after]

    def wait_acks(self, member: str, count: int, after: float = 0.0, timeout_s: float = 30) -> None:
        wait_for(
            lambda: len(self.acked_by(member, after)) >= count,
            timeout_s,
            f"{count} writes acknowledged by {member}",
        )

    def ack_gap(self, start: float, end: float) -> float:
        """The longest stretch of [start, end] in which no member acknowledged a write."""
        return float(unavailability(self.writes(), start, end))

    def rows_on_primary(self, timeout_s: float = 30) -> set[int]:
        """Every row the primary holds, once one answers (the client's collect)."""
        argv = [sys.executable, str(CLIENT), "collect", "--password", PASSWORD]

        def rows() -> set[int] | None:
            done = subprocess.run(
                [*argv, *self.member_args()], capture_output=True, text=True, check=False
            )
            return set(json.loads(done.stdout)["rows"]) if done.returncode == 0 else None

        return set(wait_for(rows, timeout_s, "a primary to read the rows from", 0.5))

    def verdict(self, deaths: list[Death] | None = None) -> Verdict:
        """Stop writing, then judge; ``deaths`` None: no acknowledged write may be lost.

        A leader frozen past its ttl is a death (SAFETY.md rule 13): in async mode its
        fence's SIGKILL may drop a commit acknowledged but not streamed yet, excused only
        near that death and within maximum_lag_on_failover.  Two writers never are."""
        self.stop()
        return verdict(self.writes(), self.rows_on_primary(), self.samples(), deaths=deaths)


def assert_safe(v: Verdict, where: Path) -> None:
    """Never two writable members, nothing acknowledged lost; the history stays at `where`."""
    assert not v.split_brain, f"two writable primaries: {v.split_brain} (history in {where})"
    assert not v.lost, f"{len(v.lost)} acknowledged writes lost: {v.lost[:10]} (in {where})"
    assert v.acknowledged > 0, "the writers never got a write acknowledged"


# -- the operator's hands ----------------------------------------------------------


def ctl(
    cluster: LocalCluster, *args: str, timeout_s: float = 60, via: Node | None = None
) -> subprocess.CompletedProcess[str]:
    """`pgactor ctl` with the cluster's ctl file; `via`: through that member's console only."""
    path = cluster.ctl_path if via is None else _ctl_file_through(cluster, via)
    return subprocess.run(
        [str(PGACTOR), "ctl", "-c", str(path), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _ctl_file_through(cluster: LocalCluster, node: Node) -> Path:
    settings = yaml.safe_load(cluster.ctl_path.read_text())
    settings["console"] = [f"{cluster.addr(node)}:{node.console_port}"]
    path = cluster.base_dir / f"ctl-{node.name}.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    path.chmod(0o600)
    return path


def config_seen_everywhere(
    cluster: LocalCluster, wanted: dict[str, Any], nodes: list[Node] | None = None
) -> bool:
    """Every member's (or these members') GET /config shows these values."""
    for node in cluster.nodes if nodes is None else nodes:
        body = cluster.get_json(node, "/config")
        if not isinstance(body, dict) or any(body.get(k) != v for k, v in wanted.items()):
            return False
    return True


def patch_config(cluster: LocalCluster, node: Node, patch: dict[str, Any]) -> tuple[int, str]:
    """PATCH /config on one member's REST API, with the cluster's credentials."""
    return cluster.request(node, "PATCH", "/config", patch)


def leader_name(cluster: LocalCluster) -> str | None:
    """Whom the members' status names as the leader (None: nobody, or nobody answers)."""
    for node in cluster.nodes:
        view = cluster.cluster_view(node)
        if view is None:
            continue
        for member in view.get("members", []):
            if member.get("role") == "leader":
                return str(member["name"])
    return None


def primary(cluster: LocalCluster) -> str | None:
    return next((n for n, r in cluster.roles().items() if r == "primary"), None)


@contextlib.contextmanager
def frozen(pid: int, group: bool = False) -> Iterator[float]:
    """SIGSTOP one process (or its whole process group) until the block ends; yields
    when the freeze began.  SIGCONT always follows, whatever the block raised."""
    kill = os.killpg if group else os.kill
    kill(pid, signal.SIGSTOP)
    try:
        yield time.monotonic()
    finally:
        with contextlib.suppress(ProcessLookupError):
            kill(pid, signal.SIGCONT)


# -- etcd, read straight (its v3 JSON gateway) --------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def etcd_range(cluster: LocalCluster, key: str, prefix: bool = False) -> list[dict[str, Any]]:
    """The keys stored at `key` (or under it), as etcd's JSON gateway returns them."""
    body: dict[str, str] = {"key": _b64(key)}
    if prefix:
        body["range_end"] = _b64(key[:-1] + chr(ord(key[-1]) + 1))
    req = urllib.request.Request(
        f"http://{cluster.etcd_addr}:{cluster.etcd_port}/v3/kv/range",
        data=json.dumps(body).encode(),
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=2) as r:
        return list(json.load(r).get("kvs", []))


def scope_key(cluster: LocalCluster, *parts: str) -> str:
    return "/".join(["/service", cluster.scope, *parts])


def leader_revision(cluster: LocalCluster) -> int | None:
    """The leader key's mod_revision: it changes with every renewal."""
    kvs = etcd_range(cluster, scope_key(cluster, "leader"))
    return int(kvs[0]["mod_revision"]) if kvs else None


def member_keys(cluster: LocalCluster) -> set[str]:
    prefix = scope_key(cluster, "members", "")
    return {
        base64.b64decode(kv["key"]).decode().removeprefix(prefix)
        for kv in etcd_range(cluster, prefix, prefix=True)
    }


def wait_renewals(cluster: LocalCluster, count: int, timeout_s: float = 30) -> None:
    """Until the leader has renewed its lock `count` times from now."""
    seen: list[int | None] = [leader_revision(cluster)]

    def renewed() -> bool:
        rev = leader_revision(cluster)
        if rev is not None and rev != seen[-1]:
            seen.append(rev)
        return len(seen) > count

    wait_for(renewed, timeout_s, f"{count} renewals of the leader lock")


WatchOf = Callable[[LocalCluster], "Watch"]
HEALTHY_S = 60.0
"""From a heal to one primary and two streaming replicas."""
STABLE_S = 3.0
"""How long the same healthy picture must hold before a test trusts it."""


def healthy(cluster: LocalCluster, timeout_s: float = HEALTHY_S) -> Node:
    """One primary and two streaming replicas, the same for STABLE_S on end: right
    after a heal the members may still show what they were before it."""
    since: list[tuple[str, float]] = []

    def settled() -> str | None:
        name, now = cluster.healthy(), time.monotonic()
        if name is None or (since and since[0][0] != name):
            since.clear()
        if name is not None and not since:
            since.append((name, now))
        return name if since and now - since[0][1] >= STABLE_S else None

    name = wait_for(settled, timeout_s, "one primary and two streaming replicas, stable", 0.2)
    return cluster.node(name)


def watched(
    make_cluster: MakeCluster, watch_of: WatchOf, dynamic: dict[str, object]
) -> tuple[LocalCluster, Node, Watch]:
    """A healthy cluster, the client writing, and the primary acknowledging writes."""
    cluster = make_cluster(dynamic)
    leader = healthy(cluster, 90)
    watch = watch_of(cluster)
    watch.wait_acks(leader.name, 10)
    return cluster, leader, watch
