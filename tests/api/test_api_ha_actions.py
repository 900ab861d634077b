"""Restart, reload, reinitialize and config edits through the real HaActor, per role.

A real ApiActor and a real HaActor run beside small fake actors standing in
for the leader-lock, postmaster and bootstrap actors: the fakes answer every
command at once (a lock write succeeds, an action is done), so the HA actor
settles into a steady role, and record what reached them.  The status codes
are asserted over real HTTP, the commands where they land.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_harness import API, HA, SETTINGS, Api

from actors.api import ApiActor
from actors.ha.actor import HaActor, Identity
from actors.runtime.actor import BaseActor, handles
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from actors.runtime.timers import Scheduler
from messages.base import ActorName, Lsn, MemberName, Message, Timeline
from messages.cluster import ClusterView, LeaderRecord, MemberStatus, PgState, Role
from messages.config import DynamicConfig
from messages.dcs import (
    AcquireLock,
    ConfigOutcome,
    ConfigResult,
    DcsView,
    LockOp,
    LockResult,
    ReleaseLock,
    RenewLock,
    SetConfig,
    TouchMember,
)
from messages.ha import ActionDone, ActionKind
from messages.postgres import (
    Follow,
    PostgresStatus,
    Promote,
    Reinitialize,
    ReloadPostgres,
    RestartPostgres,
    StartPostgres,
    StopPostgres,
    Upstream,
)
from messages.runtime import Resend

PG1, PG2 = MemberName("pg1"), MemberName("pg2")
LOCK, POSTMASTER, BOOTSTRAP = (
    ActorName("leader_lock"),
    ActorName("postmaster"),
    ActorName("bootstrap"),
)
CONFIG = DynamicConfig(ttl_s=30, loop_wait_s=1, retry_timeout_s=5)
_LOCK_OPS = {AcquireLock: LockOp.ACQUIRE, RenewLock: LockOp.RENEW, ReleaseLock: LockOp.RELEASE}
_ACTIONS = {
    StartPostgres: ActionKind.START,
    StopPostgres: ActionKind.STOP,
    RestartPostgres: ActionKind.RESTART,
    Promote: ActionKind.PROMOTE,
    Follow: ActionKind.FOLLOW,
    Reinitialize: ActionKind.REINITIALIZE,
}


def view(leader: MemberName) -> ClusterView:
    return ClusterView(
        initialize="7000000000000000001",
        config=CONFIG,
        leader=LeaderRecord(name=leader, observed_change_at=time.monotonic(), ttl_s=30),
        members=tuple(
            MemberStatus(name=m, state=PgState.RUNNING, conn_host="10.0.0.1", conn_port=port)
            for m, port in ((PG1, 5432), (PG2, 5433))
        ),
    )


def pg(role: Role, state: PgState = PgState.RUNNING, **more: Any) -> PostgresStatus:
    return PostgresStatus(
        state=state,
        role=role,
        timeline=Timeline(1),
        wal_position=Lsn(1000),
        data_dir_empty=False,
        **more,
    )


class Recorder(BaseActor):
    def __init__(self, **base: Any) -> None:
        super().__init__(**base)
        self.lock = threading.Lock()
        self.received: list[Message] = []

    def record(self, msg: Message) -> None:
        with self.lock:
            self.received.append(msg)

    def of(self, kind: type[Message]) -> list[Any]:
        with self.lock:
            return [m for m in self.received if isinstance(m, kind)]


class FakeLeaderLock(Recorder):
    """Every lock write succeeds; a config edit is stored when its expectation holds."""

    def __init__(self, *, cluster: ClusterView, **base: Any) -> None:
        super().__init__(**base)
        self.cluster = cluster

    def set_cluster(self, cluster: ClusterView) -> None:
        """Called through a proxy, so it runs in the actor's thread like a handler."""
        self.cluster = cluster

    @handles(Resend)
    def handle_resend(self, msg: Resend) -> None:
        self.send(HA, DcsView(view=self.cluster))

    @handles(AcquireLock, RenewLock, ReleaseLock)
    def handle_lock(self, msg: Message) -> None:
        op = _LOCK_OPS[type(msg)]
        self.send(HA, LockResult(op=op, ok=True, started_at=time.monotonic()))
        self.record(msg)

    @handles(TouchMember)
    def handle_touch(self, msg: TouchMember) -> None:
        self.record(msg)

    @handles(SetConfig)
    def handle_set_config(self, msg: SetConfig) -> None:
        ok = msg.expected is None or msg.expected == self.cluster.config
        outcome = ConfigOutcome.STORED if ok else ConfigOutcome.CONFLICT
        if ok:
            self.cluster = dataclasses.replace(self.cluster, config=msg.config)
        assert msg.reply_to is not None
        self.send(msg.reply_to, ConfigResult(request_id=msg.request_id, outcome=outcome))
        self.record(msg)


class FakePostgres(Recorder):
    """Reports `status`; every action is done at once (a stop leaves PostgreSQL stopped)."""

    def __init__(self, *, status: PostgresStatus | None = None, **base: Any) -> None:
        super().__init__(**base)
        self.status = status

    @handles(Resend)
    def handle_resend(self, msg: Resend) -> None:
        if self.status is not None:
            self.send(HA, self.status)

    @handles(StartPostgres, StopPostgres, RestartPostgres, Promote, Follow, Reinitialize)
    def handle_action(self, msg: Message) -> None:
        if isinstance(msg, StopPostgres) and self.status is not None:
            self.status = dataclasses.replace(self.status, state=PgState.STOPPED)
            self.send(HA, self.status)
        self.send(HA, ActionDone(kind=_ACTIONS[type(msg)], ok=True))
        self.record(msg)  # after the answer: whoever sees the record, HA has the answer queued

    @handles(ReloadPostgres)
    def handle_reload(self, msg: ReloadPostgres) -> None:
        self.record(msg)


def wait_until(condition: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@dataclasses.dataclass
class Node:
    api: Api
    lock: Any
    postmaster: Any
    bootstrap: Any

    def got(self, actor: Any, kind: type[Message], count: int = 1) -> list[Any]:
        wait_until(lambda: len(actor.proxy().of(kind).get()) >= count)
        found: list[Any] = actor.proxy().of(kind).get()
        return found


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    scheduler = Scheduler()
    scheduler.start()
    yield scheduler
    scheduler.stop()


StartNode = Callable[..., Node]


@pytest.fixture
def start_node(registry: Registry, scheduler: Scheduler) -> StartNode:
    def start(me: MemberName, leader: MemberName, status: PostgresStatus) -> Node:
        runtime = Runtime(registry=registry, scheduler=scheduler)
        lock = FakeLeaderLock.start(name=LOCK, runtime=runtime, cluster=view(leader))
        postmaster = FakePostgres.start(name=POSTMASTER, runtime=runtime, status=status)
        bootstrap = FakePostgres.start(name=BOOTSTRAP, runtime=runtime)
        api_ref = ApiActor.start(name=API, runtime=runtime, settings=SETTINGS, scope="demo")
        identity = Identity(member=me, scope="demo", conn_host="10.0.0.1", conn_port=5434)
        HaActor.start(name=HA, runtime=runtime, identity=identity, bootstrap_config=CONFIG)
        api = Api(ref=api_ref, runtime=runtime, port=api_ref.proxy().port.get(timeout=10))
        wait_until(lambda: api.get("/patroni").json()["role"] == status.role.value)
        return Node(api=api, lock=lock, postmaster=postmaster, bootstrap=bootstrap)

    return start


@pytest.fixture
def replica(start_node: StartNode) -> Node:
    node = start_node(PG2, PG1, pg(Role.REPLICA))
    node.got(node.postmaster, Follow)  # the HA actor has settled: following the leader
    return node


@pytest.fixture
def primary(start_node: StartNode) -> Node:
    node = start_node(PG1, PG1, pg(Role.PRIMARY))
    node.got(node.lock, RenewLock)  # the HA actor has settled: renewing its lock
    return node


# -- restart ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, {}, {"role": "replica"}, {"role": "replica", "timeout": 9}])
def test_a_replica_restarts_when_the_conditions_hold(replica: Node, body: Any) -> None:
    reply = replica.api.request("POST", "/restart", body)
    assert (reply.code, reply.text) == (202, "restart started\n")
    (restart,) = replica.got(replica.postmaster, RestartPostgres)
    assert restart.timeout_s == (9 if body and "timeout" in body else 60)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"role": "primary"}, "the role is replica"),
        ({"restart_pending": True}, "no restart is pending"),
    ],
)
def test_a_restart_whose_conditions_fail_is_refused(replica: Node, body: Any, reason: str) -> None:
    reply = replica.api.request("POST", "/restart", body)
    assert reply.code == 412
    assert reason in reply.text
    assert replica.postmaster.proxy().of(RestartPostgres).get() == []


def test_a_primary_restarts_as_primary_only(primary: Node) -> None:
    assert primary.api.request("POST", "/restart", {"role": "replica"}).code == 412
    assert primary.api.request("POST", "/restart", {"role": "master"}).code == 202
    primary.got(primary.postmaster, RestartPostgres)


def test_a_restart_pending_restart_happens_when_one_is_pending(start_node: StartNode) -> None:
    node = start_node(PG2, PG1, pg(Role.REPLICA, pending_restart=True))
    node.got(node.postmaster, Follow)
    assert node.api.request("POST", "/restart", {"restart_pending": True}).code == 202


def test_a_second_restart_while_the_first_runs_is_refused(replica: Node) -> None:
    replica.postmaster.stop()  # nobody answers: the first restart stays in progress
    assert replica.api.request("POST", "/restart").code == 202
    reply = replica.api.request("POST", "/restart")
    assert (reply.code, reply.text) == (412, "an action is in progress (restart)\n")


@pytest.mark.parametrize(
    "body", ['{"schedule": "2030-01-01T00:00:00+00:00"}', '{"role": "standby_leader"}', '{"x": 1}']
)
def test_a_restart_body_pgactor_cannot_honour_is_a_400(replica: Node, body: str) -> None:
    assert replica.api.request("POST", "/restart", body).code == 400


# -- reload -----------------------------------------------------------------------------------


def test_reload_reaches_the_postmaster(replica: Node) -> None:
    reply = replica.api.request("POST", "/reload")
    assert (reply.code, reply.text) == (202, "reload scheduled\n")
    replica.got(replica.postmaster, ReloadPostgres)


def test_reload_or_restart_of_a_stopped_server_is_refused(start_node: StartNode) -> None:
    node = start_node(PG2, PG1, pg(Role.REPLICA, PgState.STOPPED))
    node.got(node.postmaster, StartPostgres)  # HA starts it; the fake leaves it stopped
    reload = node.api.request("POST", "/reload")
    assert (reload.code, reload.text) == (412, "PostgreSQL is not running\n")
    restart = node.api.request("POST", "/restart")  # not running, or HA is starting it again
    assert restart.code == 412
    assert node.postmaster.proxy().of(RestartPostgres).get() == []


# -- reinitialize -----------------------------------------------------------------------------


def test_a_replica_is_stopped_then_cloned_again_from_the_leader(replica: Node) -> None:
    reply = replica.api.request("POST", "/reinitialize", {"force": True})
    assert (reply.code, reply.text) == (200, "reinitialize started\n")
    replica.got(replica.postmaster, StopPostgres)
    (reinit,) = replica.got(replica.bootstrap, Reinitialize)
    assert reinit.sources == (Upstream(name=PG1, host="10.0.0.1", port=5432),)


def test_the_leader_is_never_reinitialized(primary: Node) -> None:
    reply = primary.api.request("POST", "/reinitialize")
    assert (reply.code, reply.text) == (412, "I am the leader, can not reinitialize\n")
    assert primary.postmaster.proxy().of(StopPostgres).get() == []


def test_reinitialize_while_an_action_runs_is_refused(replica: Node) -> None:
    replica.postmaster.stop()  # the stop never ends
    assert replica.api.request("POST", "/reinitialize").code == 200
    reply = replica.api.request("POST", "/reinitialize")
    assert reply.code == 412 and "an action is in progress" in reply.text


# -- config, through HA to the leader-lock actor ---------------------------------------------------


def test_a_config_edit_goes_through_ha_to_the_dcs(replica: Node) -> None:
    reply = replica.api.request("PATCH", "/config", {"ttl": 40})
    assert (reply.code, reply.json()["ttl"]) == (200, 40)
    (sent,) = replica.got(replica.lock, SetConfig)
    assert sent.expected == CONFIG
    assert sent.config == dataclasses.replace(CONFIG, ttl_s=40.0)


def test_a_config_edit_made_on_another_config_loses_with_409(replica: Node) -> None:
    changed = dataclasses.replace(CONFIG, ttl_s=60.0)
    replica.lock.proxy().set_cluster(dataclasses.replace(view(PG1), config=changed)).get()
    assert replica.api.request("PATCH", "/config", {"pause": True}).code == 409
