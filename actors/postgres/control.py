"""The postmaster of one data directory: start, stop, promote, follow, look.

:class:`Postmaster` is plain blocking code for one actor's thread.  It starts
``postgres -D`` detached, so the server outlives pgactor (startup.py), stops
it by signal with a safepoint and escalation (shutdown.py), writes the config
files it owns before each start and reload (conffiles.py), and talks to the
server through one :class:`~actors.postgres.connection.LocalConnection` over
its private socket.

Only :meth:`Postmaster.is_alive` and :meth:`Postmaster.postmaster_pid` may be
called from any thread; everything else from one thread at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from actors.postgres import conffiles, procfs, shutdown, slots, startup
from actors.postgres.connection import STATEMENT_TIMEOUT_MS, LocalConnection, QueryError
from actors.postgres.controldata import controldata
from actors.postgres.history import read_history
from actors.postgres.oscommand import (
    ensure_run_dir,
    is_dir_empty,
    os_user,
    run_dir,
)
from actors.postgres.result import Result
from actors.postgres.status import (
    REPLICATION_SQL,
    STATUS_SQL,
    build_status,
    offline_status,
    replication_rows,
    unreachable_status,
)
from messages.base import Timeline
from messages.cluster import HistoryEntry, PgState, Role
from messages.config import PostgresSettings, StopMode
from messages.postgres import PostgresStatus, Upstream

log = logging.getLogger(__name__)

POLL_S = 0.05
RELOAD_WAIT_S = 5.0
_READY = startup.READY

# A transaction that writes a little WAL and commits without waiting for any standby.
NUDGE_SQL = (
    "SELECT set_config('synchronous_commit', 'local', true),"
    " pg_logical_emit_message(true, 'pgactor', 'synchronous_standby_names changed')"
)


class Postmaster:
    """Controls the PostgreSQL server of ``settings.data_dir`` for member ``name``."""

    def __init__(
        self,
        settings: PostgresSettings,
        *,
        name: str,
        scope: str,
        dynamic_parameters: Mapping[str, str] = MappingProxyType({}),
        use_slots: bool = False,
    ) -> None:
        self.settings = settings
        self.name = name
        self.scope = scope
        self.user = os_user(settings)
        self.socket_dir = run_dir(settings)
        self._dynamic = dict(dynamic_parameters)
        self._use_slots = use_slots
        self._sync_names = (
            conffiles.read_parameter(settings.data_dir, "synchronous_standby_names") or ""
        )
        self._proc: subprocess.Popen[bytes] | None = None
        self._control_cache: tuple[tuple[int, int, int], dict[str, str]] | None = None
        self._history_cache: tuple[int, tuple[HistoryEntry, ...]] = (0, ())
        self._streamed: tuple[int, int] = (0, 0)  # (postmaster pid, timeline it streamed on)
        self._conn = LocalConnection(self.connection_params())

    # -- connection -------------------------------------------------------

    def connection_params(self) -> dict[str, str | int]:
        """psycopg2/libpq parameters of pgactor's session to its own server."""
        su = self.settings.authentication.superuser
        params: dict[str, str | int] = {
            "host": self.socket_dir,
            "port": self.settings.listen_port,
            "user": su.username,
            "dbname": "postgres",
            "connect_timeout": 3,
            "application_name": "pgactor",
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        }
        if su.password:
            params["password"] = su.password
        return params

    def local_url(self) -> str:
        """A password-free URL of the local server as superuser (for scripts)."""
        su = self.settings.authentication.superuser.username
        return (
            f"postgresql://{su}@/postgres?host={self.socket_dir}&port={self.settings.listen_port}"
        )

    def query(
        self, sql: Any, args: Sequence[Any] = (), *, timeout_s: float | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one statement on pgactor's session; raises QueryError."""
        return self._conn.query(sql, args, timeout_s=timeout_s)

    def close(self) -> None:
        """Drop pgactor's session (the server keeps running)."""
        self._conn.close()

    # -- liveness ---------------------------------------------------------

    def _reap(self) -> None:
        """Collect our child postmaster once it exited: a zombie would still have a PID."""
        proc = self._proc  # one read: another thread may clear it meanwhile
        if proc is not None and proc.poll() is not None:
            self._proc = None

    def postmaster_pid(self) -> int | None:
        """The live postmaster's PID, or None.  Cheap; any thread."""
        self._reap()
        pid_file = procfs.read_pid_file(self.settings.data_dir)
        if pid_file is None or not procfs.is_postmaster_of(pid_file.pid, self.settings.data_dir):
            return None
        return pid_file.pid

    def is_alive(self) -> bool:
        """A postmaster runs on the data directory.  Cheap; any thread."""
        return self.postmaster_pid() is not None

    def walsenders(self, postmaster_pid: int) -> frozenset[int]:
        """PIDs of that postmaster's WAL senders (see postmaster_pid()).  Cheap."""
        return procfs.walsenders(postmaster_pid, self.scope)

    # -- configuration ----------------------------------------------------

    def parameters(self) -> dict[str, str]:
        """What postgresql.conf will say (after the included base file)."""
        return conffiles.server_parameters(
            self.settings,
            scope=self.scope,
            socket_dir=self.socket_dir,
            dynamic=self._dynamic,
            sync_names=self._sync_names,
        )

    def set_dynamic_parameters(self, parameters: Mapping[str, str]) -> None:
        """The cluster-wide parameters from the DCS; applied by the next reload or start."""
        self._dynamic = dict(parameters)

    def write_config(self) -> None:
        """postgresql.conf, pg_hba.conf, pg_ident.conf (not the recovery settings)."""
        ensure_run_dir(self.settings, self.user)
        conffiles.write_all(self.settings, self.user, self.parameters())

    def _configure_role(self, role: Role, upstream: Upstream | None) -> None:
        if role is Role.REPLICA:
            slot = conffiles.slot_name(self.name) if self._use_slots and upstream else None
            conffiles.write_recovery(
                self.settings, self.user, upstream=upstream, application_name=self.name, slot=slot
            )
        else:
            conffiles.clear_recovery(self.settings.data_dir)

    # -- start ------------------------------------------------------------

    def start(self, role: Role, upstream: Upstream | None, timeout_s: float) -> Result:
        """Start as ``role`` (a replica streams from ``upstream``); wait until it accepts
        connections, exits, or ``timeout_s`` passes (then it is left starting)."""
        if self.is_alive():
            return Result.success("already running")  # in whatever role it runs
        if not os.path.exists(os.path.join(self.settings.data_dir, "PG_VERSION")):
            return Result.failure(f"no cluster in {self.settings.data_dir}")
        try:
            self._configure_role(role, upstream)
        except OSError as exc:
            return Result.failure(f"cannot write the recovery settings: {exc}")
        return self._start(time.monotonic() + timeout_s)

    def _start(self, deadline: float) -> Result:
        self._conn.close()
        if not shutdown.clear_leftovers(self.settings.data_dir, self.socket_dir):
            return Result.failure("processes of a former server are still running")
        try:
            self.write_config()
            self._proc = startup.spawn(self.settings, self.user)
        except OSError as exc:
            return Result.failure(f"cannot start PostgreSQL: {exc}")
        return startup.wait_ready(
            self._proc, self.settings.data_dir, deadline, self._confirm_connectable
        )

    def _confirm_connectable(self) -> Result:
        try:
            self._conn.query("SELECT 1")
        except QueryError as exc:
            return Result.failure(f"accepting connections, but pgactor cannot connect: {exc}")
        return Result.success("accepting connections")

    @property
    def log_path(self) -> str:
        return startup.log_path(self.settings.data_dir)

    def log_tail(self, lines: int = 12) -> str:
        """The end of the server log (how a start failed)."""
        return startup.log_tail(self.settings.data_dir, lines)

    # -- stop -------------------------------------------------------------

    def stop(
        self,
        mode: StopMode,
        *,
        checkpoint_first: bool,
        timeout_s: float,
        on_safepoint: Callable[[], None] | None = None,
    ) -> Result:
        """Stop the server; ``on_safepoint`` runs once no user session is left."""
        pid = self.postmaster_pid()
        if pid is None:
            self._conn.close()
            if not shutdown.clear_leftovers(self.settings.data_dir, self.socket_dir):
                return Result.failure("processes of a former server are still running")
            if on_safepoint is not None:
                on_safepoint()
            return Result.success("not running")
        deadline = time.monotonic() + timeout_s
        if checkpoint_first and mode is not StopMode.IMMEDIATE:
            self.checkpoint(timeout_s)  # within the stop's time, not on top of it
        self._conn.close()  # our own session must not hold up a smart shutdown
        server = shutdown.Server(self.settings.data_dir, self.scope, self._reap)
        remaining = max(1.0, deadline - time.monotonic())
        return shutdown.stop_server(server, pid, mode, remaining, on_safepoint)

    def restart(self, timeout_s: float) -> Result:
        """Fast stop and start in the same role, with the current configuration."""
        deadline = time.monotonic() + timeout_s
        stopped = self.stop(StopMode.FAST, checkpoint_first=False, timeout_s=timeout_s)
        if not stopped.ok:
            return stopped
        started = self._start(max(deadline, time.monotonic() + 1.0))
        return Result(ok=started.ok, detail=started.detail, escalated=stopped.escalated)

    # -- running server ---------------------------------------------------

    def reload(self) -> tuple[str, ...]:
        """Rewrite the config and make the server read it; names of settings that
        still need a restart (``pg_settings.pending_restart``).

        PostgreSQL marks a restart-only setting pending also when it is merely
        removed from the files, even if the default equals the running value.
        """
        try:
            self.write_config()
        except OSError as exc:
            log.error("cannot write the configuration: %s", exc)
            return ()
        if not self.is_alive():
            return ()
        try:
            self._reload_and_wait()
            rows = self._conn.query("SELECT name FROM pg_settings WHERE pending_restart ORDER BY 1")
        except QueryError as exc:
            log.warning("reload through SQL failed (%s); sending SIGHUP", exc)
            pid = self.postmaster_pid()
            if pid is not None:
                procfs.send_signal(pid, signal.SIGHUP)
            return ()
        return tuple(str(r[0]) for r in rows)

    def _reload_and_wait(self) -> None:
        """pg_reload_conf(), then wait until our own session has read the files."""
        before = self._conn.query("SELECT pg_conf_load_time()")[0][0]
        self._conn.query("SELECT pg_reload_conf()")
        deadline = time.monotonic() + RELOAD_WAIT_S
        while self._conn.query("SELECT pg_conf_load_time()")[0][0] == before:
            if time.monotonic() >= deadline:
                log.warning("the server did not confirm the reload within %.0fs", RELOAD_WAIT_S)
                return
            time.sleep(POLL_S / 5)
        errors = self._conn.query(
            "SELECT f.name, f.sourcefile, f.sourceline, f.error"
            "  FROM pg_file_settings f LEFT JOIN pg_settings s USING (name)"
            " WHERE f.error IS NOT NULL AND NOT coalesce(s.pending_restart, false)"
        )
        for name, source, line, error in errors:
            log.warning("config %s (%s:%s): %s", name, source, line, error)

    def checkpoint(self, timeout_s: float | None = None) -> Result:
        """CHECKPOINT (a restartpoint on a replica); pg_ctl_timeout_s by default."""
        try:
            self._conn.query("CHECKPOINT", timeout_s=timeout_s or self.settings.pg_ctl_timeout_s)
        except QueryError as exc:
            log.warning("CHECKPOINT failed: %s", exc)
            return Result.failure(f"CHECKPOINT failed: {exc}")
        return Result.success("checkpoint done")

    def _in_recovery(self) -> bool:
        return bool(self._conn.query("SELECT pg_is_in_recovery()")[0][0])

    def promote(self, timeout_s: float) -> Result:
        """Promote a replica and wait until it takes writes."""
        deadline = time.monotonic() + timeout_s
        try:
            if self._in_recovery():
                wait_s = max(1, int(timeout_s))
                self._conn.query("SELECT pg_promote(true, %s)", (wait_s,), timeout_s=wait_s + 5)
        except QueryError as exc:
            return Result.failure(f"promote failed: {exc}")
        while True:
            with contextlib.suppress(QueryError):
                if not self._in_recovery():
                    return self._after_promotion(max(5.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                return Result.failure("still in recovery at the deadline")
            time.sleep(POLL_S)

    def _after_promotion(self, timeout_s: float) -> Result:
        """Forget the upstream, and checkpoint: until a checkpoint, pg_control still
        shows the old timeline, and pg_rewind against us would find nothing to do.
        Writes are accepted already; a failed checkpoint is reported, not fatal."""
        conffiles.clear_recovery(self.settings.data_dir)
        self.reload()
        checkpointed = self.checkpoint(timeout_s)
        return Result.success("promoted" + ("" if checkpointed.ok else "; CHECKPOINT failed"))

    def follow(self, upstream: Upstream, timeout_s: float) -> Result:
        """Become (or stay) a replica of ``upstream``.

        A running replica only reloads (``primary_conninfo`` is reloadable
        since PostgreSQL 13); a primary is stopped fast and started as a
        replica.  A diverged former primary needs pg_rewind first (see
        rewind.py): that is the caller's decision.
        """
        deadline = time.monotonic() + timeout_s
        if not self.is_alive():
            return self.start(Role.REPLICA, upstream, timeout_s)
        in_recovery = False
        with contextlib.suppress(QueryError):
            in_recovery = self._in_recovery()
        if in_recovery:
            self._configure_role(Role.REPLICA, upstream)
            self.reload()
            return Result.success(f"following {upstream.name} (reloaded)")
        stopped = self.stop(StopMode.FAST, checkpoint_first=False, timeout_s=timeout_s)
        if not stopped.ok:
            return stopped
        remaining = max(1.0, deadline - time.monotonic())
        return self.start(Role.REPLICA, upstream, remaining)

    def set_synchronous_standby_names(self, value: str) -> Result:
        """Write synchronous_standby_names, reload, and confirm the server uses it."""
        self._sync_names = value
        try:
            self.write_config()
        except OSError as exc:
            return Result.failure(f"cannot write postgresql.conf: {exc}")
        if not self.is_alive():
            return Result.success("written; the server is not running")
        try:
            self._reload_and_wait()
            shown = self._conn.query("SHOW synchronous_standby_names")[0][0]
        except QueryError as exc:
            return Result.failure(f"reload failed: {exc}")
        if shown != value:
            return Result.failure(f"the server still shows {shown!r}")
        if value:
            self._nudge_standbys()
        return Result.success(f"synchronous_standby_names = {value!r}")

    def _nudge_standbys(self) -> None:
        """Release commits that wait on a standby the new names no longer count.

        PostgreSQL releases waiting commits only when a counted standby reports a
        flush, and an idle standby reports every wal_receiver_status_interval
        (10 s): commits would wait that long on a standby that is gone.  A standby
        reports as soon as it flushes new WAL, so write some.
        """
        try:
            self._conn.query(NUDGE_SQL)
        except QueryError as exc:  # a replica, or a server going down: nothing waits
            log.debug("no WAL written to wake the standbys: %s", exc)

    def ensure_replication_slots(self, names: Iterable[str]) -> Result:
        return slots.ensure_physical_slots(self._conn, names)

    def drop_replication_slots_except(self, keep: Iterable[str]) -> Result:
        return slots.drop_physical_slots_except(self._conn, keep)

    # -- looking ----------------------------------------------------------

    def controldata(self) -> dict[str, str]:
        """pg_controldata of the data directory (meant for a stopped server).

        Cached until pg_control changes, so a status poll of a stopped server
        does not run a program every time.
        """
        try:
            st = os.stat(os.path.join(self.settings.data_dir, "global", "pg_control"))
        except OSError:
            return {}
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._control_cache is None or self._control_cache[0] != key:
            self._control_cache = (key, controldata(self.settings))
        return dict(self._control_cache[1])

    def status(self) -> PostgresStatus:
        empty = is_dir_empty(self.settings.data_dir)
        self._reap()
        pid_file = procfs.read_pid_file(self.settings.data_dir)
        if pid_file is None:
            return offline_status(PgState.STOPPED, self.controldata(), data_dir_empty=empty)
        if not procfs.is_postmaster_of(pid_file.pid, self.settings.data_dir):
            detail = f"postmaster.pid names process {pid_file.pid}, which is not running"
            control = self.controldata()
            return offline_status(PgState.CRASHED, control, data_dir_empty=empty, detail=detail)
        if pid_file.status == "stopping":
            return PostgresStatus(state=PgState.STOPPING, data_dir_empty=empty)
        if pid_file.status not in _READY:
            return PostgresStatus(state=PgState.STARTING, data_dir_empty=empty)
        return self._running_status(pid_file.pid, empty)

    def _running_status(self, pid: int, empty: bool) -> PostgresStatus:
        try:
            row = self._conn.query(STATUS_SQL)[0]
            replication = replication_rows(self._conn.query(REPLICATION_SQL))
        except QueryError as exc:
            return unreachable_status(str(exc), data_dir_empty=empty)
        status = build_status(row, replication, data_dir_empty=empty)
        if status.role is Role.PRIMARY:
            return dataclasses.replace(status, history=self._history(status.timeline))
        return self._replica_timeline(status, pid)

    def _replica_timeline(self, status: PostgresStatus, pid: int) -> PostgresStatus:
        """A replica's timeline is exact only while it streams (received_tli); else
        pg_control_checkpoint() may still name the timeline of its last restartpoint,
        older than the one it replays.  Remember what this postmaster streamed on."""
        if status.streaming_from is not None:
            self._streamed = (pid, status.timeline)
            return status
        if self._streamed[0] == pid and self._streamed[1] > status.timeline:
            return dataclasses.replace(status, timeline=Timeline(self._streamed[1]))
        return status

    def _history(self, timeline: int) -> tuple[HistoryEntry, ...]:
        # a timeline's history file never changes: read it once per timeline
        if self._history_cache[0] != timeline:
            self._history_cache = (timeline, read_history(self.settings.data_dir, timeline))
        return self._history_cache[1]
