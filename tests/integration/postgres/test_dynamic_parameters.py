"""The cluster's postgresql.parameters (from the DCS view) applied by real PostmasterActors.

A primary and a streaming replica of their own, each under a running
PostmasterActor that hears the config as the leader-lock actor publishes it.
The node files set no max_connections (a node's own value would win over
the cluster's), so the DCS decides it.  The tests run in file order on the
same two servers; each states the whole parameter set it needs.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.client
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from actors.api import ApiActor
from actors.postgres import conffiles
from actors.postgres.controldata import controldata
from actors.runtime.actor import ask
from actors.runtime.context import Runtime
from messages.admin import NodeStatus
from messages.base import ActorName, MemberName
from messages.cluster import ClusterView, PgState, Role
from messages.config import DynamicConfig, PostgresSettings, RestApiSettings
from messages.dcs import DcsConfig
from messages.ha import ActionDone, ActionKind, Reason
from messages.postgres import (
    DescribeParameters,
    ParameterCatalogue,
    PostgresStatus,
    RestartPostgres,
)
from messages.runtime import Ping

from .actor_harness import Inbox, running_actor, tell
from .conftest import SCOPE, TEST_PARAMETERS, PgFactory, sql, try_sql, upstream_of, wait_for

pytestmark = pytest.mark.integration

NODE_PARAMETERS = {k: v for k, v in TEST_PARAMETERS.items() if k != "max_connections"}
NODE_PARAMETERS["wal_retrieve_retry_interval"] = "100ms"  # stream again soon after a restart
APPLIED_WITHIN_S = 3.0


@dataclasses.dataclass
class Node:
    settings: PostgresSettings
    actor: Any
    inbox: Inbox

    def show(self, name: str) -> str:
        return str(sql(self.settings, f"SHOW {name}")[0][0])

    def started_at(self) -> Any:
        return sql(self.settings, "SELECT pg_postmaster_start_time()")[0][0]

    def configure(self, parameters: dict[str, str]) -> None:
        """The config the leader-lock actor would publish after a config edit."""
        tell(self.actor, DcsConfig(config=DynamicConfig(postgresql_parameters=parameters)))

    def restart(self) -> ActionDone:
        before = len(self._restarts())
        tell(self.actor, RestartPostgres(timeout_s=30))
        wait_for(lambda: len(self._restarts()) > before, 40, "the restart to end")
        return self._restarts()[-1]

    def _restarts(self) -> list[ActionDone]:
        return [d for d in self.inbox.all(ActionDone) if d.kind is ActionKind.RESTART]

    def status(self) -> PostgresStatus:
        return self.inbox.all(PostgresStatus)[-1]

    def written(self, name: str) -> str | None:
        return conffiles.read_parameter(self.settings.data_dir, name)


@pytest.fixture(scope="module")
def nodes(pg: PgFactory) -> Iterator[tuple[Node, Node]]:
    primary_pm = pg.bootstrap_primary("dyn-primary", parameters=NODE_PARAMETERS)
    replica_pm = pg.clone(primary_pm, "dyn-replica", parameters=NODE_PARAMETERS)
    started = replica_pm.start(Role.REPLICA, upstream_of(primary_pm), 30)
    assert started.ok, started.detail
    with (
        running_actor(primary_pm.settings, "dyn-primary") as (p_actor, p_inbox),
        running_actor(replica_pm.settings, "dyn-replica") as (r_actor, r_inbox),
    ):
        yield (
            Node(primary_pm.settings, p_actor, p_inbox),
            Node(replica_pm.settings, r_actor, r_inbox),
        )


def _streaming(primary: Node) -> bool:
    rows = try_sql(primary.settings, "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'")
    return bool(rows)


def test_a_reloadable_parameter_reaches_every_node_without_a_restart_and_stays(
    nodes: tuple[Node, Node],
) -> None:
    primary, replica = nodes
    assert primary.show("work_mem") == replica.show("work_mem") == "4MB"
    since = {node.settings.data_dir: node.started_at() for node in nodes}
    for node in nodes:
        node.configure({"work_mem": "8MB"})
    for node in nodes:
        wait_for(lambda n=node: n.show("work_mem") == "8MB", APPLIED_WITHIN_S, "work_mem = 8MB")
        assert node.started_at() == since[node.settings.data_dir], "reloaded, not restarted"
    for node in (replica, primary):
        assert node.restart().ok
        assert node.show("work_mem") == "8MB"
    wait_for(lambda: _streaming(primary), 10, "the replica to stream again")


def test_a_change_during_an_action_is_applied_when_it_ends(
    nodes: tuple[Node, Node], caplog: pytest.LogCaptureFixture
) -> None:
    primary, _ = nodes
    caplog.set_level(logging.INFO)
    before = len(primary.inbox.all(ActionDone))
    tell(primary.actor, RestartPostgres(timeout_s=30))
    primary.configure({"work_mem": "7MB"})  # heard while the restart runs in the worker
    wait_for(lambda: len(primary.inbox.all(ActionDone)) > before, 40, "the restart to end")
    wait_for(lambda: primary.show("work_mem") == "7MB", APPLIED_WITHIN_S, "work_mem = 7MB")
    assert "postgresql.parameters changed: applied once restart ends" in caplog.text


def test_a_postmaster_parameter_is_pending_until_a_restart_applies_it(
    nodes: tuple[Node, Node],
) -> None:
    primary, _ = nodes
    assert primary.show("max_files_per_process") == "1000"
    primary.configure({"work_mem": "8MB", "max_files_per_process": "900"})
    primary.inbox.wait(PostgresStatus, lambda s: s.pending_restart, 5, "pending_restart")
    assert primary.show("max_files_per_process") == "1000", "not applied before a restart"
    assert primary.show("work_mem") == "8MB", "the reloadable one is applied meanwhile"
    assert primary.restart().ok
    assert primary.show("max_files_per_process") == "900"
    wait_for(lambda: not primary.status().pending_restart, 5, "pending_restart cleared")


def test_values_the_server_refuses_are_not_written_and_the_rest_are_applied(
    nodes: tuple[Node, Node], caplog: pytest.LogCaptureFixture
) -> None:
    primary, _ = nodes
    base = {"work_mem": "6MB", "max_files_per_process": "900"}
    primary.configure(base)
    wait_for(lambda: primary.show("work_mem") == "6MB", APPLIED_WITHIN_S, "work_mem = 6MB")
    bad = {**base, "work_mem": "abc", "max_connections": "0", "maintenance_work_mem": "100MB"}
    primary.configure(bad)
    wait_for(
        lambda: primary.show("maintenance_work_mem") == "100MB",
        APPLIED_WITHIN_S,
        "the good value applied",
    )
    assert primary.show("work_mem") == "6MB"  # the value written before stays
    assert primary.written("work_mem") == "6MB"
    assert primary.written("max_connections") == "100"  # pgactor's default, not "0"
    assert "postgresql.parameters.work_mem = 'abc' refused ('6MB' kept)" in caplog.text
    assert "expected an integer from 64 to 2147483647 (in units of kB)" in caplog.text
    assert "postgresql.parameters.max_connections = '0' refused (not set)" in caplog.text
    assert "expected an integer from 1 to 262143" in caplog.text
    assert primary.restart().ok, "the files hold nothing the server refuses"
    assert (primary.show("work_mem"), primary.show("max_connections")) == ("6MB", "100")


def test_a_replica_never_runs_below_the_primarys_max_connections(
    nodes: tuple[Node, Node], caplog: pytest.LogCaptureFixture
) -> None:
    primary, replica = nodes
    raised = {"max_connections": "150"}
    for node in nodes:
        node.configure(raised)
    for node in nodes:  # raised: written at once, on the replica too
        wait_for(lambda n=node: n.written("max_connections") == "150", 5, "150 written")
        node.inbox.wait(PostgresStatus, lambda s: s.pending_restart, 5, "pending_restart")
    for node in (replica, primary):  # the replica first, as it must be
        assert node.restart().ok
        assert node.show("max_connections") == "150"
    wait_for(lambda: _streaming(primary), 10, "the replica to stream")

    lowered = {"max_connections": "120"}
    for node in nodes:
        node.configure(lowered)
    wait_for(lambda: primary.written("max_connections") == "120", 5, "120 on the primary")
    assert replica.restart().ok, "a replica restarted first keeps the primary's value"
    assert replica.show("max_connections") == replica.written("max_connections") == "150"
    assert "max_connections is 150 on this replica, not the configured 120" in caplog.text
    assert "the primary runs with 150" in caplog.text
    assert replica.status().pending_restart, "it runs above the configured value"

    assert primary.restart().ok
    assert primary.show("max_connections") == "120"
    wait_for(
        lambda: controldata(replica.settings).get("max_connections setting") == "120",
        10,
        "the replica to replay the primary's new value",
    )
    assert replica.restart().ok
    assert replica.show("max_connections") == "120"
    for node in nodes:
        wait_for(lambda n=node: not n.status().pending_restart, 5, "pending_restart cleared")


def test_a_replica_paused_by_its_primarys_higher_settings_says_so_until_restarted(
    nodes: tuple[Node, Node],
) -> None:
    """The order a failover can bring: the primary runs with more max_connections
    than a running replica started with.  Replaying that change, PostgreSQL pauses
    the replica for good; its status must say why (the HA rule then restarts it,
    and the restart takes the primary's value from pg_control)."""
    primary, replica = nodes
    higher = str(
        max(int(primary.show("max_connections")), int(replica.show("max_connections"))) + 40
    )
    primary.configure({"max_connections": higher})  # the primary alone
    wait_for(lambda: primary.written("max_connections") == higher, 5, f"{higher} written")
    assert primary.restart().ok
    blocked = replica.inbox.wait(PostgresStatus, lambda s: s.hot_standby_blocked, 20, "blocked")
    assert blocked.replay_paused and blocked.role is Role.REPLICA
    assert replica.restart().ok
    assert replica.show("max_connections") == higher
    wait_for(lambda: _streaming(primary), 10, "the replica to stream again")

    def replaying() -> bool:
        last = replica.status()
        return last.streaming_from is not None and not last.replay_paused

    wait_for(replaying, 15, "the replica's status: streaming, replay not paused")
    assert not replica.status().hot_standby_blocked


def test_the_api_refuses_a_value_the_servers_catalogue_refuses(nodes: tuple[Node, Node]) -> None:
    primary, _ = nodes
    registry = _runtime(primary).registry
    reply = ask(registry, ActorName("postmaster"), DescribeParameters(), timeout_s=5)
    assert isinstance(reply, ParameterCatalogue) and reply.source == "pg_settings"
    spec = {p.name: p for p in reply.parameters}["max_connections"]
    assert (spec.min_value, spec.max_value, spec.context) == (1, 262143, "postmaster")
    with _api(primary) as port:
        code, body = _patch(port, {"postgresql": {"parameters": {"max_connections": "abc"}}})
    assert code == 400
    assert body == (
        "invalid config: postgresql.parameters.max_connections: 'abc' is not a number;"
        " expected an integer from 1 to 262143\n"
    )


def _runtime(node: Node) -> Runtime:
    runtime: Runtime = node.actor.proxy().runtime.get()
    return runtime


@contextlib.contextmanager
def _api(node: Node) -> Iterator[int]:
    """A real ApiActor beside the node's PostmasterActor, with a status to edit; its port."""
    runtime = _runtime(node)
    registry = runtime.registry
    settings = RestApiSettings(listen_port=0, username="u", password="p")
    api = ApiActor.start(name=ActorName("api"), runtime=runtime, settings=settings, scope=SCOPE)
    try:
        status = NodeStatus(
            name=MemberName("dyn-primary"),
            scope=SCOPE,
            role=Role.PRIMARY,
            state=PgState.RUNNING,
            reason=Reason.ACTION_IN_PROGRESS,
            cluster=ClusterView(config=DynamicConfig()),
        )
        registry.tell(ActorName("api"), status)
        ask(registry, ActorName("api"), Ping(), timeout_s=5)  # handled: the mailbox is FIFO
        yield api.proxy().port.get(timeout=10)
    finally:
        api.stop()


def _patch(port: int, body: dict[str, Any]) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    auth = {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}
    try:
        conn.request("PATCH", "/config", json.dumps(body), auth)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()
