"""The status path: what the postmaster and its data directory say, never raising.

A status is the HA actor's only view of PostgreSQL, so it must be true even
when the files are not: a data directory PostgreSQL cannot read is reported
as ``data_dir_error`` (never as empty, never as timeline 0 of a stopped
server, which would read as a divergence and start a rewind), and a
postmaster that still runs after its directory was removed is reported
running, with the reason, so nobody clones over it while it holds the port.

The postmaster is found by its PID file; the PID last seen there (with its
start time, so a recycled PID never passes) stands in for the file once the
directory is gone or unreadable, and a /proc scan finds one that nobody saw
start.

The status is read on the actor's thread, over the status session, while an
action may run in a worker thread on a session of its own (see control.py).
While pgactor stops the server, the status says so without opening a session
a smart shutdown would wait for.  The methods that find the postmaster may be
called from any thread; the status from one thread at a time (the actor's).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from actors.postgres import datadir, procfs
from actors.postgres.connection import LocalConnection, QueryError
from actors.postgres.controldata import controldata
from actors.postgres.history import read_history
from actors.postgres.oscommand import OsUser, is_dir_empty
from actors.postgres.parameters import STANDBY_MINIMUMS, standby_minimums
from actors.postgres.startup import READY
from actors.postgres.status import (
    RUNNING_MINIMUMS_SQL,
    STATUS_SQL,
    build_status,
    offline_status,
    unreachable_status,
)
from messages.base import Timeline
from messages.cluster import HistoryEntry, PgState, Role
from messages.config import PostgresSettings
from messages.postgres import PostgresStatus

_PID_FILE_STATES = {"stopping": PgState.STOPPING}
"""A PID file's status short of ready: anything but stopping is still starting."""


class Observer:
    """Reads the state of the server of ``settings.data_dir`` over ``conn``."""

    def __init__(
        self,
        settings: PostgresSettings,
        *,
        user: OsUser,
        conn: LocalConnection,
        reap: Callable[[], None],
    ) -> None:
        self.settings = settings
        self._data_dir = settings.data_dir
        self._user = user
        self._conn = conn
        self._reap = reap
        self._seen: procfs.Seen | None = None
        self._control_cache: tuple[tuple[int, int, int], dict[str, str]] | None = None
        self._history_cache: tuple[int, tuple[HistoryEntry, ...]] = (0, ())
        self._streamed: tuple[int, int] = (0, 0)  # (postmaster pid, timeline it streamed on)

    # -- which postmaster ---------------------------------------------------

    def postmaster_pid(self) -> int | None:
        """The live postmaster's PID, or None.  Cheap; any thread."""
        self._reap()
        pid_file = procfs.read_pid_file(self._data_dir)
        if pid_file is not None:
            if not procfs.is_postmaster_of(pid_file.pid, self._data_dir):
                return None
            self._remember(pid_file.pid)
            return pid_file.pid
        return self.lingering_pid()

    def lingering_pid(self) -> int | None:
        """The postmaster last seen here, if it still runs though the cluster's files are
        gone or unreadable (its PID file with them).  Cheap; any thread."""
        seen = self._seen
        if seen is None or not datadir.is_gone(self._data_dir):
            return None
        return seen.pid if seen.still_runs_in(self._data_dir) else None

    def find_lingering(self) -> int | None:
        """:meth:`lingering_pid`, or one found by a /proc scan (an agent restarted since).
        Any thread."""
        pid = self.lingering_pid()
        if pid is None:
            pid = procfs.postmaster_in_dir(self._data_dir)
            if pid is not None:
                self._remember(pid)
        return pid

    def _remember(self, pid: int) -> None:
        seen = self._seen
        if seen is None or seen.pid != pid:
            self._seen = procfs.Seen.of(pid)

    # -- status ---------------------------------------------------------------

    def status(self) -> PostgresStatus:
        """The server's status; an unreadable data directory is reported, not raised."""
        try:
            return self._status()
        except OSError as exc:  # read between the checks: the directory changed under us
            return self._unreadable(f"cannot read {self._data_dir}: {exc.strerror or exc}")

    def _status(self) -> PostgresStatus:
        self._reap()
        out_of_reach = self._files_out_of_reach()
        if out_of_reach is not None:
            return out_of_reach
        empty = is_dir_empty(self._data_dir)
        pid_file = procfs.read_pid_file(self._data_dir)
        if pid_file is None:
            return offline_status(PgState.STOPPED, self.controldata(), data_dir_empty=empty)
        if not procfs.is_postmaster_of(pid_file.pid, self._data_dir):
            detail = f"postmaster.pid names process {pid_file.pid}, which is not running"
            control = self.controldata()
            return offline_status(PgState.CRASHED, control, data_dir_empty=empty, detail=detail)
        self._remember(pid_file.pid)
        if self._conn.held:  # pgactor is stopping it: no session may hold a smart shutdown up
            return PostgresStatus(state=PgState.STOPPING, data_dir_empty=empty)
        if pid_file.status not in READY:
            state = _PID_FILE_STATES.get(pid_file.status, PgState.STARTING)
            return PostgresStatus(state=state, data_dir_empty=empty)
        return self._running_status(pid_file.pid, empty)

    def _files_out_of_reach(self) -> PostgresStatus | None:
        """The status when the cluster's files cannot be read or are gone under a live
        server; None when they are there to read (or gone with the server)."""
        problem = datadir.unreadable(self._data_dir, self._user)
        if problem:
            return self._unreadable(problem)
        if datadir.is_gone(self._data_dir):
            pid = self.find_lingering()
            if pid is not None:
                gone = f"data directory is gone while PostgreSQL (pid {pid}) still runs"
                return self._running_without_files(pid, gone)
        return None

    def _unreadable(self, problem: str) -> PostgresStatus:
        """What the running process still tells when its files cannot be read."""
        pid = self.postmaster_pid() or self.find_lingering()
        if pid is None:
            return PostgresStatus(
                state=PgState.STOPPED, data_dir_empty=False, data_dir_error=problem
            )
        return self._running_without_files(pid, problem)

    def _running_without_files(self, pid: int, problem: str) -> PostgresStatus:
        """A live postmaster whose files are out of reach: its state from the PID file when
        that can still be read, its role from the server; timeline and position unknown."""
        pid_file = procfs.read_pid_file(self._data_dir)
        state = PgState.RUNNING
        if pid_file is not None and pid_file.pid == pid and pid_file.status not in READY:
            state = _PID_FILE_STATES.get(pid_file.status, PgState.STARTING)
        role = Role.UNKNOWN
        if state is PgState.RUNNING and not self._conn.held:
            try:  # shared memory only: answers while the files are out of reach
                in_recovery = self._conn.query("SELECT pg_is_in_recovery()")[0][0]
                role = Role.REPLICA if in_recovery else Role.PRIMARY
            except QueryError:
                pass
        return PostgresStatus(state=state, role=role, data_dir_empty=False, data_dir_error=problem)

    def _running_status(self, pid: int, empty: bool) -> PostgresStatus:
        try:
            row = self._conn.query(STATUS_SQL)[0]
        except QueryError as exc:
            return unreachable_status(str(exc), data_dir_empty=empty)
        status = build_status(row, data_dir_empty=empty)
        if status.role is Role.PRIMARY:
            return dataclasses.replace(status, history=self._history(status.timeline))
        if status.replay_paused:
            status = dataclasses.replace(status, hot_standby_blocked=self._blocked())
        return self._replica_timeline(status, pid)

    def _blocked(self) -> bool:
        """Replay paused because the primary's settings outgrew ours?  The replayed
        parameter change wrote the primary's values to pg_control before pausing, so
        pg_control above what runs here says so; a pause by hand leaves them equal."""
        try:
            rows = self._conn.query(RUNNING_MINIMUMS_SQL, (list(STANDBY_MINIMUMS),))
        except QueryError:
            return False
        return bool(standby_minimums(dict(rows), self.controldata()))

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
            self._history_cache = (timeline, read_history(self._data_dir, timeline))
        return self._history_cache[1]

    def controldata(self) -> dict[str, str]:
        """pg_controldata of the data directory (meant for a stopped server).

        Cached until pg_control changes, so a status poll of a stopped server
        does not run a program every time.
        """
        try:
            st = os.stat(os.path.join(self._data_dir, datadir.PG_CONTROL))
        except OSError:
            return {}
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._control_cache is None or self._control_cache[0] != key:
            self._control_cache = (key, controldata(self.settings))
        return dict(self._control_cache[1])
