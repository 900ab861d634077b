"""The postmaster of one data directory: start, stop, promote, follow, look.

:class:`Postmaster` is plain blocking code for one actor's thread.  It starts
``postgres -D`` detached, so the server outlives pgactor (startup.py), stops
it by signal with a safepoint and escalation (shutdown.py), writes the config
files it owns before each start and reload (configuration.py), and talks to the
server through one :class:`~actors.postgres.connection.LocalConnection` over
its private socket.

Two threads use one Postmaster: the actor's, for the status and quick
commands (reload, synchronous_standby_names) on the status session, and one
action at a time (start, stop, promote...) in a worker thread, inside
:meth:`Postmaster.session`: on a server session of its own, so a long
statement of the action never holds a status up, and with the
:class:`~actors.postgres.interrupt.Interrupt` a stop fires to cut it short.
A stop may run beside the action it interrupted.  :meth:`Postmaster.is_alive`
and :meth:`Postmaster.postmaster_pid` may be called from any thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from actors.postgres import conffiles, datadir, procfs, reloading, shutdown, slots, startup
from actors.postgres.configuration import ServerConfig
from actors.postgres.connection import LocalConnection, QueryError, local_params
from actors.postgres.interrupt import INTERRUPTED, Interrupt
from actors.postgres.observe import Observer
from actors.postgres.oscommand import os_user, run_dir
from actors.postgres.result import Result
from messages.cluster import PgState, Role
from messages.config import PostgresSettings, StopMode
from messages.postgres import PostgresStatus, Upstream

log = logging.getLogger(__name__)

POLL_S = 0.05

_NEVER = Interrupt()
"""The interrupt of code outside any action (tests, the BootstrapActor): never fired."""


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
        self._proc: subprocess.Popen[bytes] | None = None
        self._status_conn = LocalConnection(self.connection_params())
        self._local = threading.local()
        self._observer = Observer(settings, user=self.user, conn=self._status_conn, reap=self._reap)
        self.config = ServerConfig(
            settings,
            name=name,
            scope=scope,
            user=self.user,
            socket_dir=self.socket_dir,
            dynamic=dynamic_parameters,
            use_slots=use_slots,
            controldata=self.controldata,
        )

    # -- threads ----------------------------------------------------------

    @property
    def _conn(self) -> LocalConnection:
        """This thread's session: an action's own, else the status session."""
        conn: LocalConnection = getattr(self._local, "conn", self._status_conn)
        return conn

    @property
    def _interrupt(self) -> Interrupt:
        """The interrupt of the action this thread runs (never fired outside one)."""
        interrupt: Interrupt = getattr(self._local, "interrupt", _NEVER)
        return interrupt

    @contextlib.contextmanager
    def session(self, interrupt: Interrupt) -> Iterator[None]:
        """Run an action in this thread: on a server session of its own, cut short by
        ``interrupt``.  The session is closed when the block ends."""
        conn = LocalConnection(self.connection_params())
        self._local.conn, self._local.interrupt = conn, interrupt
        try:
            yield
        finally:
            del self._local.conn, self._local.interrupt
            conn.close()

    # -- connection -------------------------------------------------------

    def connection_params(self) -> dict[str, str | int]:
        """psycopg2/libpq parameters of pgactor's session to its own server."""
        return local_params(self.settings, self.socket_dir)

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
        """Drop this thread's session (the server keeps running)."""
        self._conn.close()

    # -- liveness ---------------------------------------------------------

    def _reap(self) -> None:
        """Collect our child postmaster once it exited: a zombie would still have a PID."""
        proc = self._proc  # one read: another thread may clear it meanwhile
        if proc is not None and proc.poll() is not None:
            self._proc = None

    def _child_pid(self) -> int | None:
        """Our own child postmaster while it runs: it may not have written its PID file
        yet, and a stop right after a start must still find it.  Any thread."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def postmaster_pid(self) -> int | None:
        """The live postmaster's PID, or None; also one still running after its data
        directory was removed (see observe.py).  Cheap; any thread."""
        return self._observer.postmaster_pid()

    def is_alive(self) -> bool:
        """A postmaster runs on the data directory (or is our child, starting).  Cheap;
        any thread."""
        return self.postmaster_pid() is not None or self._child_pid() is not None

    def walsenders(self, postmaster_pid: int) -> frozenset[int]:
        """PIDs of that postmaster's WAL senders (see postmaster_pid()).  Cheap."""
        return procfs.walsenders(postmaster_pid, self.scope)

    # -- configuration ----------------------------------------------------

    def apply_dynamic_parameters(self, parameters: Mapping[str, str]) -> tuple[str, ...]:
        """The cluster-wide parameters, now: a running server rewrites its files and
        reloads when postgresql.conf changed; the names still pending a restart.  A
        stopped server gets them at its next start: nothing is written meanwhile (its
        data directory may be about to be made)."""
        self.config.dynamic = dict(parameters)
        return self.reload(only_if_changed=True) if self.is_alive() else ()

    # -- start ------------------------------------------------------------

    def start(self, role: Role, upstream: Upstream | None, timeout_s: float) -> Result:
        """Start as ``role`` (a replica streams from ``upstream``); wait until it accepts
        connections, exits, or ``timeout_s`` passes (then it is left starting)."""
        if self.is_alive():
            return Result.success("already running")  # in whatever role it runs
        if self._interrupt.fired:
            return Result.failure(INTERRUPTED)
        if not os.path.exists(os.path.join(self.settings.data_dir, datadir.PG_VERSION)):
            return Result.failure(f"no cluster in {self.settings.data_dir}")
        try:
            self.config.configure_role(role, upstream)
        except OSError as exc:
            return Result.failure(f"cannot write the recovery settings: {exc}")
        return self._start(time.monotonic() + timeout_s)

    def _start(self, deadline: float) -> Result:
        self._conn.close()
        if not shutdown.clear_leftovers(self.settings.data_dir, self.socket_dir):
            return Result.failure("processes of a former server are still running")
        try:
            self.config.write()
            with self._interrupt.unless_fired() as clear:
                if not clear:  # a stop began: no new server may start behind its back
                    return Result.failure(INTERRUPTED)
                proc = self._proc = startup.spawn(self.settings, self.user)
        except OSError as exc:
            return Result.failure(f"cannot start PostgreSQL: {exc}")
        return startup.wait_ready(
            proc, self.settings.data_dir, deadline, self._confirm_connectable, self._interrupt
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
        """Stop the server; ``on_safepoint`` runs once no user session is left.

        A server whose data directory was removed under it is stopped by its PID,
        at once (see shutdown.stop_orphan).  An immediate stop waits for nothing
        before its signal: not for a session, not for the action it interrupts.
        """
        pid = self.postmaster_pid() or self._child_pid() or self._observer.find_lingering()
        if pid is None:
            return self._not_running(on_safepoint)
        server = shutdown.Server(
            self.settings.data_dir, self.scope, self._reap, self._child_pid, self._interrupt
        )
        if datadir.is_gone(self.settings.data_dir) and pid != self._child_pid():
            return shutdown.stop_orphan(server, pid)
        deadline = time.monotonic() + timeout_s
        if checkpoint_first and mode is not StopMode.IMMEDIATE:
            self.checkpoint(timeout_s)  # within the stop's time, not on top of it
        if self._interrupt.fired:
            return Result.failure(INTERRUPTED)
        self._conn.close()  # our own session must not hold up a smart shutdown
        with self._status_closed(mode):
            remaining = max(1.0, deadline - time.monotonic())
            return shutdown.stop_server(server, pid, mode, remaining, on_safepoint)

    def _not_running(self, on_safepoint: Callable[[], None] | None) -> Result:
        self._conn.close()
        if not shutdown.clear_leftovers(self.settings.data_dir, self.socket_dir):
            return Result.failure("processes of a former server are still running")
        if on_safepoint is not None:
            on_safepoint()
        return Result.success("not running")

    def _status_closed(self, mode: StopMode) -> contextlib.AbstractContextManager[None]:
        """Keep the status session closed while a smart or fast stop runs (a smart one
        waits for it); an immediate stop must not wait for a status query to end."""
        if mode is StopMode.IMMEDIATE:
            return contextlib.nullcontext()
        return self._status_conn.held_closed()

    def restart(self, timeout_s: float) -> Result:
        """Fast stop and start in the same role, with the current configuration."""
        deadline = time.monotonic() + timeout_s
        stopped = self.stop(StopMode.FAST, checkpoint_first=False, timeout_s=timeout_s)
        if not stopped.ok:
            return stopped
        started = self._start(max(deadline, time.monotonic() + 1.0))
        return Result(ok=started.ok, detail=started.detail, escalated=stopped.escalated)

    # -- running server ---------------------------------------------------

    def reload(self, *, only_if_changed: bool = False) -> tuple[str, ...]:
        """Rewrite the config and make the server read it (with `only_if_changed`, only
        when postgresql.conf changed); names of settings that still need a restart
        (``pg_settings.pending_restart``).

        PostgreSQL marks a restart-only setting pending also when it is merely
        removed from the files, even if the default equals the running value.
        """
        try:
            changed = self.config.write()
        except OSError as exc:
            log.error("cannot write the configuration: %s", exc)
            return ()
        if not self.is_alive() or (only_if_changed and not changed):
            return ()
        try:
            reloading.reload_and_wait(self._conn)
            rows = self._conn.query("SELECT name FROM pg_settings WHERE pending_restart ORDER BY 1")
        except QueryError as exc:
            log.warning("reload through SQL failed (%s); sending SIGHUP", exc)
            pid = self.postmaster_pid()
            if pid is not None:
                procfs.send_signal(pid, signal.SIGHUP)
            return ()
        return tuple(str(r[0]) for r in rows)

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
        while not self._interrupt.fired:
            with contextlib.suppress(QueryError):
                if not self._in_recovery():
                    return self._after_promotion(max(5.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                return Result.failure("still in recovery at the deadline")
            self._interrupt.sleep(POLL_S)
        return Result.failure(INTERRUPTED)

    def _after_promotion(self, timeout_s: float) -> Result:
        """Forget the upstream, and checkpoint: until a checkpoint, pg_control still
        shows the old timeline, and pg_rewind against us would find nothing to do.
        Writes are accepted already; a failed checkpoint is reported, not fatal."""
        if self._interrupt.fired:  # promoted, and being stopped: the stop has the server
            return Result.failure(INTERRUPTED)
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
            self.config.configure_role(Role.REPLICA, upstream)
            self.reload()
            return Result.success(f"following {upstream.name} (reloaded)")
        stopped = self.stop(StopMode.FAST, checkpoint_first=False, timeout_s=timeout_s)
        if not stopped.ok:
            return stopped
        remaining = max(1.0, deadline - time.monotonic())
        return self.start(Role.REPLICA, upstream, remaining)

    def set_synchronous_standby_names(self, value: str) -> Result:
        """Write synchronous_standby_names, reload, and confirm the server uses it."""
        self.config.sync_names = value
        try:
            self.config.write()
        except OSError as exc:
            return Result.failure(f"cannot write postgresql.conf: {exc}")
        if not self.is_alive():
            return Result.success("written; the server is not running")
        try:
            reloading.reload_and_wait(self._conn)
            shown = self._conn.query("SHOW synchronous_standby_names")[0][0]
        except QueryError as exc:
            return Result.failure(f"reload failed: {exc}")
        if shown != value:
            return Result.failure(f"the server still shows {shown!r}")
        if value:
            reloading.nudge_standbys(self._conn)
        return Result.success(f"synchronous_standby_names = {value!r}")

    def ensure_replication_slots(self, names: Iterable[str]) -> Result:
        return slots.ensure_physical_slots(self._conn, names)

    def drop_replication_slots_except(self, keep: Iterable[str]) -> Result:
        return slots.drop_physical_slots_except(self._conn, keep)

    # -- looking ----------------------------------------------------------

    def controldata(self) -> dict[str, str]:
        """pg_controldata of the data directory (meant for a stopped server); cached."""
        return self._observer.controldata()

    def status(self) -> PostgresStatus:
        """The server's status; never raises (see observe.py).  The actor's thread.

        A standby running above its configured values (its primary's, see
        parameters.py) is pending a restart too, as in Patroni: pg_settings
        cannot say so, the files hold what it runs with."""
        status = self._observer.status()
        if self.config.raised and status.state is PgState.RUNNING:
            return dataclasses.replace(status, pending_restart=True)
        return status
