"""The API tests' harness: a real ApiActor on 127.0.0.1, a fake HA actor, a tiny HTTP client.

Test modules import from here (a name unique across tests/, unlike
``conftest``, so running tests/api beside another directory with a conftest
never mixes the two up); conftest.py only registers the fixtures.

Every actor a test starts is stopped at teardown.  Pushing a status is
synchronous without sleeping: the status is told to the API actor and a Ping
asked after it, so the reply means the status was handled (a mailbox is FIFO).
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest
from cluster_states import CLUSTER, LEADER_LSN, PG2, REPLICA

from actors.api import ApiActor
from actors.runtime.actor import BaseActor, ask, handles
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from messages.admin import (
    AdminReply,
    CancelSwitchover,
    NodeStatus,
    ReinitializeRequest,
    ReloadRequest,
    RestartRequest,
    SwitchoverRequest,
)
from messages.base import ActorName, MemberName, Message
from messages.cluster import LeaderRecord
from messages.config import RestApiSettings
from messages.dcs import ConfigOutcome, ConfigResult, FailoverResult, SetConfig
from messages.runtime import Ping
from node.tree import new_registry

API, HA = ActorName("api"), ActorName("ha")
OK = AdminReply(ok=True, detail="ok")
CREDENTIALS = ("harness", "harness-secret")
"""Actions need credentials by default: the harness's API has these, and its client sends them."""
SETTINGS = RestApiSettings(listen_port=0, username=CREDENTIALS[0], password=CREDENTIALS[1])
_HARNESS_AUTH: Any = object()


Carry = Callable[[SwitchoverRequest], tuple[NodeStatus, ...]]


def switched(candidate: MemberName | None) -> NodeStatus:
    """The status after a switchover or failover that happened: `candidate` (else pg2)
    leads, and the request is gone from the cluster view."""
    new = candidate or PG2
    cluster = dataclasses.replace(
        CLUSTER, leader=LeaderRecord(name=new, optime=LEADER_LSN), failover=None
    )
    return dataclasses.replace(REPLICA, cluster=cluster)


def carried_out(request: SwitchoverRequest) -> tuple[NodeStatus, ...]:
    return (switched(request.candidate),)


class FakeHa(BaseActor):
    """Records admin requests and answers each with `reply` (None: no answer at all).

    A config edit or switchover it accepts is answered as the leader-lock actor
    would, with `config_outcome` told to its reply_to (None: never answered).  A
    switchover then "happens": the statuses `carry` makes of it are told to the API,
    as the HA core's next NodeStatus would be.
    """

    def __init__(
        self,
        *,
        reply: AdminReply | None = OK,
        config_outcome: ConfigOutcome | None = ConfigOutcome.STORED,
        carry: Carry = carried_out,
        **base: Any,
    ):
        super().__init__(**base)
        self.reply = reply
        self.config_outcome = config_outcome
        self.carry = carry
        self.lock = threading.Lock()
        self.received: list[Message] = []

    @handles(CancelSwitchover, RestartRequest, ReloadRequest, ReinitializeRequest)
    def handle_admin(self, msg: Message) -> AdminReply | None:
        with self.lock:
            self.received.append(msg)
        return self.reply

    @handles(SwitchoverRequest)
    def handle_switchover(self, msg: SwitchoverRequest) -> AdminReply | None:
        """Recorded without its reply address; the write's outcome told there (as the
        leader-lock actor does) with `config_outcome`."""
        reply = self.handle_admin(dataclasses.replace(msg, request_id="", reply_to=None))
        if reply is not None and reply.ok and self.config_outcome and msg.reply_to:
            result = FailoverResult(request_id=msg.request_id, outcome=self.config_outcome)
            self.send(msg.reply_to, result)
            for after in self.carry(msg) if msg.scheduled_at is None else ():
                self.send(msg.reply_to, after)
        return reply

    @handles(SetConfig)
    def handle_set_config(self, msg: SetConfig) -> AdminReply | None:
        reply = self.handle_admin(msg)
        if reply is not None and reply.ok and self.config_outcome and msg.reply_to:
            stored = msg.config if self.config_outcome is ConfigOutcome.STORED else msg.expected
            result = ConfigResult(
                request_id=msg.request_id, outcome=self.config_outcome, config=stored
            )
            self.send(msg.reply_to, result)
        return reply


@dataclasses.dataclass
class Reply:
    code: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclasses.dataclass
class Api:
    """A running ApiActor and a client for it."""

    ref: Any
    runtime: Runtime
    port: int
    ha: Any = None
    auth: tuple[str, str] | None = CREDENTIALS
    """Sent with every request unless a request names its own (None: none at all)."""

    def push(self, status: NodeStatus) -> None:
        self.runtime.registry.tell(API, status)
        ask(self.runtime.registry, API, Ping(), timeout_s=5)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = _HARNESS_AUTH,
    ) -> Reply:
        if isinstance(body, dict):
            body = json.dumps(body)
        hdrs = dict(headers or {})
        if auth is _HARNESS_AUTH:
            auth = self.auth
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            hdrs["Authorization"] = f"Basic {token}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return Reply(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def ha_received(self) -> list[Message]:
        return list(self.ha.proxy().received.get())


@pytest.fixture(autouse=True)
def stop_every_actor() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def registry() -> Registry:
    """With the node's subscriptions: the API hears the HA actor's published NodeStatus."""
    return new_registry()


StartApi = Callable[..., Api]


@pytest.fixture
def start_api(registry: Registry) -> StartApi:
    def start(
        settings: RestApiSettings | None = None,
        *,
        ha_reply: AdminReply | None = OK,
        with_ha: bool = True,
        config_outcome: ConfigOutcome | None = ConfigOutcome.STORED,
        carry: Carry = carried_out,
        **kwargs: Any,
    ) -> Api:
        ha = None
        runtime = Runtime(registry=registry)
        if with_ha:
            ha = FakeHa.start(
                name=HA, runtime=runtime, reply=ha_reply, config_outcome=config_outcome,
                carry=carry,
            )  # fmt: skip
            registry.register(HA, ha)
        settings = settings or SETTINGS
        ref = ApiActor.start(name=API, runtime=runtime, settings=settings, scope="demo", **kwargs)
        registry.register(API, ref)
        port = ref.proxy().port.get(timeout=10)
        return Api(ref=ref, runtime=runtime, port=port, ha=ha)

    return start


@pytest.fixture
def api(start_api: StartApi) -> Api:
    return start_api()
