"""The faults hostile testing found, added to the chaos run's set (docs/SAFETY.md).

- ``ttl_up_freeze`` / ``ttl_down_freeze`` / ``timing_edit_freeze``: the
  cluster's timing edited at runtime (``pgactor ctl edit-config``, or PATCH
  /config on another member while the leader is frozen), then the leader's
  agent frozen past the ttl; the timing is put back afterwards.
- ``freeze_etcd``: SIGSTOP of etcd past the ttl (connections hang, nothing is
  refused); with ``--failsafe`` the primary must keep taking writes.
- ``full_restart``: every agent stopped (replicas first or primary first, at
  random), then all started again on the data they left.
- ``freeze_group``: SIGSTOP of the primary's agent's whole process group (what
  Ctrl-Z or a cgroup freeze does) past the ttl.
- ``switchover``: a planned switchover to a random replica.
- ``switchover_freeze_candidate``: a switchover requested, and the candidate's
  agent frozen past the ttl a moment later, perhaps in the middle of its promote:
  its fence must stay armed from the moment it took the lock (SAFETY.md rule for
  issue 12 item 9).
- ``pause_freeze_etcd``: the cluster paused, then etcd frozen past the ttl: the
  paused primary must keep running (its fence disarmed in pause, as Patroni's
  watchdog is; item 10), and the run fails if its postmaster was killed.

The primary cut from the DCS only is the base set's ``cut_from_dcs``.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from localcluster import Node, wait_for

from chaos.cluster import ChaosCluster
from chaos.faults import Event, Faults


class SafetyFaults(Faults):
    def __init__(self, cluster: ChaosCluster, rng: random.Random, timing: dict[str, float]) -> None:
        super().__init__(cluster, rng, timing["ttl"])
        self.timing = timing

    @property
    def kinds(self) -> dict[str, Callable[[], Event]]:
        return {
            **super().kinds,
            "ttl_up_freeze": self.ttl_up_freeze,
            "ttl_down_freeze": self.ttl_down_freeze,
            "timing_edit_freeze": self.timing_edit_freeze,
            "freeze_etcd": self.freeze_etcd,
            "full_restart": self.full_restart,
            "freeze_group": self.freeze_group,
            "switchover": self.switchover,
            "switchover_freeze_candidate": self.switchover_freeze_candidate,
            "pause_freeze_etcd": self.pause_freeze_etcd,
        }

    # -- timing edited, then the leader frozen ----------------------------------------

    def ttl_up_freeze(self) -> Event:
        up = 2 * self.ttl_s
        return self._edit_then_freeze("ttl_up_freeze", {"ttl": up}, while_frozen=False)

    def ttl_down_freeze(self) -> Event:
        """Lowered to the least the lease rule allows; half the time while the leader is
        already frozen, when its fence still carries the ttl it armed with."""
        lowest = self.timing["loop_wait"] + 2 * self.timing["retry_timeout"]
        while_frozen = self.rng.random() < 0.5
        return self._edit_then_freeze("ttl_down_freeze", {"ttl": lowest}, while_frozen)

    def timing_edit_freeze(self) -> Event:
        loop_wait = self.timing["loop_wait"] + 1
        retry = (self.ttl_s - loop_wait) / 2  # the longest the lease rule allows
        edit = {"loop_wait": loop_wait, "retry_timeout": retry}
        return self._edit_then_freeze("timing_edit_freeze", edit, while_frozen=False)

    def _edit_then_freeze(self, fault: str, edit: dict[str, float], while_frozen: bool) -> Event:
        node = self._primary()
        event = self._begin(fault, node)
        event.leader_died = event.target_role == "primary"
        event.note = f"{edit}" + (" while the leader was frozen" if while_frozen else "")
        if not while_frozen:
            self._edit(edit)
            self._hold(1, 3)  # a random moment after everyone saw it; the holder renews
        pid = _agent(node)
        os.kill(pid, signal.SIGSTOP)
        try:
            if while_frozen:
                other = next(n for n in self.cluster.nodes if n is not node)
                code, body = self.cluster.api(other, "PATCH", "/config", edit)
                if code != 200:
                    raise RuntimeError(f"PATCH /config on {other.name}: {code} {body}")
            longest = max(self.ttl_s, edit.get("ttl", self.ttl_s))
            self._hold(longest + 1, longest + 3)
        finally:
            os.kill(pid, signal.SIGCONT)
        event.healed_at = time.monotonic()
        self._edit(self.timing)
        return event

    def _edit(self, values: dict[str, Any]) -> None:
        sets = [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]
        done = self.cluster.ctl("edit-config", *sets, "--force")
        if done.returncode != 0:
            raise RuntimeError(f"ctl edit-config {sets}: {done.stdout}{done.stderr}")
        wait_for(lambda: self.cluster.config_seen(values), 30, f"every member to see {values}")

    # -- the DCS frozen ---------------------------------------------------------------

    def freeze_etcd(self) -> Event:
        event = self._begin("freeze_etcd", None)
        self._freeze_etcd()
        event.healed_at = time.monotonic()
        return event

    def _freeze_etcd(self) -> None:
        """SIGSTOP of etcd past the ttl: connections hang, nothing is refused."""
        assert self.cluster.etcd is not None
        os.kill(self.cluster.etcd.pid, signal.SIGSTOP)
        try:
            self._hold(self.ttl_s + 2, self.ttl_s + 6)
        finally:
            os.kill(self.cluster.etcd.pid, signal.SIGCONT)

    # -- every agent stopped and started again -------------------------------------------

    def full_restart(self) -> Event:
        node = self._primary()
        event = self._begin("full_restart", node)
        others = [n for n in self.cluster.nodes if n is not node]
        primary_first = self.rng.random() < 0.5
        event.note = "primary first" if primary_first else "replicas first"
        for member in [node, *others] if primary_first else [*others, node]:
            self.cluster.stop_node(member)
        self._hold(1, 3)
        for member in self.cluster.nodes:
            self.cluster.start_node(member)
        event.healed_at = time.monotonic()
        return event

    # -- the agent's whole process group frozen ----------------------------------------

    def freeze_group(self) -> Event:
        node = self._primary()
        event = self._begin("freeze_group", node)
        event.leader_died = event.target_role == "primary"
        group = _agent(node)  # its own session: the group is the agent's PID
        os.killpg(group, signal.SIGSTOP)
        try:
            self._hold(self.ttl_s + 1, self.ttl_s + 4)
        finally:
            os.killpg(group, signal.SIGCONT)
        event.healed_at = time.monotonic()
        return event

    # -- planned -------------------------------------------------------------------------

    def switchover(self) -> Event:
        node = self._primary()
        event = self._begin("switchover", node)
        candidate = self.rng.choice(self._candidates(node))
        body = {"leader": node.name, "candidate": candidate.name}
        code, answer = self.cluster.api(node, "POST", "/switchover", body)
        event.note = f"to {candidate.name}: {code}"
        if code not in (200, 202):
            event.note += f" {answer}"
        event.healed_at = time.monotonic()
        return event

    def switchover_freeze_candidate(self) -> Event:
        node = self._primary()
        candidate = self.rng.choice(self._candidates(node))
        event = self._begin("switchover_freeze_candidate", candidate)
        event.leader_died = True  # the candidate may lead when it freezes, then be fenced
        body = {"leader": node.name, "candidate": candidate.name}
        answers: list[int] = []
        # the answer comes once the switchover happened: ask aside, freeze meanwhile
        asking = threading.Thread(
            target=lambda: answers.append(self.cluster.api(node, "POST", "/switchover", body)[0])
        )
        asking.start()
        time.sleep(self.rng.uniform(0.0, 0.6))  # before, during or after its promote
        group = _agent(candidate)
        os.killpg(group, signal.SIGSTOP)
        try:
            self._hold(self.ttl_s + 1, self.ttl_s + 4)
        finally:
            os.killpg(group, signal.SIGCONT)
        asking.join(60)
        event.note = f"switchover from {node.name}: {answers[0] if answers else 'no answer'}"
        event.healed_at = time.monotonic()
        return event

    def pause_freeze_etcd(self) -> Event:
        node = self._primary()
        event = self._begin("pause_freeze_etcd", node)
        self._set_pause(node, True)
        postmaster = node.postmaster_pid()
        self._freeze_etcd()
        survived = postmaster is not None and node.postmaster_pid() == postmaster
        self._set_pause(node, False)
        event.healed_at = time.monotonic()
        if not survived:
            raise RuntimeError(f"the paused primary {node.name}'s postmaster was stopped")
        return event

    def _set_pause(self, node: Node, pause: bool) -> None:
        code, answer = self.cluster.api(node, "PATCH", "/config", {"pause": pause})
        if code != 200:
            raise RuntimeError(f"PATCH /config pause={pause}: {code} {answer}")
        wait_for(lambda: self.cluster.config_seen({"pause": pause}), 30, f"pause={pause} seen")

    def _candidates(self, leader: Node) -> list[Node]:
        """In synchronous mode the published synchronous standbys (only they may take
        over; right after another fault there may be none for a moment), else every
        other member."""
        others = [n for n in self.cluster.nodes if n is not leader]
        if not self.cluster.dynamic.get("synchronous_mode"):
            return others

        def published() -> list[Node]:
            _, view = self.cluster.api(leader, "GET", "/cluster")
            members = view.get("members", []) if isinstance(view, dict) else []
            sync = {m["name"] for m in members if m.get("role") == "sync_standby"}
            return [n for n in others if n.name in sync]

        return list(wait_for(published, 30, "a published synchronous standby", 0.5))


def _agent(node: Node) -> int:
    if node.proc is None:
        raise RuntimeError(f"{node.name}'s agent is not running")
    return int(node.proc.pid)
