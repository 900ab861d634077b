"""A simulated PostgreSQL server: what is on disk and what the process does.

WAL is a list of globally unique write ids, so "has this write" is
`wal[i] == id` and "can stream from" is a prefix test on two lists: two
histories that share the id at index i share everything before it.  A
promotion starts a new timeline (numbered past every timeline so far, as with
a shared WAL archive) and records where the old one ended, which is what the
leader publishes as the cluster's timeline history.

What survives a stop, a crash, a machine's reboot and a whole-cluster
restart is the data directory: WAL, timeline, history, the role it last ran
as, its last checkpoint, and postgresql.conf's synchronous_standby_names.
Everything else (running, role, upstream) is the process's.

`writes_open` is the instant-by-instant truth the invariants read: the
server takes and acknowledges commits.  It closes when a stop begins to end
the backends (a moment into the stop, not when the postmaster exits), when
the server crashes, and while a cgroup freeze holds it.
"""

from __future__ import annotations

from messages.cluster import PgState, Role

RUNNING_STATES = (PgState.RUNNING, PgState.STARTING, PgState.STOPPING)
DOWN_STATES = (PgState.STOPPED, PgState.CRASHED, PgState.START_FAILED)


class Pg:
    """One host's PostgreSQL.  Mutable, owned by the World; no I/O."""

    __slots__ = (
        "caught_up",
        "checkpoint",
        "clean",
        "data_empty",
        "data_role",
        "draining",
        "frozen",
        "history",
        "names",
        "promoting",
        "role",
        "state",
        "stopping_writes",
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
        self.names = ""
        """synchronous_standby_names (postgresql.conf: survives restarts and role changes)."""
        self.checkpoint = 0
        self.caught_up = False
        """A replica streaming: it has caught up with its upstream since it connected
        (pg_stat_replication's 'streaming' rather than 'catchup')."""
        self.frozen = False
        """A cgroup freeze holds every process of the host, PostgreSQL's too."""
        self.stopping_writes = False
        """A stop began ending the backends: no commit is acknowledged any more."""
        self.promoting = False
        self.draining = False
        """A fast or smart shutdown under way: no more commits, but the walsenders still send
        what there is (the shutdown checkpoint reaches every connected standby)."""
        self.clean = False
        """Down after a clean shutdown (pg_controldata's "shut down [in recovery]"): nothing
        was written after the checkpoint.  Not after a crash or an immediate stop."""

    # -- what the world asks -------------------------------------------------

    @property
    def writes_open(self) -> bool:
        return (
            self.state is PgState.RUNNING
            and self.role is Role.PRIMARY
            and not self.stopping_writes
            and not self.frozen
        )

    @property
    def running(self) -> bool:
        return self.state is PgState.RUNNING

    @property
    def is_replica(self) -> bool:
        return self.state is PgState.RUNNING and self.role is Role.REPLICA

    @property
    def down(self) -> bool:
        return self.state not in RUNNING_STATES

    # -- transitions -----------------------------------------------------------

    def stop_writes(self) -> None:
        if self.state in RUNNING_STATES:
            self.state = PgState.STOPPING
            self.stopping_writes = True

    def stopped(self) -> None:
        """A clean shutdown: the checkpoint is the end of WAL."""
        self._remember_role()
        self.state = PgState.STOPPED
        self.checkpoint = len(self.wal)
        self._down()
        self.clean = True

    def stopped_immediate(self) -> None:
        """An immediate shutdown: no checkpoint (the next start recovers from the last one)."""
        self._remember_role()
        self.state = PgState.STOPPED
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
        self.clean = False
        self.draining = False
        self.role = Role.UNKNOWN
        self.upstream = None
        self.caught_up = False
        self.stopping_writes = False
        self.promoting = False

    def promote(self, timeline: int) -> None:
        """Become primary on a new timeline; the old one ends at our WAL's end."""
        self.history = (*self.history, (self.timeline, len(self.wal)))
        self.timeline = timeline
        self.role = Role.PRIMARY
        self.data_role = Role.PRIMARY
        self.upstream = None
        self.caught_up = False
        self.promoting = False

    def run_as(self, role: Role, upstream: str | None) -> None:
        self.clean = False
        self.state = PgState.RUNNING
        self.role = role
        self.data_role = role
        self.upstream = upstream
        self.caught_up = False
        self.stopping_writes = False

    def initdb(self) -> None:
        self.data_empty = False
        self.timeline = 1
        self.history = ()
        self.wal = []
        self.names = ""
        self.run_as(Role.PRIMARY, None)

    def copy_from(self, source: Pg, upto: int | None = None) -> None:
        """Take the source's data (base backup) or its history up to `upto` (rewind)."""
        self.wal = source.wal[: len(source.wal) if upto is None else upto]
        self.follow_timeline(source)
        self.data_empty = False
        self.data_role = Role.REPLICA
        if upto is None:
            self.names = ""  # a fresh postgresql.conf
        self.state = PgState.STOPPED
        self.checkpoint = len(self.wal)
        self._down()

    def follow_timeline(self, source: Pg) -> None:
        """Be on the timeline of the last record we have of the source's history.

        A standby switches timeline only when replay passes the switch point:
        one promoted before that forks from the older timeline.
        """
        self.timeline, self.history = timeline_at(source.history, source.timeline, len(self.wal))

    def wipe(self) -> None:
        self.data_empty = True
        self.wal = []
        self.timeline = 0
        self.history = ()
        self.names = ""
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
