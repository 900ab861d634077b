"""A stop cuts a running action short: the PostmasterActor never makes it wait.

The slow action is real: the replica's ``restore_command`` is a script that
waits while a HOLD file exists.  PostgreSQL runs it at the start of archive
recovery (to look for newer timelines) and again when a promotion picks its
new timeline, so the startup process, and with it a start or a promotion,
waits on the "archive" for as long as the test likes.
"""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Iterator

import psycopg2
import pytest

from actors.postgres import procfs
from actors.postgres.bootstrap import create_replica
from actors.postgres.control import Postmaster
from messages.cluster import PgState, Role
from messages.config import PostgresSettings, StopMode
from messages.ha import ActionDone, ActionKind
from messages.postgres import PostgresStatus, Promote, StartPostgres, StopPostgres

from .actor_harness import Inbox, running_actor, tell
from .conftest import SCOPE, TEST_PARAMETERS, PgFactory, upstream_of, wait_for

pytestmark = pytest.mark.integration

INTERRUPTED = "interrupted by a stop"
QUICK_S = 3.0
"""An immediate stop must be done within this, whatever it interrupted."""

RESTORE = """\
# restore_command %f %p: held while HOLD exists; never restores anything
if [ -e "{hold}" ]; then
  touch "{held}"
  while [ -e "{hold}" ]; do sleep 0.05; done
fi
exit 1
"""


class Archive:
    """The replica's archive, which answers at once or holds the startup process."""

    def __init__(self, pg: PgFactory, name: str) -> None:
        directory = os.path.join(pg.base_dir, f"{name}-archive")
        os.makedirs(directory, exist_ok=True)
        postgres = pwd.getpwnam("postgres")
        os.chown(directory, postgres.pw_uid, postgres.pw_gid)
        self.hold_path = os.path.join(directory, "HOLD")
        self.held_path = os.path.join(directory, "HELD")
        body = RESTORE.format(hold=self.hold_path, held=self.held_path)
        self.command = pg.script(f"{name}-restore.sh", body) + " %f %p"

    def hold(self) -> None:
        for path in (self.held_path, self.hold_path):
            if os.path.exists(path):
                os.unlink(path)
        open(self.hold_path, "w").close()

    def wait_held(self, timeout_s: float) -> None:
        wait_for(lambda: os.path.exists(self.held_path), timeout_s, "the startup process to wait")

    def release(self) -> None:
        if os.path.exists(self.hold_path):
            os.unlink(self.hold_path)


@pytest.fixture
def held_replica(
    pg: PgFactory, primary: Postmaster, request: pytest.FixtureRequest
) -> Iterator[tuple[PostgresSettings, Archive]]:
    """A fresh clone of the shared primary whose archive the test holds."""
    name = f"held-{request.node.name[-20:]}".replace("[", "-").replace("]", "")
    archive = Archive(pg, name)
    parameters = {**TEST_PARAMETERS, "restore_command": archive.command}
    settings = pg.settings(name, parameters=parameters)
    made = create_replica(settings, [upstream_of(primary)], name=name, scope=SCOPE)
    assert made.ok, made.detail
    try:
        yield settings, archive
    finally:
        archive.release()
        pm = pg.postmaster(settings, name)
        pm.stop(StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=10)


def _down(settings: PostgresSettings) -> bool:
    return not procfs.processes_in_dir(settings.data_dir)


def _stop_quickly(actor: object, inbox: Inbox) -> tuple[ActionDone, float]:
    asked = time.monotonic()
    tell(actor, StopPostgres(mode=StopMode.IMMEDIATE, timeout_s=30))
    done = inbox.done(ActionKind.STOP, 10 * QUICK_S)
    return done, time.monotonic() - asked


def _in_order(inbox: Inbox, first: ActionKind, then: ActionKind) -> bool:
    kinds = [m.kind for _, m in inbox.timed() if isinstance(m, ActionDone)]
    return kinds.index(first) < kinds.index(then)


def test_an_immediate_stop_cuts_a_slow_start_short(
    primary: Postmaster, held_replica: tuple[PostgresSettings, Archive]
) -> None:
    settings, archive = held_replica
    archive.hold()
    with running_actor(settings, "held") as (actor, inbox):
        start = StartPostgres(role=Role.REPLICA, upstream=upstream_of(primary), timeout_s=120)
        tell(actor, start)
        archive.wait_held(30)
        stopped, took = _stop_quickly(actor, inbox)
        assert stopped.ok, stopped.detail
        assert took < QUICK_S, f"the stop waited {took:.1f}s behind the start"
        interrupted = inbox.done(ActionKind.START, 0)
        assert (interrupted.ok, interrupted.detail) == (False, INTERRUPTED)
        assert _in_order(inbox, ActionKind.START, ActionKind.STOP)
        wait_for(lambda: _down(settings), 5, "every server process to be gone")


def test_status_goes_on_during_a_slow_start_and_another_action_is_busy(
    primary: Postmaster, held_replica: tuple[PostgresSettings, Archive]
) -> None:
    settings, archive = held_replica
    archive.hold()
    with running_actor(settings, "held") as (actor, inbox):
        start = StartPostgres(role=Role.REPLICA, upstream=upstream_of(primary), timeout_s=120)
        tell(actor, start)
        archive.wait_held(30)
        starting = inbox.wait(
            PostgresStatus, lambda s: s.state is PgState.STARTING, 5, "a STARTING status"
        )
        assert not starting.data_dir_empty
        tell(actor, Promote(timeout_s=10))
        busy = inbox.done(ActionKind.PROMOTE, 5)
        assert (busy.ok, busy.detail) == (False, "busy")
        _stop_quickly(actor, inbox)


def test_an_immediate_stop_cuts_a_slow_promotion_short(
    primary: Postmaster, held_replica: tuple[PostgresSettings, Archive]
) -> None:
    settings, archive = held_replica
    with running_actor(settings, "held") as (actor, inbox):
        tell(actor, StartPostgres(role=Role.REPLICA, upstream=upstream_of(primary), timeout_s=60))
        assert inbox.done(ActionKind.START, 60).ok
        inbox.wait(PostgresStatus, lambda s: s.streaming_from is not None, 30, "streaming")
        archive.hold()
        tell(actor, Promote(timeout_s=120))
        archive.wait_held(30)
        stopped, took = _stop_quickly(actor, inbox)
        assert stopped.ok, stopped.detail
        assert took < QUICK_S, f"the stop waited {took:.1f}s behind the promotion"
        interrupted = inbox.done(ActionKind.PROMOTE, 0)
        assert (interrupted.ok, interrupted.detail) == (False, INTERRUPTED)
        assert _in_order(inbox, ActionKind.PROMOTE, ActionKind.STOP)
        wait_for(lambda: _down(settings), 5, "every server process to be gone")


def test_an_immediate_stop_takes_over_from_a_smart_stop_and_one_outcome_answers_both(
    primary: Postmaster, held_replica: tuple[PostgresSettings, Archive]
) -> None:
    settings, _ = held_replica
    with running_actor(settings, "held") as (actor, inbox):
        tell(actor, StartPostgres(role=Role.REPLICA, upstream=upstream_of(primary), timeout_s=60))
        assert inbox.done(ActionKind.START, 60).ok
        client = psycopg2.connect(**_client_params(settings))  # a smart stop waits for it
        try:
            tell(actor, StopPostgres(mode=StopMode.SMART, timeout_s=120))
            inbox.wait(PostgresStatus, lambda s: s.state is PgState.STOPPING, 10, "STOPPING")
            stopped, took = _stop_quickly(actor, inbox)
        finally:
            client.close()
        assert stopped.ok, stopped.detail
        assert took < QUICK_S, f"the immediate stop waited {took:.1f}s behind the smart one"
        wait_for(lambda: _down(settings), 5, "every server process to be gone")
        kinds = [m.kind for m in inbox.all(ActionDone)]
    assert kinds == [ActionKind.START, ActionKind.STOP], "one STOP outcome answers both stops"


def _client_params(settings: PostgresSettings) -> dict[str, object]:
    su = settings.authentication.superuser
    return {
        "host": "127.0.0.1",
        "port": settings.listen_port,
        "user": su.username,
        "password": su.password,
        "dbname": "postgres",
        "connect_timeout": 3,
    }
