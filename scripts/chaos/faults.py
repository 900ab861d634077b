"""The faults the chaos run injects, each with its heal, and the timeline they leave.

A fault picks its target when it fires (the primary at that moment, or a
random member), holds for a randomised time -- the fault's own duration, not
a wait for anything -- and heals.  Every step is stamped with
``time.monotonic()``, the clock the client's writes carry, so the timeline
and the write history line up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
import time
from collections.abc import Callable

from localcluster import Node, stop_pid

from chaos.cluster import ChaosCluster


@dataclasses.dataclass
class Event:
    fault: str
    target: str
    target_role: str
    injected_at: float
    healed_at: float | None = None
    converged_at: float | None = None
    note: str = ""
    leader_died: bool = False
    """The primary died for the rest of the cluster (killed, frozen past its ttl and
    fenced, cut off from everyone): in async mode, the one moment a write may be lost."""

    @property
    def converge_s(self) -> float | None:
        if self.healed_at is None or self.converged_at is None:
            return None
        return self.converged_at - self.healed_at


class Faults:
    def __init__(self, cluster: ChaosCluster, rng: random.Random, ttl_s: float) -> None:
        self.cluster = cluster
        self.rng = rng
        self.ttl_s = ttl_s
        self.netem_ok = cluster.topology.netem_available()

    @property
    def kinds(self) -> dict[str, Callable[[], Event]]:
        return {
            "kill_agent": self.kill_agent,
            "kill_postmaster": self.kill_postmaster,
            "kill_both": self.kill_both,
            "pause_agent": self.pause_agent,
            "cut_from_dcs": self.cut_from_dcs,
            "cut_from_replicas": self.cut_from_replicas,
            "isolate_member": self.isolate_member,
            "restart_etcd": self.restart_etcd,
            "netem": self.netem,
        }

    # -- targets ---------------------------------------------------------------------

    def _primary(self) -> Node:
        roles = self.cluster.roles()
        name = next((n for n, r in roles.items() if r == "primary"), None)
        return self.cluster.node(name) if name else self.rng.choice(self.cluster.nodes)

    def _begin(self, fault: str, node: Node | None) -> Event:
        roles = self.cluster.roles()
        target = node.name if node else "etcd"
        role = roles.get(node.name, "?") if node else "dcs"
        return Event(fault, target, role, injected_at=time.monotonic())

    def _hold(self, low: float, high: float) -> None:
        time.sleep(self.rng.uniform(low, high))  # the fault's duration

    # -- the faults -------------------------------------------------------------------

    def kill_agent(self) -> Event:
        """kill -9 of pgactor alone; the kubelet (we) starts it again shortly."""
        node = self._primary()
        event = self._begin("kill_agent", node)
        self._kill_agent(node)
        self._hold(1, 3)
        self.cluster.start_node(node)
        event.healed_at = time.monotonic()
        return event

    def kill_postmaster(self) -> Event:
        """kill -9 of the postmaster alone: pgactor must notice and recover."""
        node = self._primary()
        event = self._begin("kill_postmaster", node)
        pid = node.postmaster_pid()
        if pid is not None:
            _kill(pid, signal.SIGKILL)
        event.healed_at = event.injected_at
        return event

    def kill_both(self) -> Event:
        """The node's sudden death: pgactor and postmaster killed together."""
        node = self._primary()
        event = self._begin("kill_both", node)
        event.leader_died = event.target_role == "primary"
        self.cluster.kill_node(node)
        self._hold(2, 5)
        self.cluster.start_node(node)
        event.healed_at = time.monotonic()
        return event

    def pause_agent(self) -> Event:
        """SIGSTOP of pgactor for longer than ttl: awake again, it must not write as primary."""
        node = self._primary()
        event = self._begin("pause_agent", node)
        event.leader_died = event.target_role == "primary"
        assert node.proc is not None
        os.kill(node.proc.pid, signal.SIGSTOP)
        try:
            self._hold(self.ttl_s + 1, self.ttl_s + 4)
        finally:
            os.kill(node.proc.pid, signal.SIGCONT)
        event.healed_at = time.monotonic()
        return event

    def cut_from_dcs(self) -> Event:
        node = self._primary()
        event = self._begin("cut_from_dcs", node)
        topo, etcd = self.cluster.topology, self.cluster.topology.hosts["etcd"]
        topo.cut(self.cluster.host(node), etcd)
        try:
            self._hold(self.ttl_s + 2, self.ttl_s + 5)
        finally:
            topo.uncut(self.cluster.host(node), etcd)
        event.healed_at = time.monotonic()
        return event

    def cut_from_replicas(self) -> Event:
        """The primary still reaches the DCS, and the client, but no replica."""
        node = self._primary()
        event = self._begin("cut_from_replicas", node)
        topo, me = self.cluster.topology, self.cluster.host(node)
        others = [self.cluster.host(n) for n in self.cluster.nodes if n is not node]
        for other in others:
            topo.cut(me, other)
        try:
            self._hold(5, 10)
        finally:
            for other in others:
                topo.uncut(me, other)
        event.healed_at = time.monotonic()
        return event

    def isolate_member(self) -> Event:
        node = self.rng.choice(self.cluster.nodes)
        event = self._begin("isolate_member", node)
        event.leader_died = event.target_role == "primary"
        topo, host = self.cluster.topology, self.cluster.host(node)
        topo.isolate(host)
        try:
            self._hold(self.ttl_s + 2, self.ttl_s + 5)
        finally:
            topo.rejoin(host)
        event.healed_at = time.monotonic()
        return event

    def restart_etcd(self) -> Event:
        event = self._begin("restart_etcd", None)
        assert self.cluster.etcd is not None
        stop_pid(self.cluster.etcd.pid, signal.SIGKILL, timeout_s=10)
        self.cluster.etcd.wait()
        self._hold(2, 5)
        self.cluster.start_etcd()
        event.healed_at = time.monotonic()
        return event

    def netem(self) -> Event:
        """A degraded link on the primary: tc netem delay and loss where the kernel has
        sch_netem; else a token bucket so narrow that packets queue (delay) and the
        ones queued past its latency are dropped (loss)."""
        node = self._primary()
        event = self._begin("netem", node)
        topo, host = self.cluster.topology, self.cluster.host(node)
        if self.netem_ok:
            topo.netem(host, "delay", "100ms", "20ms", "loss", "5%")
            event.note = "netem delay 100ms +-20ms, loss 5%"
        else:
            topo.shape(host, "tbf", "rate", "64kbit", "burst", "2kb", "latency", "150ms")
            event.note = "no sch_netem in this kernel: tbf 64 kbit/s, drops past 150 ms queued"
        try:
            self._hold(8, 12)
        finally:
            topo.clear_netem(host)
        event.healed_at = time.monotonic()
        return event

    def _kill_agent(self, node: Node) -> None:
        if node.proc is not None:
            _kill(node.proc.pid, signal.SIGKILL)
            node.proc.wait()
            node.proc = None


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
