"""Fixtures for the PostgreSQL control code against real PostgreSQL.

Everything lives under one base dir in /tmp (mode 0755: pytest's own tmp dirs
are 0700 and the ``postgres`` user could not enter them).  Every data dir a
test gets from :class:`PgFactory` is remembered, and at session end each
server still running there is ended by PID: SIGQUIT, then SIGKILL for it and
any process left in its data dir.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg2
import pytest

from actors.postgres import procfs
from actors.postgres.bootstrap import initdb, post_bootstrap
from actors.postgres.control import Postmaster
from actors.postgres.oscommand import run_dir
from actors.postgres.replica import create_replica
from messages.base import MemberName
from messages.cluster import Role
from messages.config import Authentication, PostgresSettings, UserCredentials
from messages.postgres import Upstream

T = TypeVar("T")

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
from freeport import free_port  # noqa: E402  (one for every suite: scripts/freeport.py)

SCOPE = "itest"
TEST_PARAMETERS = {
    "shared_buffers": "16MB",
    "fsync": "off",
    "full_page_writes": "on",
    "max_connections": "30",
    "max_wal_senders": "10",
    "wal_keep_size": "64MB",
    "log_min_messages": "warning",
    "log_line_prefix": "%m [%p] ",
}


def _bin_dir() -> str:
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("pg_config not found: PostgreSQL is not installed")
    return out.stdout.strip()


def wait_for(check: Callable[[], T], timeout_s: float, what: str, poll_s: float = 0.05) -> T:
    """The first truthy value of ``check()``; fails the test past the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(poll_s)


def upstream_of(pm: Postmaster) -> Upstream:
    return Upstream(name=MemberName(pm.name), host="127.0.0.1", port=pm.settings.listen_port)


def sql(settings: PostgresSettings, query: str, args: tuple[Any, ...] = ()) -> list[Any]:
    """Run ``query`` over TCP as the superuser, in autocommit; its rows."""
    su = settings.authentication.superuser
    conn = psycopg2.connect(
        host="127.0.0.1",
        port=settings.listen_port,
        user=su.username,
        password=su.password,
        dbname="postgres",
        connect_timeout=3,
    )
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(query, args or None)
            return cur.fetchall() if cur.description is not None else []
    finally:
        conn.close()


def try_sql(settings: PostgresSettings, query: str, args: tuple[Any, ...] = ()) -> list[Any] | None:
    """Like :func:`sql`, None on any database error (for waiting on replication)."""
    try:
        return sql(settings, query, args)
    except psycopg2.Error:
        return None


class PgFactory:
    """Makes settings and postmasters under the base dir; ends what they started."""

    def __init__(self, base_dir: str, bin_dir: str) -> None:
        self.base_dir = base_dir
        self.bin_dir = bin_dir
        self.data_dirs: list[str] = []
        self.postmasters: list[Postmaster] = []

    def settings(self, name: str, **overrides: Any) -> PostgresSettings:
        data_dir = os.path.join(self.base_dir, name, "data")
        self.data_dirs.append(data_dir)
        fields: dict[str, Any] = {
            "data_dir": data_dir,
            "bin_dir": self.bin_dir,
            "listen_host": "127.0.0.1",
            "listen_port": free_port(),
            "connect_host": "127.0.0.1",
            "connect_port": 0,
            "authentication": Authentication(
                superuser=UserCredentials(username="postgres", password="su-secret"),
                replication=UserCredentials(username="replicator", password="repl-secret"),
                rewind=UserCredentials(username="rewinder", password="rw-secret"),
            ),
            "parameters": dict(TEST_PARAMETERS),
            "pg_hba": ("host all all 127.0.0.1/32 scram-sha-256",),
            "initdb_options": ("encoding=UTF8", "no-sync"),
            "pg_ctl_timeout_s": 30.0,
        }
        fields.update(overrides)
        fields["connect_port"] = fields["connect_port"] or fields["listen_port"]
        return PostgresSettings(**fields)

    def postmaster(self, settings: PostgresSettings, name: str, **kwargs: Any) -> Postmaster:
        pm = Postmaster(settings, name=name, scope=SCOPE, **kwargs)
        self.postmasters.append(pm)
        return pm

    def script(self, name: str, body: str) -> str:
        """An executable shell script the postgres user can run."""
        path = os.path.join(self.base_dir, name)
        with open(path, "w") as fh:
            fh.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        return path

    def bootstrap_primary(self, name: str, **overrides: Any) -> Postmaster:
        settings = self.settings(name, **overrides)
        pm = self.postmaster(settings, name)
        assert initdb(settings).ok
        started = pm.start(Role.PRIMARY, None, 30)
        assert started.ok, started.detail
        done = post_bootstrap(settings, pm)
        assert done.ok, done.detail
        return pm

    def clone(self, source: Postmaster, name: str, **overrides: Any) -> Postmaster:
        """A base backup of ``source`` under ``name``, not started."""
        settings = self.settings(name, **overrides)
        made = create_replica(settings, [upstream_of(source)], name=name, scope=SCOPE)
        assert made.ok, made.detail
        return self.postmaster(settings, name)

    def cleanup(self) -> None:
        for pm in self.postmasters:
            pm.close()
        for data_dir in self.data_dirs:
            _kill_by_pid(data_dir)
        for data_dir in self.data_dirs:
            shutil.rmtree(run_dir(_settings_for(data_dir, self.bin_dir)), ignore_errors=True)


def _settings_for(data_dir: str, bin_dir: str) -> PostgresSettings:
    cred = UserCredentials(username="x")
    return PostgresSettings(
        data_dir=data_dir,
        bin_dir=bin_dir,
        listen_host="",
        listen_port=0,
        connect_host="",
        connect_port=0,
        authentication=Authentication(superuser=cred, replication=cred),
    )


def _kill_by_pid(data_dir: str) -> None:
    pid_file = procfs.read_pid_file(data_dir)
    if pid_file is not None and procfs.is_postmaster_of(pid_file.pid, data_dir):
        procfs.send_signal(pid_file.pid, signal.SIGQUIT)
        deadline = time.monotonic() + 5
        while procfs.is_postmaster_of(pid_file.pid, data_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        procfs.kill_server(pid_file.pid, data_dir)
    for pid in procfs.processes_in_dir(data_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def base_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="pgactor-it-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    if not os.environ.get("PGACTOR_KEEP_TEST_DIR"):  # set it to read server logs afterwards
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def pg(base_dir: str) -> Iterator[PgFactory]:
    factory = PgFactory(base_dir, _bin_dir())
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture(scope="session")
def primary(pg: PgFactory) -> Postmaster:
    """A bootstrapped primary shared by tests that do not disturb it."""
    psql = os.path.join(pg.bin_dir, "psql")
    script = pg.script(
        "post_init.sh",
        f'exec {psql} "$1" -X -q -v ON_ERROR_STOP=1 -c "CREATE TABLE made_by_post_init (id int)"\n',
    )
    return pg.bootstrap_primary("primary", post_init=script)
