"""The server's configuration files: pgactor owns them and rewrites them whole.

Layout in the data directory (as Patroni does it):

- ``postgresql.base.conf``: initdb's original ``postgresql.conf``, kept as is;
- ``postgresql.conf``: written by pgactor; it includes the base file, then
  sets the merged parameters (pgactor defaults, with
  ``recovery_init_sync_method = syncfs`` where safe, see crashsync.py < the cluster's
  dynamic parameters < this node's ``parameters`` < what pgactor must control), then
  includes ``pgactor.recovery.conf`` if present;
- ``pgactor.recovery.conf`` + ``standby.signal``: present only on a replica;
  ``primary_conninfo`` names the replication user and a password *file*, so no
  password is ever in a setting that ``SHOW`` would print.  It holds only
  settings a reload applies: a restart-only one removed from the files at a
  promotion would stay "pending restart" until the next restart;
- ``pg_hba.conf``: pgactor's own lines first, then ``settings.pg_hba``;
- ``pg_ident.conf``: map ``pgactor`` lines for peer authentication.

The recovery file is separate so that rewriting ``postgresql.conf`` (a reload
after a config change, from a freshly restarted actor that does not know who
the upstream is) never drops a running replica's ``primary_conninfo``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import re
from collections.abc import Mapping

from actors.postgres import crashsync
from actors.postgres.oscommand import OsUser, passfile_line, write_file
from messages.config import PostgresSettings
from messages.postgres import Upstream

log = logging.getLogger(__name__)

BASE_CONF = "postgresql.base.conf"
RECOVERY_CONF = "pgactor.recovery.conf"
PASSFILE = "pgactor.pgpass"
STANDBY_SIGNAL = "standby.signal"
HEADER = "# Written by pgactor: edits are overwritten. Set parameters in pgactor's config.\n"
IDENT_MAP = "pgactor"

_DEFAULTS = {
    "max_connections": "100",
    "max_wal_senders": "10",
    "max_replication_slots": "10",
    "wal_keep_size": "128MB",
    "wal_level": "replica",
}
_RECOVERY_PARAMS = frozenset({"primary_conninfo", "primary_slot_name"})
_LAYOUT_PARAMS = frozenset({"data_directory", "config_file", "hba_file", "ident_file"})
_OWNED_PARAMS = frozenset(
    {"listen_addresses", "port", "hot_standby", "wal_log_hints", "cluster_name"}
    | {"synchronous_standby_names", "recovery_target_timeline"}
)


def quote(value: str) -> str:
    """A postgresql.conf string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def conninfo(params: Mapping[str, str | int]) -> str:
    """A libpq key=value connection string with values quoted where needed."""

    def value(v: str | int) -> str:
        text = str(v)
        if text and not re.search(r"[\s'\\]", text):
            return text
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return " ".join(f"{k}={value(v)}" for k, v in params.items())


def slot_name(member: str) -> str:
    """A physical replication slot name for a member: [a-z0-9_], at most 63 bytes."""
    return re.sub(r"[^a-z0-9_]", "_", member.lower())[:63]


CLUSTER_WIDE_PARAMS = frozenset(
    {
        "max_connections",
        "max_locks_per_transaction",
        "max_worker_processes",
        "max_prepared_transactions",
        "wal_level",
        "track_commit_timestamp",
        "max_wal_senders",
        "max_replication_slots",
        "wal_keep_size",
    }
)
"""Settings that must agree across primary and standbys: taken from the cluster-wide
(DCS) config only, as Patroni does; a node's own value is ignored with a warning."""


def server_parameters(
    settings: PostgresSettings,
    *,
    scope: str,
    socket_dir: str,
    dynamic: Mapping[str, str],
    sync_names: str,
) -> dict[str, str]:
    """Every parameter pgactor writes to postgresql.conf, in precedence order."""
    params = dict(_DEFAULTS) | crashsync.here(settings.data_dir)  # a crash restart's sync
    params.update(dynamic)
    local = {k: v for k, v in settings.parameters.items() if k not in CLUSTER_WIDE_PARAMS}
    for name in sorted(settings.parameters.keys() - local.keys()):
        if settings.parameters[name] != params.get(name):
            log.warning(
                "parameter %s must be the same on every member: set it in the cluster-wide"
                " config (ctl edit-config); the node's own value is ignored",
                name,
            )
    params.update(local)
    for name in sorted((_RECOVERY_PARAMS | _LAYOUT_PARAMS | _OWNED_PARAMS) & params.keys()):
        if name in settings.parameters or name in dynamic:
            log.warning(
                "parameter %s is controlled by pgactor; the configured value is ignored", name
            )
        params.pop(name)
    extra_sockets = [
        d.strip() for d in params.get("unix_socket_directories", "").split(",") if d.strip()
    ]
    params["unix_socket_directories"] = ", ".join(
        [socket_dir, *(d for d in extra_sockets if d != socket_dir)]
    )
    if params.get("wal_level") not in ("replica", "logical"):
        params["wal_level"] = "replica"
    params.update(
        listen_addresses=settings.listen_host,
        port=str(settings.listen_port),
        hot_standby="on",
        wal_log_hints="on",
        cluster_name=scope,
        synchronous_standby_names=sync_names,
        # Always here, never in the recovery file: it is a restart-only setting, and
        # removing it from the files at a promotion would leave it "pending restart".
        recovery_target_timeline="latest",
    )
    return params


def _ensure_base_conf(data_dir: str, user: OsUser) -> None:
    base = os.path.join(data_dir, BASE_CONF)
    main = os.path.join(data_dir, "postgresql.conf")
    if os.path.exists(base):
        return
    if os.path.exists(main) and not _is_ours(main):
        os.rename(main, base)
        return
    write_file(base, user, "# initdb's postgresql.conf was missing\n")


def _is_ours(path: str) -> bool:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.readline() == HEADER


def write_postgresql_conf(data_dir: str, user: OsUser, params: Mapping[str, str]) -> bool:
    """Write postgresql.conf; False when it already said exactly that (left untouched)."""
    _ensure_base_conf(data_dir, user)
    lines = [HEADER, f"include {quote(BASE_CONF)}\n"]
    lines += [f"{name} = {quote(value)}\n" for name, value in params.items()]
    lines.append(f"include_if_exists {quote(RECOVERY_CONF)}\n")
    path, text = os.path.join(data_dir, "postgresql.conf"), "".join(lines)
    with contextlib.suppress(OSError), open(path, encoding="utf-8") as fh:
        if fh.read() == text:
            return False
    write_file(path, user, text)
    return True


def read_parameter(data_dir: str, name: str) -> str | None:
    """A value pgactor wrote to postgresql.conf earlier (None if absent or not ours)."""
    path = os.path.join(data_dir, "postgresql.conf")
    try:
        if not _is_ours(path):
            return None
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return None
    match = re.search(rf"^{re.escape(name)} = '((?:[^'\\]|''|\\.)*)'$", text, re.MULTILINE)
    if match is None:
        return None
    return match.group(1).replace("''", "'").replace("\\\\", "\\")


def _hba_user(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def hba_lines(settings: PostgresSettings) -> list[str]:
    """pgactor's own pg_hba lines: its superuser session and loopback replication/rewind."""
    auth = settings.authentication
    loopback = ("127.0.0.1/32", "::1/128")
    su = _hba_user(auth.superuser.username)
    lines = []
    if auth.superuser.password:
        lines.append(f"local all {su} scram-sha-256")
        lines += [f"host all {su} {net} scram-sha-256" for net in loopback]
    else:
        lines.append(f"local all {su} peer map={IDENT_MAP}")
    if auth.replication.password:
        repl = _hba_user(auth.replication.username)
        lines.append(f"local replication {repl} scram-sha-256")
        lines += [f"host replication {repl} {net} scram-sha-256" for net in loopback]
    if auth.rewind is not None and auth.rewind.password:
        rw = _hba_user(auth.rewind.username)
        lines += [f"host all {rw} {net} scram-sha-256" for net in loopback]
    return lines


def write_hba(settings: PostgresSettings, user: OsUser) -> None:
    body = [HEADER, "# pgactor's own connections\n"]
    body += [line + "\n" for line in hba_lines(settings)]
    body.append("# from the pgactor config (postgresql.pg_hba)\n")
    body += [line + "\n" for line in settings.pg_hba]
    write_file(os.path.join(settings.data_dir, "pg_hba.conf"), user, "".join(body))


def write_ident(settings: PostgresSettings, user: OsUser) -> None:
    """Map pgactor's OS user and the PostgreSQL OS user to the superuser, keep other maps."""
    path = os.path.join(settings.data_dir, "pg_ident.conf")
    kept: list[str] = []
    with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as fh:
        kept = [ln for ln in fh if ln.split()[:1] != [IDENT_MAP] and ln != HEADER]
    os_names = {user.name}
    with contextlib.suppress(KeyError):
        os_names.add(pwd.getpwuid(os.geteuid()).pw_name)
    su = _hba_user(settings.authentication.superuser.username)
    ours = [f"{IDENT_MAP} {name} {su}\n" for name in sorted(os_names)]
    write_file(path, user, "".join([HEADER, *kept, *ours]))


def passfile_path(data_dir: str) -> str:
    return os.path.join(data_dir, PASSFILE)


def primary_conninfo(settings: PostgresSettings, upstream: Upstream, application_name: str) -> str:
    repl = settings.authentication.replication
    params: dict[str, str | int] = {
        "host": upstream.host,
        "port": upstream.port,
        "user": repl.username,
    }
    if repl.password:
        params["passfile"] = passfile_path(settings.data_dir)
    params.update(application_name=application_name, connect_timeout=5)
    return conninfo(params)


def write_recovery(
    settings: PostgresSettings,
    user: OsUser,
    *,
    upstream: Upstream | None,
    application_name: str,
    slot: str | None,
) -> None:
    """Make the data dir a replica's: standby.signal and the recovery settings."""
    data_dir = settings.data_dir
    repl = settings.authentication.replication
    lines = [HEADER]
    if upstream is not None:
        info = primary_conninfo(settings, upstream, application_name)
        lines.append(f"primary_conninfo = {quote(info)}\n")
        if repl.password:
            line = passfile_line(repl.username, repl.password)
            write_file(passfile_path(data_dir), user, line)
    if slot:
        lines.append(f"primary_slot_name = {quote(slot)}\n")
    write_file(os.path.join(data_dir, RECOVERY_CONF), user, "".join(lines))
    write_file(os.path.join(data_dir, STANDBY_SIGNAL), user, "")


def clear_recovery(data_dir: str) -> None:
    """Make the data dir a primary's: no standby.signal, no recovery settings."""
    for name in (RECOVERY_CONF, STANDBY_SIGNAL):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(data_dir, name))


def is_standby(data_dir: str) -> bool:
    return os.path.exists(os.path.join(data_dir, STANDBY_SIGNAL))


def write_all(settings: PostgresSettings, user: OsUser, params: Mapping[str, str]) -> bool:
    """postgresql.conf, pg_hba.conf and pg_ident.conf (the recovery files are separate);
    whether postgresql.conf changed (the others follow the node's own settings only)."""
    changed = write_postgresql_conf(settings.data_dir, user, params)
    write_hba(settings, user)
    write_ident(settings, user)
    return changed
