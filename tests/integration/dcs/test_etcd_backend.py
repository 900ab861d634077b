"""What only the etcd backend promises: key layout, Patroni compatibility, leases,
several hosts, compaction, authentication.  Real etcd, as the contract suite."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from actors.leader_lock.contract import DcsError, DcsParams
from actors.leader_lock.etcd import EtcdDcs
from actors.leader_lock.etcd_client import EtcdClient, KeyValue
from actors.leader_lock.etcd_session import lease_ttl
from actors.leader_lock.etcd_watch import EtcdWatcher, WatchEvent
from messages.base import Lsn, MemberName
from messages.cluster import MemberStatus, PgState
from messages.config import DynamicConfig, EtcdSettings

from .conftest import TIMING
from .etcd_server import EtcdServer, free_port
from .fault_proxy import FaultProxy
from .waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def raw(etcd_server: EtcdServer) -> Iterator[EtcdClient]:
    """A plain client for writing and reading keys behind the backend's back."""
    client = EtcdClient(EtcdSettings(hosts=(etcd_server.host,)), retry_timeout_s=3)
    yield client
    client.close()


@pytest.fixture
def clients(etcd_server: EtcdServer, scope: str) -> Iterator[list[EtcdDcs]]:
    made: list[EtcdDcs] = []
    yield made
    for client in made:
        client.close()


def make(
    made: list[EtcdDcs], server: EtcdServer, scope: str, name: str, **settings: object
) -> EtcdDcs:
    hosts = settings.pop("hosts", (server.host,))
    client = EtcdDcs(
        DcsParams(
            scope=scope, name=MemberName(name), namespace="/service/", ttl_s=3, retry_timeout_s=1.5
        ),
        settings=EtcdSettings(hosts=hosts, **settings),  # type: ignore[arg-type]
    )
    made.append(client)
    return client


def test_records_live_under_namespace_and_scope_bound_to_one_session_lease(
    etcd_server: EtcdServer, scope: str, clients: list[EtcdDcs], raw: EtcdClient
) -> None:
    a = make(clients, etcd_server, scope, "a")
    assert a.attempt_to_acquire_leader(Lsn(7), ("10.0.0.1", 5432), **TIMING)
    assert a.touch_member(MemberStatus(name=MemberName("a"), state=PgState.RUNNING))
    assert a.initialize(create_new=True)
    kvs, _ = raw.range_prefix(f"/service/{scope}/".encode())
    by_key = {kv.key.decode(): kv for kv in kvs}
    leader, member = by_key[f"/service/{scope}/leader"], by_key[f"/service/{scope}/members/a"]
    assert set(by_key) == {
        f"/service/{scope}/leader",
        f"/service/{scope}/members/a",
        f"/service/{scope}/initialize",
        f"/service/{scope}/status",
    }
    assert leader.lease != 0 and leader.lease == member.lease
    assert by_key[f"/service/{scope}/initialize"].lease == 0
    status = by_key[f"/service/{scope}/status"]
    assert status.lease == 0 and status.mod_revision == leader.mod_revision  # one transaction
    assert json.loads(status.value) == {
        "optime": 7,
        "last_leader": "a",
        "last_leader_clean": False,
        "conn_url": "postgres://10.0.0.1:5432/postgres",
    }
    fields = json.loads(leader.value)
    assert fields["leader"] == "a" and fields["optime"] == 7 and fields["ttl"] == 3
    assert fields["conn_url"] == "postgres://10.0.0.1:5432/postgres"
    assert json.loads(member.value)["state"] == "running"


def test_a_patroni_bare_name_leader_key_is_read_and_renewed_as_json(
    etcd_server: EtcdServer, scope: str, clients: list[EtcdDcs], raw: EtcdClient
) -> None:
    raw.put(f"/service/{scope}/leader".encode(), b"node1")
    node1 = make(clients, etcd_server, scope, "node1")
    leader = node1.refresh().leader
    assert leader is not None and (leader.name, leader.ttl_s) == ("node1", 3.0)
    assert node1.update_leader(Lsn(42), **TIMING)
    stored, _ = raw.range_prefix(f"/service/{scope}/leader".encode())
    assert json.loads(stored[0].value)["leader"] == "node1"
    assert json.loads(stored[0].value)["optime"] == 42


def test_a_record_that_does_not_parse_is_logged_and_treated_as_absent(
    etcd_server: EtcdServer,
    scope: str,
    clients: list[EtcdDcs],
    raw: EtcdClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw.put(f"/service/{scope}/config".encode(), b"{broken")
    raw.put(f"/service/{scope}/members/x".encode(), b"[1, 2]")
    raw.put(f"/service/{scope}/sync".encode(), b'{"leader": "a", "quorum": "many"}')
    a = make(clients, etcd_server, scope, "a")
    with caplog.at_level(logging.WARNING):
        view = a.refresh()
    assert view.config is None and view.members == () and view.sync.leader is None
    assert sum("ignoring bad" in r.getMessage() for r in caplog.records) == 3
    assert a.config_version() is not None  # so a fixed config can replace it by CAS


def test_the_next_host_is_tried_when_one_is_down(
    etcd_server: EtcdServer, scope: str, clients: list[EtcdDcs]
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    a = make(clients, etcd_server, scope, "a", hosts=(dead, etcd_server.host))
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    b = make(clients, etcd_server, scope, "b", hosts=(dead, etcd_server.host))
    changed: list[bool] = []
    b.watch(lambda: changed.append(True))
    wait_for(lambda: b.snapshot().leader, 3, "the watch via the second host")


class RecordingSink:
    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix
        self.reads: list[tuple[list[KeyValue], int]] = []
        self.events: list[WatchEvent] = []

    def install_read(self, kvs: list[KeyValue], revision: int) -> bool:
        self.reads.append((kvs, revision))
        return True

    def apply_events(self, events: Sequence[WatchEvent]) -> bool:
        self.events.extend(events)
        return True


def test_a_watch_behind_a_compaction_reads_everything_again(
    etcd_server: EtcdServer, scope: str, raw: EtcdClient
) -> None:
    prefix = f"/service/{scope}/".encode()
    raw.put(prefix + b"failover", b'{"member": "x"}')
    revision = raw.put(prefix + b"history", b"[]")
    raw.post("/v3/kv/compaction", {"revision": str(revision), "physical": True})
    sink = RecordingSink(prefix)
    watcher = EtcdWatcher(raw, sink, on_change=lambda: None)
    watcher.next_revision = 2  # as if it had been away for long: compacted since
    watcher.start()
    try:
        wait_for(lambda: sink.reads, 3, "a full read after the compaction")
        kvs, read_at = sink.reads[0]
        assert {kv.key for kv in kvs} == {prefix + b"failover", prefix + b"history"}
        assert read_at >= revision
        raw.put(prefix + b"failover", b'{"member": "y"}')
        wait_for(lambda: sink.events, 2, "live events after the read")
        assert sink.events[0].kv.value == b'{"member": "y"}'
    finally:
        watcher.stop()
    assert not watcher.alive


def test_a_lost_session_lease_is_replaced_and_the_member_record_rewritten(
    etcd_server: EtcdServer, scope: str, clients: list[EtcdDcs], raw: EtcdClient
) -> None:
    a = make(clients, etcd_server, scope, "a")
    status = MemberStatus(name=MemberName("a"))
    assert a.touch_member(status)
    kvs, _ = raw.range_prefix(f"/service/{scope}/members/a".encode())
    raw.lease_revoke(kvs[0].lease)  # as if it had expired during a long pause
    assert a.refresh().member(MemberName("a")) is None
    assert a.touch_member(status)  # the put finds the lease gone and gets a new one
    kvs, _ = raw.range_prefix(f"/service/{scope}/members/a".encode())
    assert kvs and kvs[0].lease != 0


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[EtcdServer]:
    """A server of its own (enabling auth would break every other test)."""
    server = EtcdServer(tmp_path)
    server.start()
    admin = EtcdClient(EtcdSettings(hosts=(server.host,)), retry_timeout_s=3)
    admin.post("/v3/auth/role/add", {"name": "root"})
    admin.post("/v3/auth/user/add", {"name": "root", "password": "s3cret"})
    admin.post("/v3/auth/user/grant", {"user": "root", "role": "root"})
    admin.post("/v3/auth/enable", {})
    admin.close()
    try:
        yield server
    finally:
        server.stop()


def test_authentication_with_a_username_and_password(auth_server: EtcdServer, scope: str) -> None:
    made: list[EtcdDcs] = []
    try:
        good = make(made, auth_server, scope, "a", username="root", password="s3cret")
        assert good.attempt_to_acquire_leader(Lsn(1), **TIMING)
        good.watch(lambda: None)
        assert good.update_leader(Lsn(2), **TIMING)
        anonymous = make(made, auth_server, scope, "b")
        with pytest.raises(DcsError):
            anonymous.refresh()
        wrong = make(made, auth_server, scope, "c", username="root", password="nope")
        with pytest.raises(DcsError):
            wrong.refresh()
    finally:
        for client in made:
            client.close()


def test_an_idle_stream_is_re_created_without_missing_a_change(
    etcd_server: EtcdServer, scope: str, raw: EtcdClient
) -> None:
    prefix = f"/service/{scope}/".encode()
    sink = RecordingSink(prefix)
    watcher = EtcdWatcher(raw, sink, on_change=lambda: None, idle_timeout_s=0.2)
    watcher.start()
    try:
        wait_for(lambda: sink.reads, 2, "the first read")
        before = raw.requests_made
        wait_for(lambda: raw.requests_made >= before + 3, 3, "idle streams to be re-created")
        for i in range(3):
            raw.put(prefix + b"history", f'[[{i + 1}, 0, ""]]'.encode())
        wait_for(lambda: len(sink.events) >= 3, 1, "every change")
        assert [e.kv.value for e in sink.events][-1] == b'[[3, 0, ""]]'
    finally:
        watcher.stop()
    assert not watcher.alive


@pytest.fixture
def proxy(etcd_server: EtcdServer) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(("127.0.0.1", etcd_server.client_port))
    yield fault_proxy
    fault_proxy.close()


def test_a_write_whose_answer_was_lost_is_recognised_as_ours(
    etcd_server: EtcdServer, scope: str, clients: list[EtcdDcs], proxy: FaultProxy
) -> None:
    """The txn was applied but its answer lost; the retry's compare fails, and the
    read-back (our exact bytes, our lease) shows the first attempt won."""
    a = make(clients, etcd_server, scope, "a", hosts=(proxy.host,))
    b = make(clients, etcd_server, scope, "b")
    a.touch_member(MemberStatus(name=MemberName("a")))  # the session lease is fresh now
    proxy.drop_next_response()
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert not proxy.armed, "no response was dropped"
    assert a.last_renew_started_at is not None
    leader = b.refresh().leader
    assert leader is not None and leader.name == "a"
    proxy.drop_next_response()
    assert a.set_config(DynamicConfig(), only_if_version=None)
    assert not proxy.armed
    assert b.refresh().config == DynamicConfig()


# -- the session lease follows the ttl; the status key ------------------------------------


def lease_of(raw: EtcdClient, key: str) -> tuple[KeyValue, int]:
    """The key and the TTL its lease was granted (0: bound to none)."""
    kvs, _ = raw.range_prefix(key.encode())
    (kv,) = [kv for kv in kvs if kv.key == key.encode()]
    return kv, raw.lease_time_to_live(kv.lease)[0] if kv.lease else 0


def test_the_leader_key_is_never_on_a_lease_shorter_than_its_records_ttl(
    etcd_server: EtcdServer, scope: str, clients: list[EtcdDcs], raw: EtcdClient
) -> None:
    a = make(clients, etcd_server, scope, "a")  # made with ttl 3
    member = MemberStatus(name=MemberName("a"))
    assert a.touch_member(member)
    leader_key, member_key = f"/service/{scope}/leader", f"/service/{scope}/members/a"
    assert a.attempt_to_acquire_leader(Lsn(1), ttl_s=2, retry_timeout_s=1.5)
    previous = 0
    for ttl in (2, 6, 3, 2.5, 10, 2):
        assert a.update_leader(Lsn(2), ttl_s=ttl, retry_timeout_s=1.5)
        kv, granted = lease_of(raw, leader_key)
        assert json.loads(kv.value)["ttl"] == ttl
        assert granted >= ttl and granted == lease_ttl(ttl)
        if previous and previous != granted:
            # The member key is still on the old lease (not revoked: it is there)...
            assert lease_of(raw, member_key)[0].lease != kv.lease
        assert a.touch_member(member)  # ... and moves to the new one at its next touch
        assert lease_of(raw, member_key)[0].lease == kv.lease
        previous = granted


def test_a_status_written_by_patroni_is_read_and_garbage_is_absent_with_a_warning(
    etcd_server: EtcdServer,
    scope: str,
    clients: list[EtcdDcs],
    raw: EtcdClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = f"/service/{scope}/status".encode()
    raw.put(key, b'{"optime": 67108960, "slots": {"b": 67108960}, "retain_slots": ["b"]}')
    view = make(clients, etcd_server, scope, "a").refresh()
    assert (view.last_leader_name, view.last_leader_optime) == (None, 67108960)
    assert not view.last_leader_clean
    raw.put(key, b'{"optime": "somewhere"}')
    with caplog.at_level(logging.WARNING):
        view = make(clients, etcd_server, scope, "b").refresh()
    assert (view.last_leader_name, view.last_leader_optime) == (None, 0)
    assert any("ignoring bad status" in r.getMessage() for r in caplog.records)


def test_the_status_costs_no_request_of_its_own(
    etcd_server: EtcdServer, scope: str, clients: list[EtcdDcs], raw: EtcdClient
) -> None:
    """Idle cost: a renewal is still one transaction (plus a keepalive when one is due)."""
    a = make(clients, etcd_server, scope, "a")
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    before = a.requests_made
    assert a.update_leader(Lsn(2), **TIMING)  # the lease was refreshed a moment ago
    assert a.requests_made == before + 1
    before = a.requests_made
    assert a.delete_leader(Lsn(3), clean=True)
    assert a.requests_made == before + 1
    kv, _ = lease_of(raw, f"/service/{scope}/status")
    assert json.loads(kv.value)["optime"] == 3


def test_reads_are_linearizable(
    etcd_server: EtcdServer, scope: str, clients: list[EtcdDcs]
) -> None:
    """No read asks for ``serializable``: a member cut off from the quorum (or one that
    fell behind) must fail a read rather than answer it from a stale state."""
    sent: list[dict[str, object]] = []

    class Recording(EtcdClient):
        def post(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
            sent.append({"path": path, **body})
            return super().post(path, body)

    a = make(clients, etcd_server, scope, "a")
    a._client = Recording(EtcdSettings(hosts=(etcd_server.host,)), retry_timeout_s=1.5)
    a.refresh()
    assert a.attempt_to_acquire_leader(Lsn(1), **TIMING)
    assert a.update_leader(Lsn(2), **TIMING)
    assert any(s["path"] == "/v3/kv/range" for s in sent)
    assert "serializable" not in json.dumps(sent)
