"""A simulated PostgreSQL server: state, role, timeline and WAL as a list of write ids.

WAL is a Python list of globally unique write ids, so "has this write" is
`wal[i] == id` and "can stream from" is a prefix test on two lists: two
histories that share the id at index i share everything before it.  A
promotion starts a new timeline (numbered past every timeline so far, as with
a shared WAL archive) and records where the old one ended, which is what the
leader publishes as the cluster's timeline history.
"""

from __future__ import annotations

from messages.base import Lsn, Timeline
from messages.cluster import PgState, Role
from messages.postgres import PostgresStatus

SYSID = "7300000000000000001"
RUNNING_STATES = (PgState.RUNNING, PgState.STARTING, PgState.STOPPING)


class Pg:
    """One node's PostgreSQL.  Mutable, owned by the World; no I/O."""

    __slots__ = (
        "_status",
        "_status_key",
        "checkpoint",
        "data_empty",
        "data_role",
        "epoch",
        "history",
        "role",
        "ssn",
        "ssn_since",
        "state",
        "timeline",
        "upstream",
        "wal",
    )

    def __init__(self) -> None:
        self.state = PgState.UNINITIALIZED
        self.role = Role.UNKNOWN
        self.data_empty = True
        self.data_role = Role.UNKNOWN
        self.timeline = 0
        self.history: tuple[tuple[int, int], ...] = ()
        self.wal: list[int] = []
        self.upstream: str | None = None
        self.ssn: str | None = None
        """synchronous_standby_names (one name: synchronous_node_count 1)."""
        self.ssn_since = 0
        """Our WAL end when `ssn` was set: the standby is synchronous once it has that much."""
        self.checkpoint = 0
        self.epoch = 0
        """Bumped on every change the agent should react to (not on each WAL write)."""
        self._status: PostgresStatus | None = None
        self._status_key: tuple[int, int, bool] = (-1, -1, False)

    # -- what the world asks -------------------------------------------------

    @property
    def accepts_writes(self) -> bool:
        return self.state is PgState.RUNNING and self.role is Role.PRIMARY

    @property
    def running(self) -> bool:
        return self.state is PgState.RUNNING

    @property
    def is_replica(self) -> bool:
        return self.state is PgState.RUNNING and self.role is Role.REPLICA

    def changed(self) -> None:
        self.epoch += 1

    def status(self, streaming: bool) -> PostgresStatus:
        key = (self.epoch, len(self.wal), streaming)
        if self._status is None or key != self._status_key:
            self._status = self._make_status(streaming)
            self._status_key = key
        return self._status

    def _make_status(self, streaming: bool) -> PostgresStatus:
        down = self.state not in RUNNING_STATES
        return PostgresStatus(
            state=self.state,
            role=Role.UNKNOWN if down else self.role,
            timeline=Timeline(self.timeline),
            wal_position=Lsn(len(self.wal)),
            streaming_from=self.upstream if streaming else None,
            system_identifier=None if self.data_empty else SYSID,
            data_dir_empty=self.data_empty,
            shutdown_role=self.data_role if down else Role.UNKNOWN,
            checkpoint_lsn=Lsn(self.checkpoint) if down and not self.data_empty else None,
        )

    # -- transitions -----------------------------------------------------------

    def stop_writes(self) -> None:
        """A stop (any mode) ends client writes at once; the postmaster exits later."""
        if self.state in RUNNING_STATES:
            self.state = PgState.STOPPING
            self.changed()

    def stopped(self) -> None:
        self._remember_role()
        self.state = PgState.STOPPED
        self.checkpoint = len(self.wal)
        self._down()

    def crash(self) -> None:
        if self.state in RUNNING_STATES:
            self._remember_role()
            self.state = PgState.CRASHED
        self._down()

    def _remember_role(self) -> None:
        """What pg_controldata would say: the role it last *ran* as (not one it was starting as)."""
        if self.state in (PgState.RUNNING, PgState.STOPPING) and self.role is not Role.UNKNOWN:
            self.data_role = self.role

    def _down(self) -> None:
        """synchronous_standby_names lives in postgresql.conf: it survives a restart."""
        self.role = Role.UNKNOWN
        self.upstream = None
        self.changed()

    def promote(self, timeline: int) -> None:
        """Become primary on a new timeline; the old one ends at our WAL's end."""
        self.history = (*self.history, (self.timeline, len(self.wal)))
        self.timeline = timeline
        self.role = Role.PRIMARY
        self.data_role = Role.PRIMARY
        self.upstream = None
        self.changed()

    def run_as(self, role: Role, upstream: str | None) -> None:
        if role is Role.REPLICA:
            self.ssn = None
        self.state = PgState.RUNNING
        self.role = role
        self.data_role = role
        self.upstream = upstream
        self.changed()

    def initdb(self) -> None:
        self.data_empty = False
        self.timeline = 1
        self.history = ()
        self.wal = []
        self.run_as(Role.PRIMARY, None)

    def copy_from(self, source: Pg, upto: int | None = None) -> None:
        """Take the source's data (base backup) or its history up to `upto` (rewind)."""
        self.wal = source.wal[: len(source.wal) if upto is None else upto]
        self.follow_timeline(source)
        self.data_empty = False
        self.data_role = Role.REPLICA
        self.ssn = None
        self.state = PgState.STOPPED
        self.checkpoint = len(self.wal)
        self._down()

    def follow_timeline(self, source: Pg) -> None:
        """Be on the timeline of the last record we have of the source's history.

        A standby switches timeline only when replay passes the switch point:
        one promoted before that forks from the older timeline.
        """
        timeline, history = timeline_at(source.history, source.timeline, len(self.wal))
        if (timeline, history) != (self.timeline, self.history):
            self.timeline, self.history = timeline, history
            self.changed()

    def wipe(self) -> None:
        self.data_empty = True
        self.wal = []
        self.timeline = 0
        self.history = ()
        self.ssn = None
        self.state = PgState.UNINITIALIZED
        self._down()


def is_prefix(short: list[int], long: list[int]) -> bool:
    """`short` is a prefix of `long` (ids are unique, so one comparison suffices)."""
    n = len(short)
    return n <= len(long) and (n == 0 or long[n - 1] == short[n - 1])


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of two WAL histories (binary search)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[mid - 1] == b[mid - 1]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def timeline_at(
    history: tuple[tuple[int, int], ...], timeline: int, position: int
) -> tuple[int, tuple[tuple[int, int], ...]]:
    """The timeline (and its own history) of the record at `position` in a WAL with `history`."""
    for index, (old, end) in enumerate(history):
        if position <= end:
            return old, history[:index]
    return timeline, history
