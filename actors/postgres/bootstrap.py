"""Making a new cluster: initdb, the users pgactor needs, the post-init script.

The sequence the BootstrapActor drives (Patroni's bootstrap + post_bootstrap):
:func:`initdb`, then ``Postmaster.start(Role.PRIMARY, ...)``, then
:func:`post_bootstrap`; on failure :func:`cancel_initialization` stops the
server at once and removes the data directory, so another member may try.

Passwords reach initdb through ``--pwfile`` (a 0600 temp file) and the server
as SCRAM verifiers computed here (see scram.py); the post-init script gets a
password file through PGPASSFILE, never a password on its command line.

This module is also the BootstrapActor's one door: it re-exports replica
creation (replica.py) and pg_rewind (rewind.py), the other jobs on the data
directory.
"""

from __future__ import annotations

import contextlib
import logging
import shlex

from psycopg2 import sql

from actors.postgres.connection import QueryError
from actors.postgres.control import Postmaster
from actors.postgres.datadir import remove_data_directory
from actors.postgres.oscommand import (
    OsUser,
    binary,
    child_env,
    clear_dir,
    cli_option,
    ensure_run_dir,
    is_dir_empty,
    option_key,
    os_user,
    passfile_line,
    prepare_dir,
    private_file,
    run_command,
)
from actors.postgres.replica import create_replica
from actors.postgres.result import Result
from actors.postgres.rewind import rewind
from actors.postgres.scram import verifier
from messages.config import PostgresSettings, StopMode, UserCredentials

__all__ = [
    "cancel_initialization",
    "create_replica",
    "initdb",
    "post_bootstrap",
    "remove_data_directory",
    "rewind",
]

log = logging.getLogger(__name__)

INITDB_TIMEOUT_S = 300.0
_INITDB_CONTROLLED = frozenset({"pgdata", "D", "username", "U", "pwfile", "pwprompt", "W"})
REWIND_FUNCTIONS = (
    "pg_catalog.pg_ls_dir(text, boolean, boolean)",
    "pg_catalog.pg_stat_file(text, boolean)",
    "pg_catalog.pg_read_binary_file(text)",
    "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)",
)
"""What pg_rewind's source-server user needs (PostgreSQL's pg_rewind docs)."""


def initdb_args(settings: PostgresSettings, user_options: list[str]) -> list[str]:
    """The initdb command line, without the --pwfile (secret, added by the caller)."""
    su = settings.authentication.superuser
    args = [binary(settings, "initdb"), "-D", settings.data_dir, f"--username={su.username}"]
    if not any(option_key(o) in ("auth", "A", "auth-local", "auth-host") for o in user_options):
        host_auth = "scram-sha-256" if su.password else "reject"
        args += ["--auth-local=peer", f"--auth-host={host_auth}"]
    return args + user_options


def initdb_options(options: tuple[str, ...]) -> list[str]:
    """``"encoding=UTF8"`` -> ``--encoding=UTF8``, ``"data-checksums"`` -> ``--data-checksums``;
    options pgactor controls are dropped with a warning."""
    args: list[str] = []
    for option in options:
        key = option_key(option)
        if key in _INITDB_CONTROLLED:
            log.warning("initdb option %s is controlled by pgactor and is ignored", key)
            continue
        _, sep, value = option.lstrip("-").partition("=")
        args += cli_option(key, value if sep else None)
    return args


def initdb(settings: PostgresSettings) -> Result:
    """Create a new cluster in the (absent or empty) data directory."""
    user = os_user(settings)
    if not is_dir_empty(settings.data_dir):
        return Result.failure(f"data directory {settings.data_dir} is not empty")
    prepare_dir(settings.data_dir, user)
    run_dir = ensure_run_dir(settings, user)
    args = initdb_args(settings, initdb_options(settings.initdb_options))
    password = settings.authentication.superuser.password
    with contextlib.ExitStack() as stack:
        if password:
            pwfile = stack.enter_context(private_file(run_dir, user, password + "\n", "pwfile-"))
            args.append(f"--pwfile={pwfile}")
        env = child_env(user, c_messages=False)
        result = run_command(args, user, timeout_s=INITDB_TIMEOUT_S, env=env)
    if not result.ok:
        clear_dir(settings.data_dir)
        return Result.failure(f"initdb failed ({result.returncode}):\n{result.tail()}")
    log.info("initdb created a cluster in %s", settings.data_dir)
    return Result.success("initdb done")


def post_bootstrap(
    settings: PostgresSettings, postmaster: Postmaster, *, post_init_timeout_s: float = 600.0
) -> Result:
    """On the new, running primary: users and grants, then the post-init script."""
    try:
        _create_roles(settings, postmaster)
    except QueryError as exc:
        return Result.failure(f"creating users failed: {exc}")
    if settings.post_init:
        return _run_post_init(settings, postmaster, post_init_timeout_s)
    return Result.success("users created")


def _create_roles(settings: PostgresSettings, postmaster: Postmaster) -> None:
    auth = settings.authentication
    su = auth.superuser
    if su.password:
        postmaster.query(
            sql.SQL("ALTER ROLE {} WITH PASSWORD %s").format(sql.Identifier(su.username)),
            (verifier(su.password),),
        )
    if auth.replication.username != su.username:
        _ensure_role(postmaster, auth.replication, "LOGIN REPLICATION")
    rewind = auth.rewind
    if rewind is not None and rewind.username != su.username:
        _ensure_role(postmaster, rewind, "LOGIN")
        for function in REWIND_FUNCTIONS:
            statement = sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}")
            postmaster.query(statement.format(sql.SQL(function), sql.Identifier(rewind.username)))


def _ensure_role(postmaster: Postmaster, cred: UserCredentials, attributes: str) -> None:
    exists = postmaster.query("SELECT 1 FROM pg_roles WHERE rolname = %s", (cred.username,))
    statement = sql.SQL("{} ROLE {} WITH " + attributes).format(
        sql.SQL("ALTER" if exists else "CREATE"), sql.Identifier(cred.username)
    )
    args: tuple[str, ...] = ()
    if cred.password:
        statement = statement + sql.SQL(" PASSWORD %s")
        args = (verifier(cred.password),)
    postmaster.query(statement, args)
    log.info("%s role %s", "altered" if exists else "created", cred.username)


def _run_post_init(settings: PostgresSettings, postmaster: Postmaster, timeout_s: float) -> Result:
    """``post_init URL`` as the PostgreSQL user; nonzero exit means failure."""
    user: OsUser = postmaster.user
    su = settings.authentication.superuser
    args = [*shlex.split(settings.post_init or ""), postmaster.local_url()]
    run_dir = ensure_run_dir(settings, user)
    with contextlib.ExitStack() as stack:
        extra = {}
        if su.password:
            line = passfile_line(su.username, su.password)
            extra["PGPASSFILE"] = stack.enter_context(private_file(run_dir, user, line, "pgpass-"))
        result = run_command(args, user, timeout_s=timeout_s, env=child_env(user, extra))
    if not result.ok:
        why = "timed out" if result.timed_out else f"exited with {result.returncode}"
        return Result.failure(f"post_init {why}:\n{result.tail()}")
    log.info("post_init done")
    return Result.success("users created, post_init done")


def cancel_initialization(settings: PostgresSettings, postmaster: Postmaster) -> Result:
    """Stop the new server at once and remove its data directory."""
    stopped = postmaster.stop(
        StopMode.IMMEDIATE, checkpoint_first=False, timeout_s=settings.pg_ctl_timeout_s
    )
    if not stopped.ok:
        return Result.failure(f"cannot stop PostgreSQL: {stopped.detail}")
    removed = remove_data_directory(settings)
    detail = "initialization cancelled; " + removed.detail
    return Result(ok=removed.ok, detail=detail, data_dir_removed=removed.data_dir_removed)
