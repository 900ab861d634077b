"""The PostmasterActor's last check before a promotion: ProbePrimary.

Does the former primary still take writes?  Only a server that answers as a
primary does; anything else (a replica, a closed port, a server that never
answers) does not.  The probe runs beside the actor's thread, which goes on
answering meanwhile.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from actors.postgres.control import Postmaster
from messages.base import MemberName
from messages.cluster import Role
from messages.config import PostgresSettings, StopMode
from messages.postgres import PostgresStatus, PrimaryProbed, ProbePrimary, Upstream
from messages.runtime import Resend

from .actor_harness import Inbox, running_actor, tell
from .conftest import PgFactory, free_port, upstream_of

pytestmark = pytest.mark.integration


@pytest.fixture
def bystander(pg: PgFactory) -> PostgresSettings:
    """A member with no data yet (so stopping its actor stops nothing): it only probes."""
    return pg.settings("bystander")


def _probe(settings: PostgresSettings, upstream: Upstream) -> PrimaryProbed:
    with running_actor(settings, "bystander") as (actor, inbox):
        tell(actor, ProbePrimary(upstream=upstream))
        return inbox.wait(PrimaryProbed, lambda p: True, 10, "the probe's answer")


def test_a_running_primary_is_found_writable(
    primary: Postmaster, bystander: PostgresSettings
) -> None:
    probed = _probe(bystander, upstream_of(primary))
    assert (probed.name, probed.writable) == (primary.name, True)


def test_a_closed_port_is_not_writable(bystander: PostgresSettings) -> None:
    gone = Upstream(name=MemberName("gone"), host="127.0.0.1", port=free_port())
    probed = _probe(bystander, gone)
    assert (probed.name, probed.writable) == ("gone", False)
    assert "cannot connect" in probed.detail


def test_a_replica_is_not_writable(
    pg: PgFactory, primary: Postmaster, bystander: PostgresSettings
) -> None:
    replica = pg.clone(primary, "probed-replica")
    assert replica.start(Role.REPLICA, upstream_of(primary), 30).ok
    try:
        probed = _probe(bystander, upstream_of(replica))
    finally:
        replica.stop(StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=10)
    assert (probed.writable, probed.detail) == (False, "in recovery: a replica")


@pytest.fixture
def mute_server() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    listener.close()
    for conn in held:
        conn.close()


def test_a_server_that_never_answers_is_not_writable_and_the_actor_stays_responsive(
    bystander: PostgresSettings, mute_server: int
) -> None:
    mute = Upstream(name=MemberName("mute"), host="127.0.0.1", port=mute_server)
    with running_actor(bystander, "bystander") as (actor, inbox):
        inbox.wait(PostgresStatus, lambda s: True, 10, "the first status")
        asked = time.monotonic()
        tell(actor, ProbePrimary(upstream=mute))
        tell(actor, ProbePrimary(upstream=mute))  # one probe per upstream at a time
        tell(actor, Resend())
        _wait_statuses(inbox, 2, 1.0)  # answered while the probe waits
        probed = inbox.wait(PrimaryProbed, lambda p: True, 10, "the probe's answer")
        took = time.monotonic() - asked
        tell(actor, ProbePrimary(upstream=mute))  # its answer comes after any duplicate's
        _wait_answers(inbox, 2, 10)
        answers = inbox.all(PrimaryProbed)
    assert (probed.writable, len(answers)) == (False, 2)
    assert "timeout" in probed.detail, probed.detail
    assert took < 5, f"the probe took {took:.1f}s"


def _wait_answers(inbox: Inbox, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while len(inbox.all(PrimaryProbed)) < count:
        assert time.monotonic() < deadline, "the second probe was not answered"
        time.sleep(0.01)


def _wait_statuses(inbox: Inbox, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while len(inbox.all(PostgresStatus)) < count:
        assert time.monotonic() < deadline, "no status while the probe ran"
        time.sleep(0.01)
