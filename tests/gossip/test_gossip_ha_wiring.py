"""The HA actor's side of gossip: it stores failsafe confirmation and relays what gossip needs."""

from __future__ import annotations

import time
from typing import Any

import pykka
from gossip_support import RecordingHa  # type: ignore[import-not-found]
from loopback_support import wait_until  # type: ignore[import-not-found]

from actors.ha.actor import HaActor, Identity
from actors.runtime.actor import ask
from actors.runtime.context import Runtime
from actors.runtime.timers import Scheduler
from messages.admin import NodeStatus
from messages.base import ActorName, MemberName, Message
from messages.cluster import ClusterView, MemberStatus, PgState, Role
from messages.codec import decode
from messages.config import DynamicConfig
from messages.dcs import DcsView
from messages.gossip import FailsafeStatus, PeerDown, PeerStatus, PeerUp
from messages.postgres import PostgresStatus
from messages.runtime import Ping
from node.tree import new_registry

HA = ActorName("ha")


class Recorder(RecordingHa):
    """Records whatever the HA actor relays to it (as "gossip" or "console")."""

    def on_receive(self, raw: Any) -> Any:
        msg = decode(raw) if isinstance(raw, bytes) else raw
        self.events.append((time.monotonic(), msg))
        return None


def received(ref: Any, kind: type[Message]) -> list[Message]:
    return [m for _, m in ref.proxy().events.get(timeout=5) if isinstance(m, kind)]


def test_the_ha_actor_stores_failsafe_and_publishes_its_status_but_relays_nothing() -> None:
    """The node's subscriptions (node/tree.py) bring gossip and the console the HA
    actor's NodeStatus; the DCS view reaches gossip from the leader-lock actor
    directly, so the HA actor passes nothing on."""
    registry, scheduler = new_registry(), Scheduler()
    scheduler.start()
    runtime = Runtime(registry=registry, scheduler=scheduler)
    try:
        gossip = Recorder.start(name=ActorName("gossip"), runtime=runtime)
        console = Recorder.start(name=ActorName("console"), runtime=runtime)
        ha = HaActor.start(
            name=HA,
            runtime=runtime,
            identity=Identity(
                member=MemberName("node1"),
                scope="demo",
                conn_host="127.0.0.1",
                conn_port=5432,
                gossip_url="tcp://127.0.0.1:7001",
            ),
            bootstrap_config=DynamicConfig(),
        )
        node2 = MemberName("node2")
        events: list[Message] = [
            FailsafeStatus(lease_until=123.0),
            PeerUp(name=node2),
            PeerDown(name=node2, silent_s=6.0),
            PeerStatus(member=MemberStatus(name=node2)),
        ]
        for event in events:
            registry.tell(HA, event)
        ask(registry, HA, Ping(), timeout_s=5)
        assert ha.proxy().state.get(timeout=5).failsafe_until == 123.0

        view = DcsView(view=ClusterView(members=(MemberStatus(name=MemberName("node1")),)))
        registry.tell(HA, view)
        registry.tell(HA, PostgresStatus(state=PgState.RUNNING, role=Role.REPLICA))
        for ref in (gossip, console):
            status = wait_until(lambda r=ref: received(r, NodeStatus), 5, "a published NodeStatus")
            assert isinstance(status[-1], NodeStatus) and status[-1].name == "node1"
        assert received(gossip, DcsView) == []
    finally:
        pykka.ActorRegistry.stop_all()
        scheduler.stop()
