"""Helpers: a real ConsoleActor on loopback (CURVE keys in a temp dir) beside a fake HA actor.

The fake HA actor answers every admin request it is asked and records it; a
config write is answered the way the leader-lock actor does, with a
ConfigResult told to the asker.  The ctl tests use these helpers too.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from actors.console import ConsoleActor
from actors.runtime.actor import BaseActor, ask, handles
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from actors.runtime.zmq_io import generate_keys, load_keypair, load_public_key
from messages.admin import (
    AdminReply,
    NodeStatus,
    ReinitializeRequest,
    ReloadRequest,
    RestartRequest,
    SwitchoverRequest,
)
from messages.base import ActorName, MemberName, Message
from messages.cluster import ClusterView, LeaderRecord, MemberStatus, PgState, Role
from messages.config import ConsoleSettings, CurveKeys, DynamicConfig
from messages.console import ConsoleStats, GetConsoleStats
from messages.dcs import ConfigOutcome, ConfigResult, FailoverResult, SetConfig
from messages.ha import Reason
from messages.runtime import Ping
from node.ctl.target import Target

# tests/ctl imports this module without our conftest: put tests/ on the path here
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from loopback_support import free_port, wait_until

CONSOLE, HA = ActorName("console"), ActorName("ha")
MEMBERS = ("node1", "node2", "node3")


class FakeHa(BaseActor):
    """Answers admin requests with `reply` (None: never answers) and records them."""

    def __init__(
        self,
        *,
        reply: AdminReply | None = None,
        stored: FailoverResult | None = None,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        self.reply = reply
        self.stored = stored
        """How the DCS answers an accepted switchover's write (None: stored)."""
        self.received: list[Message] = []

    @handles(SwitchoverRequest, RestartRequest, ReloadRequest, ReinitializeRequest)
    def handle_admin(self, msg: Message) -> AdminReply | None:
        self.received.append(msg)
        if self.reply is None:
            time.sleep(2)  # hangs past the console's 1 s ask timeout, then answers nothing
        elif self.reply.ok and isinstance(msg, SwitchoverRequest) and msg.reply_to is not None:
            stored = self.stored or FailoverResult(request_id="", outcome=ConfigOutcome.STORED)
            result = dataclasses.replace(stored, request_id=msg.request_id)
            self.registry.tell(msg.reply_to, result)
        return self.reply

    @handles(SetConfig)
    def handle_set_config(self, msg: SetConfig) -> AdminReply:
        self.received.append(msg)
        if msg.reply_to is not None:
            result = ConfigResult(
                request_id=msg.request_id, outcome=ConfigOutcome.STORED, config=msg.config
            )
            self.registry.tell(msg.reply_to, result)
        return AdminReply(ok=True, detail="config change sent")


def status(
    name: str = "node1",
    leader: str = "node1",
    *,
    config: DynamicConfig | None = None,
    reason: Reason = Reason.LEADER_RENEW,
) -> NodeStatus:
    members = tuple(
        MemberStatus(
            name=MemberName(m),
            role=Role.PRIMARY if m == leader else Role.REPLICA,
            state=PgState.RUNNING,
            conn_host="127.0.0.1",
            conn_port=5433 + i,
            timeline=1,  # type: ignore[arg-type]
            wal_position=(50 if m == leader else 40) * 1024 * 1024,  # type: ignore[arg-type]
            following=None if m == leader else MemberName(leader),
        )
        for i, m in enumerate(MEMBERS)
    )
    return NodeStatus(
        name=MemberName(name),
        scope="demo",
        role=Role.PRIMARY if name == leader else Role.REPLICA,
        state=PgState.RUNNING,
        reason=reason,
        is_leader=name == leader,
        cluster=ClusterView(
            leader=LeaderRecord(name=MemberName(leader)),
            members=members,
            config=config or DynamicConfig(),
        ),
        lease_remaining_s=9.5 if name == leader else None,
    )


@dataclasses.dataclass
class Node:
    """One console endpoint: its registry, its fake HA, its port."""

    registry: Registry
    port: int
    ha: Any
    keys: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def push(self, node_status: NodeStatus) -> None:
        self.registry.tell(CONSOLE, node_status)
        ask(self.registry, CONSOLE, Ping(), timeout_s=5)

    def switchovers(self) -> list[tuple[str | None, str | None]]:
        """(leader, candidate) of each switchover the HA actor was asked."""
        asked = [m for m in self.ha_received() if isinstance(m, SwitchoverRequest)]
        return [(m.leader, m.candidate) for m in asked]

    def ha_received(self) -> list[Message]:
        received: list[Message] = self.ha.proxy().received.get(timeout=5)
        return received

    def stats(self) -> ConsoleStats:
        reply = ask(self.registry, CONSOLE, GetConsoleStats(), timeout_s=5)
        assert isinstance(reply, ConsoleStats)
        return reply

    def target(self, client: str = "admin", timeout_s: float = 3.0) -> Target:
        return Target(
            addresses=(self.address,),
            server_key=load_public_key(self.keys / "server.key"),
            client=load_keypair(self.keys / f"{client}.key_secret"),
            timeout_s=timeout_s,
            source="test",
        )


def make_keys(base: Path) -> Path:
    """Cluster keys with an authorised `admin`, plus an `intruder` keypair nobody authorised."""
    keys = generate_keys(base / "curve", ["admin"])
    stranger = generate_keys(base / "elsewhere", ["intruder"])
    (stranger / "intruder.key_secret").rename(keys / "intruder.key_secret")
    return keys


DONE = AdminReply(ok=True, detail="done")


def start_node(
    keys: Path, *, reply: AdminReply | None = DONE, stored: FailoverResult | None = None
) -> Node:
    registry, port = Registry(), free_port()
    runtime = Runtime(registry=registry)
    ha = FakeHa.start(name=HA, runtime=runtime, reply=reply, stored=stored)
    settings = ConsoleSettings(
        listen_port=port,
        connect_address=f"127.0.0.1:{port}",
        curve=CurveKeys(keys_dir=str(keys)),
    )
    ConsoleActor.start(
        name=CONSOLE, runtime=runtime, settings=settings, version="9.9", ask_timeout_s=1.0
    )
    # start() returns before the actor's thread has registered it
    wait_until(lambda: registry.get(CONSOLE) is not None, 5, "the console actor to register")
    ask(registry, CONSOLE, Ping(), timeout_s=5)  # bound and listening
    return Node(registry=registry, port=port, ha=ha, keys=keys)


def write_ctl_file(path: Path, keys: Path, addresses: list[str], client: str = "admin") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "scope": "demo",
                "console": addresses,
                "server_key": str(keys / "server.key"),
                "client_key": str(keys / f"{client}.key_secret"),
                "timeout": 2,
            }
        )
    )
    return path
