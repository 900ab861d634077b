"""Hosts of their own for the chaos suite: network namespaces on one bridge.

Each host (etcd, the three members, the client that writes and observes) is a
network namespace with its own loopback and one veth whose peer sits on a
bridge in a hub namespace, so nothing touches the machine's own network: the
addresses (10.77.0.0/24) exist only inside these namespaces.  Faults are
routing changes inside them, which need neither iptables nor kernel modules:

- ``cut(a, b)``: blackhole routes both ways -- a and b no longer reach each
  other, everyone else still reaches both;
- ``isolate(h)``: the host's link down -- it reaches no one.

``tc netem`` (loss, delay) needs the sch_netem kernel module; ``netem_available``
says whether this kernel has it (``shape`` sets any other qdisc, such as tbf).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass, field

SUBNET = "10.77.0"
IFACE = "eth0"


@dataclass(frozen=True)
class Host:
    name: str
    ns: str
    addr: str

    def exec(self, *argv: str) -> list[str]:
        """An argv that runs `argv` inside this host's namespace."""
        return ["ip", "netns", "exec", self.ns, *argv]


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


@dataclass
class Topology:
    """Namespaces `<tag>-<name>` for each host name, and `<tag>-hub` with the bridge."""

    tag: str
    names: list[str]
    hosts: dict[str, Host] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, name in enumerate(self.names):
            self.hosts[name] = Host(name, f"{self.tag}-{name}", f"{SUBNET}.{10 + i}")

    @property
    def hub(self) -> str:
        return f"{self.tag}-hub"

    def create(self) -> None:
        try:
            ip("netns", "add", self.hub)
            ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
            ip("-n", self.hub, "link", "set", "br0", "up")
            for i, host in enumerate(self.hosts.values()):
                self._attach(host, f"p{i}")
        except BaseException:  # a failure, or SIGTERM meanwhile (run.py raises SystemExit)
            self.destroy()
            raise

    def _attach(self, host: Host, port: str) -> None:
        ip("netns", "add", host.ns)
        ip("-n", host.ns, "link", "set", "lo", "up")
        ip(
            "-n",
            host.ns,
            "link",
            "add",
            IFACE,
            "type",
            "veth",
            "peer",
            "name",
            port,
            "netns",
            self.hub,
        )
        ip("-n", host.ns, "addr", "add", f"{host.addr}/24", "dev", IFACE)
        ip("-n", host.ns, "link", "set", IFACE, "up")
        ip("-n", self.hub, "link", "set", port, "master", "br0")
        ip("-n", self.hub, "link", "set", port, "up")

    def destroy(self) -> None:
        """Delete every namespace (their veths go with them); safe to call twice."""
        for ns in [h.ns for h in self.hosts.values()] + [self.hub]:
            ip("netns", "del", ns, check=False)

    # -- faults ----------------------------------------------------------------------

    def cut(self, a: Host, b: Host) -> None:
        ip("-n", a.ns, "route", "add", "blackhole", f"{b.addr}/32")
        ip("-n", b.ns, "route", "add", "blackhole", f"{a.addr}/32")

    def uncut(self, a: Host, b: Host) -> None:
        ip("-n", a.ns, "route", "del", "blackhole", f"{b.addr}/32", check=False)
        ip("-n", b.ns, "route", "del", "blackhole", f"{a.addr}/32", check=False)

    def isolate(self, host: Host) -> None:
        ip("-n", host.ns, "link", "set", IFACE, "down")

    def rejoin(self, host: Host) -> None:
        ip("-n", host.ns, "link", "set", IFACE, "up")

    def netem(self, host: Host, *spec: str) -> None:
        """tc netem on the host's link, e.g. ("delay", "200ms", "loss", "10%")."""
        self.shape(host, "netem", *spec)

    def shape(self, host: Host, qdisc: str, *spec: str) -> None:
        """Any root qdisc on the host's link (tc qdisc replace)."""
        tc = ["tc", "qdisc", "replace", "dev", IFACE, "root", qdisc, *spec]
        proc = subprocess.run(host.exec(*tc), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"tc {qdisc} on {host.name}: {proc.stderr.strip()}")

    def clear_netem(self, host: Host) -> None:
        tc = ["tc", "qdisc", "del", "dev", IFACE, "root"]
        subprocess.run(host.exec(*tc), capture_output=True, check=False)

    def netem_available(self) -> bool:
        host = next(iter(self.hosts.values()))
        try:
            self.netem(host, "delay", "1ms")
        except RuntimeError:
            return False
        self.clear_netem(host)
        return True


def namespaces_available() -> bool:
    """Whether this process may make network namespaces (root, and a kernel that allows it)."""
    probe = f"pgactor-probe-{os.getpid()}"
    with contextlib.suppress(OSError):
        if ip("netns", "add", probe, check=False).returncode == 0:
            ip("netns", "del", probe, check=False)
            return True
    return False
