"""Fixtures: a real ApiActor on 127.0.0.1, a fake HA actor, and a tiny HTTP client.

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

from actors.api import ApiActor
from actors.runtime.actor import BaseActor, ask, handles
from actors.runtime.registry import Registry
from messages.admin import AdminReply, CancelSwitchover, NodeStatus, SwitchoverRequest
from messages.base import ActorName, Message
from messages.config import RestApiSettings
from messages.runtime import Ping

API, HA = ActorName("api"), ActorName("ha")
OK = AdminReply(ok=True, detail="ok")


class FakeHa(BaseActor):
    """Records admin requests and answers each with `reply` (None: no answer at all)."""

    def __init__(self, *, reply: AdminReply | None = OK, **base: Any):
        super().__init__(**base)
        self.reply = reply
        self.lock = threading.Lock()
        self.received: list[Message] = []

    @handles(SwitchoverRequest, CancelSwitchover)
    def _on_admin(self, msg: Message) -> AdminReply | None:
        with self.lock:
            self.received.append(msg)
        return self.reply


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
    registry: Registry
    port: int
    ha: Any = None

    def push(self, status: NodeStatus) -> None:
        self.registry.tell(API, status)
        ask(self.registry, API, Ping(), timeout_s=5)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Reply:
        if isinstance(body, dict):
            body = json.dumps(body)
        hdrs = dict(headers or {})
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
    return Registry()


StartApi = Callable[..., Api]


@pytest.fixture
def start_api(registry: Registry) -> StartApi:
    def start(
        settings: RestApiSettings | None = None,
        *,
        ha_reply: AdminReply | None = OK,
        with_ha: bool = True,
        **kwargs: Any,
    ) -> Api:
        ha = None
        if with_ha:
            ha = FakeHa.start(name=HA, registry=registry, reply=ha_reply)
            registry.register(HA, ha)
        settings = settings or RestApiSettings(listen_port=0)
        ref = ApiActor.start(name=API, registry=registry, settings=settings, scope="demo", **kwargs)
        registry.register(API, ref)
        port = ref.proxy().port.get(timeout=10)
        return Api(ref=ref, registry=registry, port=port, ha=ha)

    return start


@pytest.fixture
def api(start_api: StartApi) -> Api:
    return start_api()
