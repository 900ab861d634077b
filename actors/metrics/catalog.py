"""Every metric pgactor exposes, in one table: name, type, help text, labels.

A sample for a name that is not here is dropped (with one warning), so this
table is the whole contract with dashboards.  Names follow Prometheus
conventions (``pgactor_`` prefix, base units, ``_total`` on counters).  Where
Patroni exposes the same quantity, the help text names Patroni's metric and
the meaning is kept, so a Patroni dashboard ports by renaming the prefix;
Patroni declares its WAL positions and timeline as counters, pgactor as
gauges, because a member's value may go back (a rewind, a new data directory).

Every series also carries ``scope`` and ``name`` labels (cluster and member),
as Patroni's do; they are added by the store, not listed here.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping


class Kind(enum.Enum):
    GAUGE = "gauge"
    COUNTER = "counter"
    HISTOGRAM = "histogram"


DCS_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
POSTGRES_BUCKETS_S = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MetricDef:
    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    """Histogram bucket upper bounds; unused for other kinds."""


def _gauge(name: str, help: str, *labels: str) -> MetricDef:
    return MetricDef(name=name, kind=Kind.GAUGE, help=help, labels=labels)


def _counter(name: str, help: str, *labels: str) -> MetricDef:
    return MetricDef(name=name, kind=Kind.COUNTER, help=help, labels=labels)


def _histogram(name: str, help: str, buckets: tuple[float, ...], *labels: str) -> MetricDef:
    return MetricDef(name=name, kind=Kind.HISTOGRAM, help=help, labels=labels, buckets=buckets)


CATALOG: tuple[MetricDef, ...] = (
    # -- this member, from the HA actor's status (Patroni's /metrics) ---------------------
    _gauge("pgactor_info", "pgactor's version; value is always 1.", "version"),
    _gauge(
        "pgactor_primary",
        "1 if this member runs as primary holding the leader lock, 0 otherwise (patroni_primary).",
    ),
    _gauge("pgactor_replica", "1 if this member runs as a replica, 0 otherwise (patroni_replica)."),
    _gauge(
        "pgactor_sync_standby",
        "1 if this member is published as a synchronous standby, 0 otherwise "
        "(patroni_sync_standby).",
    ),
    _gauge(
        "pgactor_postgres_running",
        "1 if PostgreSQL is running, 0 otherwise (patroni_postgres_running).",
    ),
    _gauge(
        "pgactor_postgres_state",
        "1 for PostgreSQL's current state, one series per state seen "
        "(patroni_postgres_state as one series per state).",
        "state",
    ),
    _gauge(
        "pgactor_postgres_timeline",
        "PostgreSQL timeline of this member if running, 0 otherwise (patroni_postgres_timeline).",
    ),
    _gauge(
        "pgactor_xlog_location",
        "Current WAL location (bytes) of the primary, 0 if this member is not the primary "
        "(patroni_xlog_location).",
    ),
    _gauge(
        "pgactor_xlog_received_location",
        "WAL location (bytes) received by this replica, 0 if not a replica "
        "(patroni_xlog_received_location).",
    ),
    _gauge(
        "pgactor_xlog_replayed_location",
        "WAL location (bytes) replayed by this replica, 0 if not a replica "
        "(patroni_xlog_replayed_location).",
    ),
    _gauge(
        "pgactor_replica_lag_bytes",
        "Bytes this replica is behind the leader's last published WAL position (the lag "
        "Patroni's /cluster shows); absent on a primary or when unknown.",
    ),
    _gauge(
        "pgactor_standby_lag_bytes",
        "On the primary: bytes each standby in pg_stat_replication is behind, by replay "
        "(else flush) position.",
        "application_name",
    ),
    _gauge(
        "pgactor_lease_remaining_seconds",
        "Seconds until this leader's lock could expire for the others, by its own clock; "
        "absent when not the leader.",
    ),
    _gauge(
        "pgactor_is_paused",
        "1 if automatic failover is paused, 0 otherwise (patroni_is_paused).",
    ),
    _gauge(
        "pgactor_pending_restart",
        "1 if PostgreSQL needs a restart to apply settings, 0 otherwise (patroni_pending_restart).",
    ),
    _gauge(
        "pgactor_cluster_unlocked",
        "1 if no member holds the leader lock, 0 otherwise (patroni_cluster_unlocked).",
    ),
    _gauge(
        "pgactor_postgres_streaming",
        "1 if this replica's WAL receiver streams from its upstream, 0 otherwise "
        "(patroni_postgres_streaming).",
    ),
    _gauge(
        "pgactor_postgres_in_archive_recovery",
        "1 if this replica replays WAL from the archive instead of streaming, 0 otherwise "
        "(patroni_postgres_in_archive_recovery).",
    ),
    _gauge(
        "pgactor_failsafe_mode_is_active",
        "1 if this member leads by failsafe mode (the DCS is lost and every member "
        "promised), 0 otherwise (patroni_failsafe_mode_is_active).",
    ),
    _gauge(
        "pgactor_maximum_lag_on_failover_bytes",
        "The cluster's maximum_lag_on_failover as this member last read it: a replica "
        "further behind is not promoted; absent until the cluster config is known.",
    ),
    _gauge("pgactor_dcs_reachable", "1 if the DCS answered the last request, 0 otherwise."),
    _gauge(
        "pgactor_dcs_last_seen",
        "Epoch seconds when the DCS was last seen reachable (patroni_dcs_last_seen).",
    ),
    # -- the leader-lock actor --------------------------------------------------------------
    _histogram(
        "pgactor_dcs_request_duration_seconds",
        "Time one DCS operation took, retries included.",
        DCS_BUCKETS_S,
        "op",
    ),
    _counter(
        "pgactor_dcs_errors_total",
        "DCS operations that failed, by operation and kind (unreachable or error).",
        "op",
        "kind",
    ),
    # -- the PostgreSQL actors ------------------------------------------------------------------
    _histogram(
        "pgactor_postgres_action_duration_seconds",
        "Time a postmaster action took (start, stop, restart, promote, follow), by outcome.",
        POSTGRES_BUCKETS_S,
        "action",
        "outcome",
    ),
    _gauge(
        "pgactor_fence_armed",
        "1 if this member's fence process answered that it is armed (it kills PostgreSQL "
        "unless re-armed in time), 0 if it answered disarmed or no fence runs; absent "
        "with watchdog.mode off.",
    ),
    _gauge(
        "pgactor_fence_fire_at_seconds",
        "Epoch seconds at which the armed fence kills PostgreSQL unless re-armed (its "
        "monotonic deadline converted with the wall/monotonic offset when armed); "
        "absent while disarmed.",
    ),
    _counter(
        "pgactor_fence_fired_total",
        "Times this member's fence killed PostgreSQL because the agent did not re-arm it "
        "in time, counted from the fence's own record, so a firing while the agent was "
        "frozen or dead shows once the agent runs again.",
    ),
    _gauge(
        "pgactor_basebackup_done_bytes",
        "Bytes the running (or last) base backup has copied.",
    ),
    _gauge(
        "pgactor_basebackup_total_bytes",
        "Estimated size in bytes of the running (or last) base backup.",
    ),
    # -- the runtime and the other actors -----------------------------------------------------
    _counter(
        "pgactor_actor_restarts_total",
        "Times the supervisor restarted an actor since this node started.",
        "actor",
    ),
    _gauge(
        "pgactor_gossip_peers_seen",
        "Peers this member heard from within the gossip failure-detection window.",
    ),
    _counter(
        "pgactor_pushgateway_failures_total",
        "Pushes to the Prometheus Pushgateway that failed.",
    ),
)

BY_NAME: Mapping[str, MetricDef] = {m.name: m for m in CATALOG}

CONSTANT_LABELS = ("scope", "name")
"""Labels every series carries: the cluster scope and this member's name."""
