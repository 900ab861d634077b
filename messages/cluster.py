"""What a node knows of the cluster: immutable snapshots from the DCS.

A :class:`ClusterView` is taken atomically from the leader-lock actor's cache
and never changes afterwards; decisions are made against one snapshot, as in
Patroni's ``Cluster``.  Times here are the *observer's* monotonic clock
(safety rule 2): a lease is judged by when this node saw the record change,
never by a wall clock written by another host.
"""

from __future__ import annotations

import enum

from messages.base import Lsn, MemberName, Message, Timeline, message
from messages.config import DynamicConfig, Tags


class Role(enum.Enum):
    PRIMARY = "primary"
    REPLICA = "replica"
    UNKNOWN = "unknown"


class PgState(enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    CRASHED = "crashed"
    START_FAILED = "start failed"
    INITIALIZING = "initializing"
    CREATING_REPLICA = "creating replica"
    UNINITIALIZED = "uninitialized"


@message("member")
class MemberStatus(Message):
    """One member as it publishes itself (Patroni: the member key / Pod status)."""

    name: MemberName
    role: Role = Role.UNKNOWN
    state: PgState = PgState.STOPPED
    conn_host: str = ""
    conn_port: int = 5432
    api_url: str = ""
    gossip_url: str = ""
    timeline: Timeline = Timeline(0)
    wal_position: Lsn = Lsn(0)
    replication_lag: int | None = None
    following: MemberName | None = None
    tags: Tags = Tags()
    pending_restart: bool = False
    version: str = ""
    """The member's pgactor version ("": not published)."""
    replication_state: str | None = None
    """A running replica's WAL receiver: "streaming", or "in archive recovery" while it
    replays from the archive (Patroni 4's names); None otherwise."""
    receive_lsn: Lsn | None = None
    """A running replica's last WAL position received and flushed (None: a primary or down)."""
    replay_lsn: Lsn | None = None
    """A running replica's last WAL position replayed (None: a primary or down)."""


@message("leader")
class LeaderRecord(Message):
    name: MemberName
    optime: Lsn = Lsn(0)
    transitions: int = 0
    ttl_s: float = 30.0
    observed_change_at: float = 0.0
    """Observer's monotonic time when this node last saw the record change."""


@message("sync_state")
class SyncState(Message):
    """The DCS sync key: the primary and the standbys it published as synchronous."""

    leader: MemberName | None = None
    sync_standbys: frozenset[MemberName] = frozenset()
    quorum: int = 0


@message("failover")
class FailoverRequest(Message):
    """A switchover (leader named) or manual failover (leader absent)."""

    leader: MemberName | None = None
    candidate: MemberName | None = None
    scheduled_at: float | None = None
    """Wall-clock epoch seconds; the one place a wall time is used, as an operator asks."""


@message("history_entry")
class HistoryEntry(Message):
    timeline: Timeline
    lsn: Lsn
    reason: str = ""
    timestamp: str = ""
    new_leader: MemberName | None = None


@message("cluster_view")
class ClusterView(Message):
    initialize: str | None = None
    """The initialise key: None when unclaimed; the system identifier (or "") once claimed."""
    config: DynamicConfig | None = None
    """None until the first bootstrap writes the cluster config."""
    leader: LeaderRecord | None = None
    last_leader_optime: Lsn = Lsn(0)
    """The last WAL position a leader published (the DCS status record): it outlives
    the leader record, an agent's restart and a whole-cluster restart."""
    last_leader_name: MemberName | None = None
    """Who published it (the DCS status record; Patroni keeps no name there)."""
    last_leader_clean: bool = False
    """The last leader released the lock after stopping PostgreSQL cleanly, and
    last_leader_optime is its final checkpoint: a successor behind it would drop
    writes although nothing failed, so none may be (see ReleaseLock)."""
    last_leader_host: str = ""
    last_leader_port: int = 0
    """Where the last leader's PostgreSQL listened (the status record): a candidate
    checks it takes no writes any more, though its member record may be gone."""
    members: tuple[MemberStatus, ...] = ()
    sync: SyncState = SyncState()
    failover: FailoverRequest | None = None
    history: tuple[HistoryEntry, ...] = ()

    def member(self, name: MemberName | None) -> MemberStatus | None:
        return next((m for m in self.members if m.name == name), None)
