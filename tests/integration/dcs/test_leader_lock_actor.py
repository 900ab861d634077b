"""The real LeaderLockActor over each real backend, with a fake HA actor that collects
what it reports (DcsView, LockResult), and a fake postmaster (DcsConfig).

What only the actor can get right: the reachability it publishes comes from real
round-trips (a frozen store stays unreachable however many touches the cache
answers), the LockResult says which ttl the record was written with, and a release
hands its position and clean flag to the store.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actors.leader_lock.actor import LeaderLockActor
from actors.runtime.actor import BaseActor, handles
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from actors.runtime.timers import Scheduler
from messages.base import ActorName, Lsn, MemberName, Message
from messages.cluster import ClusterView, FailoverRequest, MemberStatus, PgState
from messages.codec import encode
from messages.config import DynamicConfig
from messages.dcs import (
    AcquireLock,
    ClearFailover,
    ConfigOutcome,
    ConfigResult,
    DcsConfig,
    DcsView,
    FailoverResult,
    LockOp,
    LockResult,
    ReleaseLock,
    RenewLock,
    SetConfig,
    SetFailover,
)
from messages.dcs import TouchMember as Touch
from messages.runtime import Ping, Resend
from node.tree import new_registry

from .conftest import Harness
from .waiting import wait_for

pytestmark = pytest.mark.integration

A, B = MemberName("a"), MemberName("b")
LEADER_LOCK, HA = ActorName("leader_lock"), ActorName("ha")
POSTMASTER = ActorName("postmaster")
RETRY_S = 1.0


class FakeHa(BaseActor):
    """Collects what the leader-lock actor reports, stamped with when it arrived (as the
    postmaster too: the registry routes only DcsConfig to that name)."""

    def __init__(self, *, got: list[tuple[float, Message]], **base: Any) -> None:
        super().__init__(**base)
        self.got = got

    @handles(DcsView, LockResult, ConfigResult, FailoverResult, DcsConfig)
    def collect(self, msg: Message) -> None:
        self.got.append((time.monotonic(), msg))


@dataclasses.dataclass
class Node:
    registry: Registry
    got: list[tuple[float, Message]]

    def tell(self, msg: Message) -> None:
        assert self.registry.tell(LEADER_LOCK, msg)

    def views(self, since: float = 0.0) -> list[tuple[float, DcsView]]:
        return [(t, m) for t, m in list(self.got) if isinstance(m, DcsView) and t >= since]

    def configs(self) -> list[DcsConfig]:
        """What the postmaster heard, once everything already sent to it has arrived."""
        ref = self.registry.get(POSTMASTER)
        assert ref is not None
        ref.ask(encode(Ping()), timeout=5)  # behind anything the lock actor told it before
        return [m for _, m in list(self.got) if isinstance(m, DcsConfig)]

    def result(self, op: LockOp, since: float) -> LockResult | None:
        found = [m for t, m in list(self.got) if isinstance(m, LockResult) and t >= since]
        return next((m for m in found if m.op is op), None)

    def lock(self, msg: Message, op: LockOp, timeout_s: float = 5.0) -> LockResult:
        sent_at = time.monotonic()
        self.tell(msg)
        return wait_for(lambda: self.result(op, sent_at), timeout_s, f"the {op.value} result")


@pytest.fixture
def node(backend_factory: Harness) -> Iterator[Node]:
    """The actor for member a, made with ttl 20 (so etcd's touches need no keepalive for
    10 s, as Kubernetes' need none at all) and retry_timeout 1 s."""
    registry, scheduler = new_registry(), Scheduler()
    scheduler.start()
    runtime = Runtime(registry=registry, scheduler=scheduler)
    got: list[tuple[float, Message]] = []
    ha = FakeHa.start(name=HA, runtime=runtime, got=got)
    registry.register(HA, ha)
    postmaster = FakeHa.start(name=POSTMASTER, runtime=runtime, got=got)
    registry.register(POSTMASTER, postmaster)
    actor = LeaderLockActor.start(
        name=LEADER_LOCK,
        runtime=runtime,
        backend_factory=lambda: backend_factory.make(A, ttl_s=20, retry_timeout_s=RETRY_S),
        conn=("127.0.0.1", 5432),
    )
    registry.register(LEADER_LOCK, actor)
    result = Node(registry, got)
    wait_for(lambda: any(v.reachable for _, v in result.views()), 5, "the first read")
    try:
        yield result
    finally:
        for ref in (actor, ha, postmaster):
            ref.stop()
        scheduler.stop()


def test_a_frozen_store_stays_unreachable_however_many_touches_the_cache_answers(
    node: Node, backend_factory: Harness
) -> None:
    status = MemberStatus(name=A, state=PgState.RUNNING)
    node.tell(Touch(status=status))

    def landed() -> bool:
        node.tell(Resend())  # a write of our own is not news to the watch: ask for a view
        return any(v.view.member(A) == status for _, v in node.views())

    wait_for(landed, 3, "the touch to land", poll_s=0.1)
    stop_touching = threading.Event()
    with backend_factory.stalled():
        frozen_at = time.monotonic()
        node.tell(Touch(status=MemberStatus(name=A, state=PgState.STOPPED)))  # a real write
        lost_at, _ = wait_for(
            lambda: next(((t, v) for t, v in node.views(frozen_at) if not v.reachable), None),
            RETRY_S + 2,
            "the actor to report the store unreachable",
        )

        def keep_touching() -> None:  # identical to what the cache holds: no request
            while not stop_touching.wait(0.1):
                node.tell(Touch(status=status))

        toucher = threading.Thread(target=keep_touching)
        toucher.start()
        try:
            wait_for(lambda: time.monotonic() > lost_at + 3 * RETRY_S, 5, "a frozen while")
        finally:
            stop_touching.set()
            toucher.join()
        during = node.views(lost_at)
        resumed_at = time.monotonic()
    assert during  # the unreachable report itself, and the failed retries since
    assert [v.reachable for _, v in during] == [False] * len(during)
    back_at, _ = wait_for(
        lambda: next(((t, v) for t, v in node.views(resumed_at) if v.reachable), None),
        RETRY_S + 4,
        "a real request to prove the store back",
    )
    assert back_at >= resumed_at


def test_the_lock_result_says_which_ttl_the_record_was_written_with(
    node: Node, backend_factory: Harness
) -> None:
    acquired = node.lock(AcquireLock(optime=Lsn(5), ttl_s=2, retry_timeout_s=1), LockOp.ACQUIRE)
    assert acquired.ok and acquired.ttl_s == 2
    renewed = node.lock(RenewLock(optime=Lsn(6), ttl_s=6, retry_timeout_s=1), LockOp.RENEW)
    assert renewed.ok and renewed.ttl_s == 6 and renewed.started_at >= acquired.started_at
    leader = backend_factory.make(B).refresh().leader
    assert leader is not None and (leader.name, leader.ttl_s, leader.optime) == (A, 6, 6)
    wait_for(
        lambda: any(v.view.leader and v.view.leader.ttl_s == 6 for _, v in node.views()),
        2,
        "the actor's own view to show ttl 6",
    )
    released = node.lock(ReleaseLock(), LockOp.RELEASE)
    assert released.ok and released.ttl_s == 0


def test_a_release_hands_its_position_and_clean_stop_to_the_store(
    node: Node, backend_factory: Harness
) -> None:
    assert node.lock(AcquireLock(optime=Lsn(5), ttl_s=6, retry_timeout_s=1), LockOp.ACQUIRE).ok
    assert node.lock(RenewLock(optime=Lsn(800), ttl_s=6, retry_timeout_s=1), LockOp.RENEW).ok
    assert node.lock(ReleaseLock(optime=Lsn(900), clean=True), LockOp.RELEASE).ok
    view = backend_factory.make(B).refresh()  # a node that has just started
    assert view.leader is None
    assert (view.last_leader_name, view.last_leader_optime, view.last_leader_clean) == (
        A,
        900,
        True,
    )
    wait_for(
        lambda: any(v.view.last_leader_clean for _, v in node.views()),
        2,
        "the actor's own view to show the clean release",
    )


def test_a_touch_carries_the_live_timing_to_the_record_and_the_retry_budget(
    node: Node,
) -> None:
    """A replica makes no lock calls: its member record's lease and its calls' retry
    budget follow the config through its touches (one source of truth for timing)."""
    node.tell(Touch(status=MemberStatus(name=A), ttl_s=7, retry_timeout_s=1.5))
    actor = node.registry.get(LEADER_LOCK)
    assert actor is not None

    def adopted() -> bool:
        backend = actor.proxy().backend.get(timeout=5)
        return (backend.ttl_s, backend.retry_timeout_s) == (7, 1.5)

    wait_for(adopted, 3, "the backend to adopt the touch's timing")


def test_a_write_of_our_own_is_published_at_once(node: Node) -> None:
    """The watch does not report what this member wrote itself (the cache already
    holds it), so the actor must publish it: a failover request written through the
    named candidate's own console was never seen by its HA core, which went on
    waiting for a request it had carried (issue 12 item 4)."""
    request = FailoverRequest(candidate=A)

    def running(view: ClusterView) -> bool:
        me = view.member(A)
        return me is not None and me.state is PgState.RUNNING

    writes: list[tuple[Message, Callable[[ClusterView], bool]]] = [
        (Touch(status=MemberStatus(name=A, state=PgState.RUNNING)), running),
        (SetFailover(request=request), lambda v: v.failover == request),
        (ClearFailover(), lambda v: v.failover is None),
    ]
    for msg, shows in writes:
        sent_at = time.monotonic()
        node.tell(msg)
        wait_for(
            lambda shows=shows, since=sent_at: any(shows(v.view) for _, v in node.views(since)),
            3,
            f"a view that shows {type(msg).__name__}",
        )


def test_a_write_the_store_never_answered_is_reported_as_unknown_not_failed(
    node: Node, backend_factory: Harness
) -> None:
    """etcd applies a request it had buffered when it thaws: an operator told that a
    resume failed found the cluster resumed (failover back on) a moment later."""
    request = FailoverRequest(leader=A, candidate=B)
    with backend_factory.stalled():
        sent_at = time.monotonic()
        node.tell(SetFailover(request=request, request_id="f1", reply_to=HA))
        node.tell(SetConfig(config=DynamicConfig(pause=True), request_id="c1", reply_to=HA))

        def outcomes() -> list[FailoverResult | ConfigResult] | None:
            found = [m for t, m in list(node.got) if t >= sent_at]
            answers = [m for m in found if isinstance(m, FailoverResult | ConfigResult)]
            return answers if len(answers) >= 2 else None

        answers = wait_for(outcomes, RETRY_S * 4 + 5, "both writes' outcomes")
    assert [(m.request_id, m.outcome) for m in answers] == [
        ("f1", ConfigOutcome.UNKNOWN),
        ("c1", ConfigOutcome.UNKNOWN),
    ]
    assert all("may still take effect" in m.detail for m in answers)


def test_the_config_is_published_once_per_change_and_again_after_a_resend(node: Node) -> None:
    """An idle cluster's views are renewals and member records: the postmaster, which
    needs only the config, must not wake for each of them (issue 16)."""
    wait_for(lambda: node.configs() or None, 5, "the first config")
    first = len(node.configs())
    for lsn in (1, 2, 3):  # three member records, three views, one config
        sent_at = time.monotonic()
        node.tell(Touch(status=MemberStatus(name=A, state=PgState.RUNNING, wal_position=Lsn(lsn))))
        wait_for(
            lambda since=sent_at, lsn=lsn: any(  # type: ignore[misc]
                m.wal_position == lsn for _, v in node.views(since) for m in v.view.members
            ),
            5,
            f"the view with lsn {lsn}",
        )
    assert len(node.configs()) == first
    edited = DynamicConfig(postgresql_parameters={"work_mem": "8MB"})
    node.tell(SetConfig(config=edited, request_id="c1", reply_to=HA))
    wait_for(lambda: node.configs()[first:] or None, 5, "the edited config")
    assert [m.config for m in node.configs()[first:]] == [edited]
    node.tell(Resend())  # as a restarted postmaster asks
    wait_for(lambda: len(node.configs()) > first + 1 or None, 5, "the config again")
    assert [m.config for m in node.configs()[first:]] == [edited, edited]
