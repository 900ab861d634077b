"""A data directory that cannot be read, or that was removed under a running server.

pgactor runs as root here and PostgreSQL as ``postgres``, as in a container.
Root reads through ``chmod 000``; PostgreSQL (and an agent running as its
user) gets EACCES.  The status judges the directory as PostgreSQL's user
sees it, so ``chmod 000`` reproduces what a deployment sees.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator

import pytest

from actors.postgres import procfs
from actors.postgres.control import Postmaster
from messages.cluster import PgState, Role
from messages.config import StopMode
from messages.ha import ActionKind
from messages.postgres import CreateReplica, PostgresStatus, Rewind, StopPostgres

from .actor_harness import running_actor, running_bootstrap, tell
from .conftest import PgFactory, upstream_of, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def replica(
    pg: PgFactory, primary: Postmaster, request: pytest.FixtureRequest
) -> Iterator[Postmaster]:
    """A running clone of the shared primary, streaming from it."""
    pm = pg.clone(primary, f"ddf-{request.node.name[-24:]}")
    started = pm.start(Role.REPLICA, upstream_of(primary), 30)
    assert started.ok, started.detail
    yield pm
    os.makedirs(pm.settings.data_dir, mode=0o700, exist_ok=True)
    os.chmod(pm.settings.data_dir, 0o700)
    pm.stop(StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=10)


def _streams(pm: Postmaster) -> PostgresStatus | None:
    status = pm.status()
    return status if status.streaming_from is not None and status.timeline > 0 else None


def test_an_unreadable_data_directory_is_an_error_not_an_empty_one(replica: Postmaster) -> None:
    wait_for(lambda: _streams(replica), 30, "the replica to stream")
    data_dir = replica.settings.data_dir
    os.chmod(data_dir, 0)
    try:
        status = replica.status()
        still_runs = replica.postmaster_pid() is not None
    finally:
        os.chmod(data_dir, 0o700)
    assert "permission denied for the OS user postgres" in status.data_dir_error
    assert data_dir in status.data_dir_error
    assert not status.data_dir_empty, "an unreadable directory was taken for an empty one"
    assert (status.timeline, status.wal_position, status.streaming_from) == (0, 0, None)
    if still_runs:  # a running postmaster still runs, in the role it has
        assert (status.state, status.role) == (PgState.RUNNING, Role.REPLICA)
    back = wait_for(lambda: _streams(replica), 30, "the replica to stream again")
    assert back.data_dir_error == ""


def test_clone_and_rewind_refuse_an_unreadable_data_directory(
    primary: Postmaster, replica: Postmaster
) -> None:
    replica.stop(StopMode.FAST, checkpoint_first=False, timeout_s=30)
    data_dir = replica.settings.data_dir
    os.chmod(data_dir, 0)
    try:
        stopped = replica.status()
        with running_bootstrap(replica.settings, replica.name) as (actor, inbox):
            tell(actor, Rewind(source=upstream_of(primary)))
            rewound = inbox.done(ActionKind.REWIND, 30)
            tell(actor, CreateReplica(sources=(upstream_of(primary),)))
            cloned = inbox.done(ActionKind.CREATE_REPLICA, 30)
        files_left = os.listdir(data_dir)
    finally:
        os.chmod(data_dir, 0o700)
    assert stopped.state is PgState.STOPPED
    assert stopped.data_dir_error and not stopped.data_dir_empty
    for done in (rewound, cloned):
        assert not done.ok
        assert "the data directory cannot be read" in done.detail, done.detail
    assert "PG_VERSION" in files_left, "the refused clone wiped the directory"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_a_removed_data_directory_is_reported_while_its_server_runs_then_stopped(
    pg: PgFactory, primary: Postmaster, replica: Postmaster
) -> None:
    wait_for(lambda: _streams(replica), 30, "the replica to stream")
    pid = replica.postmaster_pid()
    settings = replica.settings
    with running_actor(settings, replica.name, status_interval_s=0.5) as (actor, inbox):
        inbox.wait(PostgresStatus, lambda s: s.state is PgState.RUNNING, 10, "RUNNING")
        shutil.rmtree(settings.data_dir)
        gone = inbox.wait(PostgresStatus, lambda s: bool(s.data_dir_error), 10, "the error")
        assert gone.data_dir_error == (
            f"data directory is gone while PostgreSQL (pid {pid}) still runs"
        )
        assert (gone.state, gone.role, gone.data_dir_empty) == (
            PgState.RUNNING,
            Role.REPLICA,
            False,
        )
        with running_bootstrap(settings, replica.name) as (boot, boot_inbox):
            tell(boot, CreateReplica(sources=(upstream_of(primary),)))
            refused = boot_inbox.done(ActionKind.CREATE_REPLICA, 30)
        assert not refused.ok and "PostgreSQL still runs" in refused.detail, refused.detail
        tell(actor, StopPostgres(mode=StopMode.FAST, timeout_s=30))
        stopped = inbox.done(ActionKind.STOP, 15)
        assert stopped.ok, stopped.detail
        last = inbox.all(PostgresStatus)[-1]
        assert (last.state, last.data_dir_empty, last.data_dir_error) == (
            PgState.STOPPED,
            True,
            "",
        )
    assert not procfs.processes_in_dir(settings.data_dir)
    assert _port_free(settings.listen_port), "the old server still holds the port"
    with running_bootstrap(settings, replica.name) as (boot, boot_inbox):
        tell(boot, CreateReplica(sources=(upstream_of(primary),)))
        assert boot_inbox.done(ActionKind.CREATE_REPLICA, 60).ok
    began = time.monotonic()
    started = replica.start(Role.REPLICA, upstream_of(primary), 30)
    assert started.ok, started.detail
    assert time.monotonic() - began < 10
