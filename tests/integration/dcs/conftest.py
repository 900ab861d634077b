"""Fixtures for the DCS contract suite: one real server per backend, a fresh scope per test.

Every backend joins the suite by adding a parameter to ``backend`` and a
harness that can (1) make a client for a member of the test's scope, (2) make
the server stop answering for a while, and (3) drop every connection and watch
while keeping the data (a server restart).  The Kubernetes backend will add a
``"kubernetes"`` parameter whose harness drives the test API server in
tests/k8s_api (its fault injection gives stall and drop).
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from actors.leader_lock.contract import Dcs
from actors.leader_lock.etcd import EtcdDcs
from messages.base import MemberName
from messages.config import EtcdSettings

from .etcd_server import EtcdServer

TTL_S = 3.0
RETRY_TIMEOUT_S = 1.5


class MakeClient(Protocol):
    def __call__(
        self, member: str, *, ttl_s: float = TTL_S, retry_timeout_s: float = RETRY_TIMEOUT_S
    ) -> Dcs: ...


@dataclasses.dataclass
class Harness:
    """What the contract tests need from a backend, whatever it is."""

    name: str
    scope: str
    make: MakeClient
    stalled: Callable[[], contextlib.AbstractContextManager[None]]
    """Inside the ``with``, the server accepts connections but answers nothing."""
    restart: Callable[[], None]
    """Drop every connection and watch; the data survives."""


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = EtcdServer(Path(tmp_path_factory.mktemp("etcd")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def scope() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def _etcd_harness(request: pytest.FixtureRequest, scope: str) -> Harness:
    server: EtcdServer = request.getfixturevalue("etcd_server")

    def make(member: str, *, ttl_s: float = TTL_S, retry_timeout_s: float = RETRY_TIMEOUT_S) -> Dcs:
        return EtcdDcs(
            scope,
            MemberName(member),
            namespace="service",
            ttl_s=ttl_s,
            retry_timeout_s=retry_timeout_s,
            settings=EtcdSettings(hosts=(server.host,)),
        )

    return Harness("etcd", scope, make, server.paused, server.restart)


_HARNESSES: dict[str, Callable[[pytest.FixtureRequest, str], Harness]] = {
    "etcd": _etcd_harness,
    # "kubernetes": _kubernetes_harness,  (with the Kubernetes backend)
}


@pytest.fixture(params=sorted(_HARNESSES))
def backend_factory(request: pytest.FixtureRequest, scope: str) -> Iterator[Harness]:
    """The backend under test; every client it makes is closed at teardown."""
    harness = _HARNESSES[request.param](request, scope)
    made: list[Dcs] = []
    make = harness.make

    def tracked(member: str, **kw: float) -> Dcs:
        client = make(member, **kw)
        made.append(client)
        return client

    harness.make = tracked
    try:
        yield harness
    finally:
        for client in made:
            client.close()
