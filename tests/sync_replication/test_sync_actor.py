"""SyncReplicationActor with small fake postmaster and leader-lock actors; then the real
LeaderLockActor's answer to sync key writes.

The fakes share one :class:`Cluster`: postgresql.conf's synchronous_standby_names,
the DCS sync key, and which standbys stream.  Each records, in one log, every
change it applies in the order applied, and replies as the real chain would:
a fresh PostgresStatus or DcsView to "sync_replication" (standing in for the
HA actor's forwarding) and, for the leader lock, a SyncStateWritten.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from sync_builders import OFF_CONFIG, ON, config, key, member, pg, row, view

from actors.leader_lock.actor import LeaderLockActor
from actors.leader_lock.contract import Dcs, DcsParams, DcsUnreachable, VersionedView
from actors.runtime.actor import BaseActor, ask, handles
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from actors.runtime.timers import Scheduler
from actors.sync_replication import SyncReplicationActor
from actors.sync_replication.names import parse
from messages.base import ActorName, MemberName
from messages.cluster import ClusterView, FailoverRequest, HistoryEntry, MemberStatus, SyncState
from messages.config import DynamicConfig
from messages.dcs import DcsView
from messages.postgres import PostgresStatus, SetSynchronousStandbyNames
from messages.runtime import Ping, Resend
from messages.sync import DeleteSyncState, SyncStateWritten, WriteOutcome, WriteSyncState
from node.tree import new_registry

SYNC, POSTMASTER, LEADER_LOCK = (
    ActorName("sync_replication"),
    ActorName("postmaster"),
    ActorName("leader_lock"),
)


@dataclasses.dataclass
class Cluster:
    """What the fakes share: the server, the DCS, and the log of applied changes."""

    names: str = ""
    sync: SyncState = dataclasses.field(default_factory=lambda: SyncState())
    streaming: set[str] = dataclasses.field(default_factory=set)
    nosync: set[str] = dataclasses.field(default_factory=set)
    config: DynamicConfig = ON
    log: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def status(self) -> PostgresStatus:
        parsed = parse(self.names)
        rows = []
        for name in sorted(self.streaming):
            named = parsed.wildcard or name in parsed.named
            state = ("quorum" if parsed.method.value == "ANY" else "sync") if named else "async"
            rows.append(row(name, state, flush=2000))
        return pg(self.names, *rows)

    def view(self) -> ClusterView:
        members = tuple(member(n, nosync=n in self.nosync) for n in ("p", "a", "b", "c"))
        return view(self.sync, cfg=self.config, members=members)

    def kinds(self) -> list[str]:
        with self.lock:
            return [kind for kind, _ in self.log]


class FakePostmaster(BaseActor):
    def __init__(self, *, cluster: Cluster, **base: Any) -> None:
        super().__init__(**base)
        self.cluster = cluster

    @handles(SetSynchronousStandbyNames)
    def handle_names(self, msg: SetSynchronousStandbyNames) -> None:
        with self.cluster.lock:
            self.cluster.names = msg.value
            self.cluster.log.append(("names", msg.value))
        self.handle_resend(Resend())

    @handles(Resend)
    def handle_resend(self, msg: Resend) -> None:
        with self.cluster.lock:
            status = self.cluster.status()
        self.send(SYNC, status)


class FakeLeaderLock(BaseActor):
    def __init__(self, *, cluster: Cluster, **base: Any) -> None:
        super().__init__(**base)
        self.cluster = cluster

    @handles(WriteSyncState, DeleteSyncState)
    def handle_write(self, msg: WriteSyncState | DeleteSyncState) -> None:
        with self.cluster.lock:
            ok = self.cluster.sync == msg.expected
            if ok:
                new = msg.state if isinstance(msg, WriteSyncState) else SyncState()
                self.cluster.sync = new
                self.cluster.log.append(("key", new))
            current = self.cluster.sync
        self.handle_resend(Resend())
        outcome = WriteOutcome.APPLIED if ok else WriteOutcome.REJECTED
        answer = SyncStateWritten(request_id=msg.request_id, outcome=outcome, current=current)
        self.send(msg.reply_to, answer)

    @handles(Resend)
    def handle_resend(self, msg: Resend) -> None:
        with self.cluster.lock:
            cluster = self.cluster.view()
        self.send(SYNC, DcsView(view=cluster))


@dataclasses.dataclass
class Node:
    cluster: Cluster
    registry: Registry

    def changed(self) -> None:
        """The world changed: both sources report, as the HA actor would forward."""
        self.registry.tell(POSTMASTER, Resend())
        self.registry.tell(LEADER_LOCK, Resend())

    def settle(self, timeout_s: float = 10.0) -> None:
        """Wait until a full round of reports changes nothing any more."""
        deadline = time.monotonic() + timeout_s
        last: list[tuple[str, Any]] | None = None
        while True:
            for name in (POSTMASTER, LEADER_LOCK, SYNC):
                ask(self.registry, name, Ping(), timeout_s=5)
            with self.cluster.lock:
                now = list(self.cluster.log)
            if now == last:
                return
            assert time.monotonic() < deadline, f"did not settle: {now}"
            last = now
            self.changed()
            time.sleep(0.02)


@pytest.fixture
def start() -> Iterator[Callable[..., Node]]:
    refs: list[Any] = []

    def run(cluster: Cluster) -> Node:
        registry = new_registry()
        runtime = Runtime(registry=registry)
        for name, cls in ((POSTMASTER, FakePostmaster), (LEADER_LOCK, FakeLeaderLock)):
            refs.append(cls.start(name=name, runtime=runtime, cluster=cluster))
        refs.append(SyncReplicationActor.start(name=SYNC, runtime=runtime, member=MemberName("p")))
        node = Node(cluster=cluster, registry=registry)
        node.settle()
        return node

    yield run
    for ref in reversed(refs):
        ref.stop()


def index(log: Sequence[tuple[str, Any]], entry: tuple[str, Any]) -> int:
    return list(log).index(entry)


# -- the order of rule 3 -------------------------------------------------------------------


def test_a_standby_is_named_in_postgresql_conf_before_it_is_published(
    start: Callable[..., Node],
) -> None:
    node = start(Cluster(streaming={"a"}))
    log = node.cluster.log
    assert node.cluster.names == 'FIRST 1 ("a")'
    assert node.cluster.sync == key("a")
    assert index(log, ("names", 'FIRST 1 ("a")')) < index(log, ("key", key("a")))


def test_a_standby_that_left_is_unpublished_before_postgresql_conf_drops_it(
    start: Callable[..., Node],
) -> None:
    node = start(Cluster(streaming={"a"}))
    with node.cluster.lock:
        node.cluster.streaming.clear()
        node.cluster.log.clear()
    node.changed()
    node.settle()
    assert node.cluster.log == [("key", key()), ("names", "")]


def test_the_next_standby_replaces_one_that_left_in_three_ordered_steps(
    start: Callable[..., Node],
) -> None:
    node = start(Cluster(streaming={"a", "b"}))
    assert node.cluster.sync == key("a")
    with node.cluster.lock:
        node.cluster.streaming.discard("a")
        node.cluster.log.clear()
    node.changed()
    node.settle()
    assert node.cluster.log == [
        ("key", key()),
        ("names", 'FIRST 1 ("b")'),
        ("key", key("b")),
    ]


def test_strict_mode_without_a_standby_blocks_writes_and_publishes_nobody(
    start: Callable[..., Node],
) -> None:
    node = start(Cluster(config=config(ON, synchronous_mode_strict=True)))
    assert node.cluster.names == "*"
    assert node.cluster.sync == key()
    with node.cluster.lock:
        node.cluster.streaming.add("a")
    node.changed()
    node.settle()
    assert (node.cluster.names, node.cluster.sync) == ('FIRST 1 ("a")', key("a"))


def test_a_standby_tagged_nosync_is_never_named_nor_published(
    start: Callable[..., Node],
) -> None:
    node = start(Cluster(streaming={"a", "b"}, nosync={"a"}))
    assert node.cluster.names == 'FIRST 1 ("b")'
    assert node.cluster.sync == key("b")
    for kind, value in node.cluster.log:
        assert "a" not in (parse(value).named if kind == "names" else value.sync_standbys)


def test_turning_synchronous_mode_off_deletes_the_key_before_clearing_the_names(
    start: Callable[..., Node],
) -> None:
    node = start(Cluster(streaming={"a"}))
    with node.cluster.lock:
        node.cluster.config = OFF_CONFIG
        node.cluster.log.clear()
    node.changed()
    node.settle()
    assert node.cluster.log == [("key", SyncState()), ("names", "")]


def test_a_fresh_actor_restates_the_names_before_its_first_publish(
    start: Callable[..., Node],
) -> None:
    cluster = Cluster(names='FIRST 1 ("a")', sync=key(), streaming={"a"})
    node = start(cluster)
    assert node.cluster.log == [("names", 'first 1 ("a")'), ("key", key("a"))]


# -- the real LeaderLockActor answers sync key writes ------------------------------------------


class MemoryDcs(Dcs):
    """Just enough of a DCS for the sync key: a versioned value, and a switch to go dark."""

    def __init__(self) -> None:
        super().__init__(
            DcsParams(
                scope="scope",
                name=MemberName("p"),
                namespace="/service",
                ttl_s=30,
                retry_timeout_s=10,
            )
        )
        self.sync: SyncState | None = None
        self.version = 0
        self.dark = False
        self.answered = 0
        """Requests answered: the actor believes the store reachable only when this grows."""

    def versioned_snapshot(self) -> VersionedView:
        sync = self.sync if self.sync is not None else SyncState()
        version = str(self.version) if self.sync is not None else None
        return VersionedView(view=ClusterView(sync=sync), sync_version=version)

    def refresh(self) -> ClusterView:
        if self.dark:
            raise DcsUnreachable("no answer")
        self.answered += 1
        return self.snapshot()

    def watch(self, on_change: Callable[[], None]) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def requests_made(self) -> int:
        return self.answered

    @property
    def answered_requests(self) -> int:
        return self.answered

    @property
    def last_renew_started_at(self) -> float | None:
        return None

    def set_sync_state(self, state: SyncState, *, only_if_version: str | None) -> bool:
        if self.dark:
            raise DcsUnreachable("no answer")
        self.answered += 1
        current = str(self.version) if self.sync is not None else None
        if only_if_version != current:
            return False
        self.sync, self.version = state, self.version + 1
        return True

    def delete_sync_state(self, *, only_if_version: str | None = None) -> bool:
        self.answered += 1
        if only_if_version is not None and only_if_version != str(self.version):
            return False
        self.sync = None
        return True

    def _acquire_leader(self, *args: Any) -> bool:
        return False

    def _update_leader(self, *args: Any) -> bool:
        return False

    def delete_leader(self, *args: Any, **kwargs: Any) -> bool:
        return False

    def initialize(self, sysid: str = "", create_new: bool = True) -> bool:
        return False

    def cancel_initialization(self) -> bool:
        return False

    def touch_member(self, status: MemberStatus) -> bool:
        return True

    def set_config(self, config: DynamicConfig, *, only_if_version: str | None) -> bool:
        return False

    def set_failover(self, req: FailoverRequest) -> bool:
        return False

    def delete_failover(self) -> bool:
        return True

    def set_history(self, history: Sequence[HistoryEntry]) -> bool:
        return True


class Inbox(BaseActor):
    """Records what reaches it."""

    def __init__(self, **base: Any) -> None:
        super().__init__(**base)
        self.got: list[Any] = []

    @handles(SyncStateWritten, DcsView)
    def handle_any(self, msg: Any) -> None:
        self.got.append(msg)


@pytest.fixture
def leader_lock() -> Iterator[tuple[Registry, MemoryDcs, Any]]:
    registry, scheduler, dcs = new_registry(), Scheduler(), MemoryDcs()
    scheduler.start()
    runtime = Runtime(registry=registry, scheduler=scheduler)
    inbox = Inbox.start(name=SYNC, runtime=runtime)
    ha = Inbox.start(name=ActorName("ha"), runtime=runtime)
    actor = LeaderLockActor.start(
        name=LEADER_LOCK, runtime=runtime, backend_factory=lambda: dcs, conn=("127.0.0.1", 5432)
    )
    yield registry, dcs, inbox
    for ref in (actor, ha, inbox):
        ref.stop()
    scheduler.stop()


def answers(registry: Registry, inbox: Any) -> list[SyncStateWritten]:
    ask(registry, LEADER_LOCK, Ping(), timeout_s=5)
    ask(registry, SYNC, Ping(), timeout_s=5)
    got: list[Any] = inbox.proxy().got.get(timeout=5)
    return [m for m in got if isinstance(m, SyncStateWritten)]


def test_the_leader_lock_writes_the_key_only_over_the_expected_one_and_always_answers(
    leader_lock: tuple[Registry, MemoryDcs, Any],
) -> None:
    registry, dcs, inbox = leader_lock
    write = WriteSyncState(request_id=1, state=key("a"), expected=SyncState(), reply_to=SYNC)
    registry.tell(LEADER_LOCK, write)
    stale = dataclasses.replace(write, request_id=2, state=key("b"))  # still expects no key
    registry.tell(LEADER_LOCK, stale)
    got = answers(registry, inbox)
    assert [(a.request_id, a.outcome, a.current) for a in got] == [
        (1, WriteOutcome.APPLIED, key("a")),
        (2, WriteOutcome.REJECTED, key("a")),
    ]
    assert dcs.sync == key("a")


def test_a_write_the_dcs_did_not_answer_has_an_unknown_outcome(
    leader_lock: tuple[Registry, MemoryDcs, Any],
) -> None:
    registry, dcs, inbox = leader_lock
    dcs.dark = True
    registry.tell(
        LEADER_LOCK,
        WriteSyncState(request_id=7, state=key("a"), expected=SyncState(), reply_to=SYNC),
    )
    (got,) = answers(registry, inbox)
    assert (got.request_id, got.outcome) == (7, WriteOutcome.UNKNOWN)


def test_the_leader_lock_deletes_the_key_it_was_shown(
    leader_lock: tuple[Registry, MemoryDcs, Any],
) -> None:
    registry, dcs, inbox = leader_lock
    dcs.sync, dcs.version = key("a"), 4
    registry.tell(LEADER_LOCK, DeleteSyncState(request_id=3, expected=key("a"), reply_to=SYNC))
    (got,) = answers(registry, inbox)
    assert (got.outcome, got.current, dcs.sync) == (WriteOutcome.APPLIED, SyncState(), None)
