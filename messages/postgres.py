"""Commands to the PostgreSQL actors and what they report back."""

from __future__ import annotations

import enum

from messages.base import Lsn, MemberName, Message, Timeline, message
from messages.cluster import HistoryEntry, PgState, Role
from messages.config import StopMode
from messages.pg_parameters import ParameterSpec


@message("pg.upstream")
class Upstream(Message):
    """Where a replica streams from (host/port of the leader's PostgreSQL)."""

    name: MemberName
    host: str
    port: int


@message("pg.replication")
class StandbyReplication(Message):
    """One row of pg_stat_replication on a primary."""

    application_name: str
    state: str
    sync_state: str
    flush_lsn: Lsn | None = None
    replay_lsn: Lsn | None = None


@message("pg.status")
class PostgresStatus(Message):
    state: PgState
    role: Role = Role.UNKNOWN
    timeline: Timeline = Timeline(0)
    wal_position: Lsn = Lsn(0)
    """Primary: pg_current_wal_flush_lsn(); replica: max(received, replayed)."""
    receive_lsn: Lsn | None = None
    replay_lsn: Lsn | None = None
    streaming_from: str | None = None
    replication: tuple[StandbyReplication, ...] = ()
    system_identifier: str | None = None
    data_dir_empty: bool = True
    pending_restart: bool = False
    synchronous_standby_names: str = ""
    replay_paused: bool = False
    """A replica: WAL replay is paused (pg_get_wal_replay_pause_state())."""
    hot_standby_blocked: bool = False
    """A replica paused because the primary runs with more max_connections (or another
    setting a hot standby needs at least as high) than it started with: pg_control,
    updated by the replayed change, says so.  Only a restart picks the values up."""
    shutdown_role: Role = Role.UNKNOWN
    """When down: the role the data directory last ran as (from pg_controldata)."""
    checkpoint_lsn: Lsn | None = None
    """When down: the latest checkpoint location (pg_controldata)."""
    shut_down_cleanly: bool = False
    """When down: pg_controldata says "shut down" (or "shut down in recovery"): nothing
    was written after checkpoint_lsn.  False after a crash or an immediate stop."""
    detail: str = ""
    history: tuple[HistoryEntry, ...] = ()
    """A running primary: how its timeline came to be (its pg_wal timeline history file)."""
    data_dir_error: str = ""
    """The data directory could not be read (permissions, I/O error): PostgreSQL's
    state, timeline and position are unknown.  Reported and retried, never taken
    for a divergence."""


@message("pg.start")
class StartPostgres(Message):
    role: Role
    upstream: Upstream | None = None
    timeout_s: float = 60.0


@message("pg.stop")
class StopPostgres(Message):
    mode: StopMode = StopMode.FAST
    checkpoint_first: bool = False
    timeout_s: float = 60.0


@message("pg.restart")
class RestartPostgres(Message):
    timeout_s: float = 60.0


@message("pg.reload")
class ReloadPostgres(Message):
    pass


@message("pg.promote")
class Promote(Message):
    timeout_s: float = 60.0


@message("pg.follow")
class Follow(Message):
    upstream: Upstream
    timeout_s: float = 60.0


@message("pg.set_sync_names")
class SetSynchronousStandbyNames(Message):
    value: str


@message("pg.initdb")
class Bootstrap(Message):
    """Initdb, start as primary, post-bootstrap (users, pg_hba, post_init)."""


@message("pg.create_replica")
class CreateReplica(Message):
    sources: tuple[Upstream, ...]


@message("pg.rewind")
class Rewind(Message):
    source: Upstream


@message("pg.reinitialize")
class Reinitialize(Message):
    sources: tuple[Upstream, ...]


@message("pg.watchdog_arm")
class ArmWatchdog(Message):
    """Kill PostgreSQL at `fire_at` (monotonic) unless armed again or disarmed first."""

    fire_at: float


@message("pg.watchdog_disarm")
class DisarmWatchdog(Message):
    """Nothing to fence: this node runs no primary, or runs it with no lease to outlive."""


@message("pg.watchdog_status")
class WatchdogStatus(Message):
    """The WatchdogActor's answer to every arm/disarm: does a live fence hold it?

    `ok` False: the fence could not be started or did not take the command;
    with ``watchdog.mode: required`` such a member must not lead.
    """

    ok: bool
    detail: str = ""


@message("pg.probe_primary")
class ProbePrimary(Message):
    """Before promoting after a failover: does the former primary still take writes?"""

    upstream: Upstream


@message("pg.primary_probed")
class PrimaryProbed(Message):
    """What a probe found: `writable` only when the server answered as a primary."""

    name: MemberName
    writable: bool
    detail: str = ""


@message("pg.cancel_work")
class CancelWork(Message):
    """Stop a long job (base backup) at once."""


class SafepointKind(enum.Enum):
    SAFEPOINT = "safepoint"
    SHUTDOWN = "shutdown"


@message("pg.stop_progress")
class StopProgress(Message):
    """Reached during a stop: no client backend left (safepoint), or postmaster gone."""

    kind: SafepointKind


@message("pg.describe_parameters")
class DescribeParameters(Message):
    """Asked of the PostmasterActor (at the edges: the REST API): which parameters does
    this node's PostgreSQL know, with their types and ranges?"""


@message("pg.parameter_catalogue")
class ParameterCatalogue(Message):
    """The answer to :class:`DescribeParameters`.

    `source` is ``pg_settings`` (a running server: types, units, ranges, enum
    values), ``describe-config`` (``postgres --describe-config``: no units, no
    enum values) or empty, with no parameters, when neither could be read.
    """

    parameters: tuple[ParameterSpec, ...] = ()
    source: str = ""
