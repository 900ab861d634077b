"""The HA actor's NodeStatus as metric samples: this member's role, positions and lease.

The HA actor already tells its full status every loop to whoever reports on
the node (the REST API, the console); the MetricsActor takes the same status
and derives the gauges here, so the HA actor carries no metric names and the
gauges always agree with what ``/patroni`` shows.  Pure: the wall time for
``pgactor_dcs_last_seen`` comes in as an argument.

Families that hold only while something is true (the lag of a replica, the
lease of a leader, one series per standby) are *replaced* on every status,
so they disappear when it stops being true instead of freezing.
"""

from __future__ import annotations

from messages.admin import NodeStatus
from messages.cluster import ClusterView, PgState, Role
from messages.metrics import Sample, Samples

_REPLACED = (
    "pgactor_postgres_state",
    "pgactor_maximum_lag_on_failover_bytes",
    "pgactor_replica_lag_bytes",
    "pgactor_standby_lag_bytes",
    "pgactor_lease_remaining_seconds",
)


def _flag(name: str, value: bool) -> Sample:
    return Sample(name=name, value=1.0 if value else 0.0)


def _leader_optime(cluster: ClusterView) -> int:
    """The furthest position any leader record has shown (as the REST API judges lag)."""
    known = [cluster.last_leader_optime]
    if cluster.leader is not None:
        known.append(cluster.leader.optime)
        member = cluster.member(cluster.leader.name)
        if member is not None:
            known.append(member.wal_position)
    return max(known)


def _replica_lag(status: NodeStatus) -> list[Sample]:
    own = next((p for p in (status.replay_lsn, status.receive_lsn) if p is not None), None)
    own = own if own is not None else (status.wal_position or None)
    leader = _leader_optime(status.cluster)
    if own is None or not leader:
        return []
    return [Sample(name="pgactor_replica_lag_bytes", value=float(max(0, leader - own)))]


def _standby_lags(status: NodeStatus) -> list[Sample]:
    samples = []
    for row in status.replication:
        position = row.replay_lsn if row.replay_lsn is not None else row.flush_lsn
        if position is None:
            continue
        samples.append(
            Sample(
                name="pgactor_standby_lag_bytes",
                value=float(max(0, status.wal_position - position)),
                labels=(("application_name", row.application_name),),
            )
        )
    return samples


def _positions(status: NodeStatus, running: bool) -> list[Sample]:
    primary = running and status.role is Role.PRIMARY
    replica = running and status.role is Role.REPLICA
    received = status.receive_lsn if status.receive_lsn is not None else status.replay_lsn
    return [
        Sample(name="pgactor_postgres_timeline", value=float(status.timeline if running else 0)),
        Sample(name="pgactor_xlog_location", value=float(status.wal_position if primary else 0)),
        Sample(
            name="pgactor_xlog_received_location",
            value=float(received or 0) if replica else 0.0,
        ),
        Sample(
            name="pgactor_xlog_replayed_location",
            value=float(status.replay_lsn or 0) if replica else 0.0,
        ),
        *(_standby_lags(status) if primary else ()),
        *(_replica_lag(status) if replica else ()),
    ]


def status_samples(status: NodeStatus, *, wall_time: float) -> Samples:
    """Every gauge the status determines, replacing the conditional families."""
    running = status.state is PgState.RUNNING
    replica = running and status.role is Role.REPLICA
    items = [
        _flag("pgactor_primary", running and status.is_leader and status.role is Role.PRIMARY),
        _flag("pgactor_replica", replica),
        _flag("pgactor_sync_standby", status.sync_standby),
        _flag("pgactor_postgres_running", running),
        Sample(name="pgactor_postgres_state", value=1.0, labels=(("state", status.state.value),)),
        *_positions(status, running),
        _flag("pgactor_postgres_streaming", replica and status.replication_state == "streaming"),
        _flag(
            "pgactor_postgres_in_archive_recovery",
            replica and status.replication_state == "in archive recovery",
        ),
        _flag("pgactor_is_paused", status.paused),
        _flag("pgactor_pending_restart", status.pending_restart),
        _flag("pgactor_cluster_unlocked", status.cluster.leader is None),
        _flag("pgactor_failsafe_mode_is_active", status.failsafe_ttl_s > 0),
        _flag("pgactor_dcs_reachable", status.dcs_reachable),
    ]
    if status.cluster.config is not None:
        lag = float(status.cluster.config.maximum_lag_on_failover)
        items.append(Sample(name="pgactor_maximum_lag_on_failover_bytes", value=lag))
    if status.lease_remaining_s is not None:
        items.append(
            Sample(name="pgactor_lease_remaining_seconds", value=max(0.0, status.lease_remaining_s))
        )
    if status.dcs_reachable:
        items.append(Sample(name="pgactor_dcs_last_seen", value=float(int(wall_time))))
    return Samples(items=tuple(items), replace=_REPLACED)
