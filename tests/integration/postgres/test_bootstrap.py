"""Bootstrapping a primary, and what a running primary reports and accepts."""

from __future__ import annotations

import os

import psycopg2
import psycopg2.extras
import pytest

from actors.postgres import procfs
from actors.postgres.bootstrap import cancel_initialization, initdb, post_bootstrap
from actors.postgres.control import Postmaster
from actors.postgres.scram import verifier
from messages.cluster import PgState, Role
from messages.config import Authentication, UserCredentials

from .conftest import PgFactory, sql

pytestmark = pytest.mark.integration


def test_bootstrap_creates_the_users_and_runs_post_init(primary: Postmaster) -> None:
    settings = primary.settings
    assert sql(settings, "SELECT to_regclass('made_by_post_init') IS NOT NULL") == [(True,)]
    roles = dict(sql(settings, "SELECT rolname, rolreplication FROM pg_roles"))
    assert roles["replicator"] is True
    assert roles["rewinder"] is False
    conn = psycopg2.connect(
        host="127.0.0.1",
        port=settings.listen_port,
        user="replicator",
        password="repl-secret",
        connection_factory=psycopg2.extras.PhysicalReplicationConnection,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("IDENTIFY_SYSTEM")
            assert int(cur.fetchone()[1]) == 1
    finally:
        conn.close()


def test_the_rewind_user_may_read_the_data_directory(primary: Postmaster) -> None:
    conn = psycopg2.connect(
        host="127.0.0.1",
        port=primary.settings.listen_port,
        user="rewinder",
        password="rw-secret",
        dbname="postgres",
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_ls_dir('global', true, false)")
            assert cur.fetchone()[0] > 0
            cur.execute("SELECT length(pg_read_binary_file('global/pg_control', 0, 8, true))")
            assert cur.fetchone()[0] == 8
    finally:
        conn.close()


def test_passwords_never_reach_the_server_as_text(primary: Postmaster) -> None:
    rows = sql(primary.settings, "SELECT rolpassword FROM pg_authid WHERE rolname = 'replicator'")
    assert rows[0][0].startswith("SCRAM-SHA-256$4096:")
    with open(primary.log_path) as fh:
        log = fh.read()
    assert "repl-secret" not in log and "su-secret" not in log


@pytest.mark.parametrize("password", ["plain-ascii", "p\u00e4ss\u00adw\u2168rd"])
def test_verifiers_computed_by_pgactor_let_the_user_log_in(
    primary: Postmaster, password: str
) -> None:
    primary.query(f"DROP ROLE IF EXISTS app_{len(password)}")
    primary.query(f"CREATE ROLE app_{len(password)} LOGIN PASSWORD %s", (verifier(password),))
    conn = psycopg2.connect(
        host="127.0.0.1",
        port=primary.settings.listen_port,
        user=f"app_{len(password)}",
        password=password,
        dbname="postgres",
    )
    conn.close()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(
            host="127.0.0.1",
            port=primary.settings.listen_port,
            user=f"app_{len(password)}",
            password=password + "x",
            dbname="postgres",
        )


def test_a_failing_post_init_cancels_the_initialization(pg: PgFactory) -> None:
    failing = pg.script("failing_post_init.sh", "echo 'post_init says no' >&2\nexit 3\n")
    nopassword = Authentication(
        superuser=UserCredentials(username="postgres"),
        replication=UserCredentials(username="replicator", password="repl-secret"),
    )
    settings = pg.settings("doomed", post_init=failing, authentication=nopassword)
    pm = pg.postmaster(settings, "doomed")
    assert initdb(settings).ok
    started = pm.start(Role.PRIMARY, None, 30)
    assert started.ok, started.detail  # pgactor reaches a password-less superuser by peer
    result = post_bootstrap(settings, pm)
    assert not result.ok
    assert "exited with 3" in result.detail and "post_init says no" in result.detail
    cancelled = cancel_initialization(settings, pm)
    assert cancelled.ok and cancelled.data_dir_removed
    assert not os.path.exists(settings.data_dir)
    assert not pm.is_alive()
    assert procfs.processes_in_dir(settings.data_dir) == []


def test_status_of_a_primary_is_sane(primary: Postmaster) -> None:
    status = primary.status()
    assert status.state is PgState.RUNNING
    assert status.role is Role.PRIMARY
    assert status.timeline == 1
    assert status.wal_position > 0
    assert status.receive_lsn is None
    assert status.streaming_from is None
    assert status.system_identifier is not None and status.system_identifier.isdigit()
    assert not status.data_dir_empty
    assert status.synchronous_standby_names == ""
    assert status.pending_restart is False
    sysid = sql(primary.settings, "SELECT system_identifier::text FROM pg_control_system()")
    assert status.system_identifier == sysid[0][0]


def test_a_reload_names_the_parameters_that_need_a_restart(primary: Postmaster) -> None:
    try:
        wanted = {"max_locks_per_transaction": "80", "work_mem": "5MB"}
        assert primary.apply_dynamic_parameters(wanted) == ("max_locks_per_transaction",)
        assert primary.status().pending_restart is True
        assert sql(primary.settings, "SHOW work_mem") == [("5MB",)]
    finally:
        # Removing a restart-only setting from the file leaves it pending; restore the value.
        assert primary.apply_dynamic_parameters({"max_locks_per_transaction": "64"}) == ()


def test_synchronous_standby_names_are_written_and_confirmed(primary: Postmaster) -> None:
    try:
        result = primary.set_synchronous_standby_names('ANY 1 ("replica-x")')
        assert result.ok, result.detail
        assert primary.status().synchronous_standby_names == 'ANY 1 ("replica-x")'
        again = Postmaster(primary.settings, name=primary.name, scope=primary.scope)
        assert again.config.parameters()["synchronous_standby_names"] == 'ANY 1 ("replica-x")'
    finally:
        assert primary.set_synchronous_standby_names("").ok
    assert sql(primary.settings, "SHOW synchronous_standby_names") == [("",)]


def test_replication_slots_are_created_and_dropped(primary: Postmaster) -> None:
    mine = "slot_name IN ('replica_1', 'replica_2')"
    query = f"SELECT slot_name FROM pg_replication_slots WHERE {mine} ORDER BY 1"
    assert primary.ensure_replication_slots(["Replica-1", "replica.2"]).ok
    assert sql(primary.settings, query) == [("replica_1",), ("replica_2",)]
    assert primary.drop_replication_slots_except(["replica-1", "other-member"]).ok
    assert sql(primary.settings, query) == [("replica_1",)]
    assert primary.drop_replication_slots_except(["other-member"]).ok
    assert sql(primary.settings, query) == []
