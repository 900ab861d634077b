"""Admin requests (from the REST API and the console) and the node status."""

from __future__ import annotations

from messages.base import ActorName, Lsn, MemberName, Message, Timeline, message
from messages.cluster import ClusterView, PgState, Role
from messages.config import Tags
from messages.gossip import HeardLeader
from messages.ha import ActionKind, Reason
from messages.postgres import StandbyReplication


@message("admin.switchover")
class SwitchoverRequest(Message):
    """Switchover (leader named) or manual failover (leader None) to a candidate."""

    leader: MemberName | None = None
    candidate: MemberName | None = None
    scheduled_at: float | None = None
    request_id: str = ""
    reply_to: ActorName | None = None
    """Who hears whether the request was stored (a FailoverResult): the HA core's
    reply only says it was accepted."""


@message("admin.cancel_switchover")
class CancelSwitchover(Message):
    pass


@message("admin.reply")
class AdminReply(Message):
    ok: bool
    detail: str = ""


@message("admin.node_status")
class NodeStatus(Message):
    """This node as the HA core sees it; pushed to the API and console actors."""

    name: MemberName
    scope: str
    role: Role
    state: PgState
    reason: Reason
    timeline: Timeline = Timeline(0)
    wal_position: Lsn = Lsn(0)
    replay_lsn: Lsn | None = None
    receive_lsn: Lsn | None = None
    is_leader: bool = False
    following: MemberName | None = None
    action: ActionKind | None = None
    paused: bool = False
    pending_restart: bool = False
    dcs_reachable: bool = True
    tags: Tags = Tags()
    replication: tuple[StandbyReplication, ...] = ()
    replication_state: str | None = None
    """A replica's WAL receiver state ("streaming"), as Patroni reports it."""
    sync_standby: bool = False
    cluster: ClusterView = ClusterView()
    lease_remaining_s: float | None = None
    failsafe_ttl_s: float = 0.0
    """More than 0: this node leads by failsafe (see PeerStatus.failsafe_ttl_s)."""
    data_dir_error: str = ""
    """PostgresStatus.data_dir_error: the data directory could not be read."""
    failsafe_acks: tuple[HeardLeader, ...] = ()
    """The failsafe leaders' heartbeats whose promise the HA core recorded."""


@message("admin.restart")
class RestartRequest(Message):
    """Restart PostgreSQL here, only if every condition given holds (Patroni's /restart)."""

    role: Role | None = None
    """Only when PostgreSQL runs in this role."""
    restart_pending: bool = False
    """Only when PostgreSQL reports settings that need a restart."""
    timeout_s: float | None = None
    """How long the restart may take; None: the postmaster's default."""


@message("admin.reload")
class ReloadRequest(Message):
    """Reload PostgreSQL's configuration here."""


@message("admin.reinitialize")
class ReinitializeRequest(Message):
    """Throw this replica's data away and clone it again from the leader."""

    force: bool = False
    """Accepted for patronictl; a running action is never interrupted either way."""
