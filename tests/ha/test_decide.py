"""decide() as a table: one row per rule, each row named after the rule it shows.

Every row gives the cluster view, our local view (and config, and time when
they differ from the defaults in builders) and expects a reason and the exact
actions.  Views are built with the small constructors in builders.py; the
defaults are a healthy cluster of a, b and c seen by "a" at time NOW.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from actors.ha.decide import decide, history_to_publish
from messages.base import Lsn, Timeline
from messages.cluster import ClusterView, HistoryEntry, MemberStatus, PgState, Role
from messages.config import DynamicConfig, StopMode, Tags
from messages.dcs import (
    AcquireLock,
    CancelInitialize,
    ClaimInitialize,
    ClearFailover,
    ReleaseLock,
    RenewLock,
    SetBootstrapConfig,
    SetHistory,
    SetInitialized,
)
from messages.ha import Action, ActionKind, LocalView, Reason
from messages.postgres import (
    Bootstrap,
    CreateReplica,
    Follow,
    PrimaryProbed,
    ProbePrimary,
    Promote,
    RestartPostgres,
    Rewind,
    StartPostgres,
    Upstream,
)
from messages.postgres import StopPostgres as Stop

from .builders import (
    CONFIG,
    LOOP,
    NOW,
    RETRY,
    SYSID,
    TTL,
    cluster,
    config,
    empty,
    expired,
    history,
    holder,
    led_by,
    local,
    lock,
    member,
    name,
    pg,
    primary,
    replica,
    stopped,
    switchover,
    sync,
    sync_config,
    upstream,
)

IMMEDIATE = Stop(mode=StopMode.IMMEDIATE)
RENEW = RenewLock(optime=Lsn(1000))
EXPIRING = NOW - (TTL - RETRY)
PROBED_B: dict[str, Any] = {
    "probe": PrimaryProbed(name=name("b"), writable=False),
    "probed_at": NOW,
}
"""The failed leader b was probed just now and takes no writes."""
"""A last renewal this long ago leaves less than retry_timeout of lease: demote."""
PAUSED = config(pause=True)
RENEW_PAUSED = RenewLock(optime=Lsn(1000), ttl_s=30.0, retry_timeout_s=10.0)
FAILSAFE = config(failsafe_mode=True)
NEW_CLUSTER = ClusterView()
CLAIMED = ClusterView(initialize="")
FORKED = (member("b", Role.PRIMARY, timeline=2), member("c", timeline=2))
"""b leads on timeline 2; a was on timeline 1."""


def row(
    rule: str,
    view: ClusterView,
    me: LocalView,
    reason: Reason,
    actions: tuple[Action, ...] = (),
    cfg: DynamicConfig = CONFIG,
    now: float = NOW,
) -> Any:
    return pytest.param(view, me, cfg, now, reason, actions, id=rule)


BOOTSTRAP = [
    row(
        "an empty cluster races for the initialise key",
        NEW_CLUSTER,
        local("a", empty()),
        Reason.CLAIM_INITIALIZE,
        (ClaimInitialize(),),
    ),
    row(
        "a wiped DCS: the running primary re-creates the cluster around its data",
        NEW_CLUSTER,
        local("a", primary()),
        Reason.CLAIM_INITIALIZE,
        (ClaimInitialize(),),
    ),
    row(
        "a wiped DCS: a running replica does not race, its data may lack commits",
        NEW_CLUSTER,
        local("a", replica()),
        Reason.WAIT_FOR_BOOTSTRAP,
    ),
    row(
        "a wiped DCS: a stopped member with data starts as a replica and waits",
        NEW_CLUSTER,
        local("a", stopped()),
        Reason.START_STANDALONE,
        (StartPostgres(role=Role.REPLICA),),
    ),
    row(
        "a racer whose claim is in flight waits for the answer",
        NEW_CLUSTER,
        local("a", empty(), lock_op_in_flight=True),
        Reason.CLAIM_INITIALIZE,
    ),
    row(
        "the winner of the initialise race bootstraps",
        CLAIMED,
        local("a", empty(), init_claimed=True),
        Reason.BOOTSTRAPPING,
        (Bootstrap(),),
    ),
    row(
        "a failed bootstrap cancels the initialisation",
        CLAIMED,
        local(
            "a", empty(), init_claimed=True, last_action=ActionKind.BOOTSTRAP, last_action_ok=False
        ),
        Reason.BOOTSTRAP_FAILED,
        (CancelInitialize(),),
    ),
    row(
        "the bootstrapped primary takes the leader lock",
        CLAIMED,
        local("a", primary(wal=50), init_claimed=True),
        Reason.BOOTSTRAP_TAKE_LOCK,
        (AcquireLock(optime=Lsn(50)),),
    ),
    row(
        "the bootstrapped lock holder publishes its system identifier and the config",
        ClusterView(initialize="", leader=lock("a")),
        holder(init_claimed=True),
        Reason.BOOTSTRAP_DONE,
        (SetInitialized(system_identifier=SYSID), SetBootstrapConfig(config=CONFIG)),
    ),
    row(
        "a bootstrapping lock holder whose lease is expiring stops at once",
        ClusterView(initialize="", leader=lock("a")),
        holder(init_claimed=True, lease_renewed_at=EXPIRING),
        Reason.LEASE_EXPIRING,
        (IMMEDIATE, RENEW),
    ),
    row(
        "the others wait while the winner bootstraps",
        CLAIMED,
        local("b", empty()),
        Reason.WAIT_FOR_BOOTSTRAP,
    ),
    row(
        "the others clone from the leader once it leads",
        led_by("b"),
        local("a", empty()),
        Reason.CLONE,
        (CreateReplica(sources=(upstream("b"),)),),
    ),
    row(
        "a clone prefers a member tagged clonefrom, then the leader",
        led_by("b", member("c", tags=Tags(clonefrom=True))),
        local("a", empty()),
        Reason.CLONE,
        (CreateReplica(sources=(upstream("c"), upstream("b"))),),
    ),
]

LEADER = [
    row(
        "the leader renews its lock when due",
        led_by("a", member("b"), member("c")),
        holder(lease_renewed_at=NOW - LOOP),
        Reason.LEADER_RENEW,
        (RENEW,),
    ),
    row(
        "the leader does not renew before loop_wait has passed",
        led_by("a", member("b"), member("c")),
        holder(lease_renewed_at=NOW - LOOP + 1),
        Reason.LEADER_RENEW,
    ),
    row(
        "the leader does not renew while a lock operation is in flight",
        led_by("a", member("b"), member("c")),
        holder(lease_renewed_at=NOW - LOOP, lock_op_in_flight=True),
        Reason.LEADER_RENEW,
    ),
    row(
        "a primary whose lock is held by another stops at once",
        led_by("b", member("a", Role.PRIMARY)),
        local("a", primary()),
        Reason.DEMOTE_NOT_LEADER,
        (IMMEDIATE,),
    ),
    row(
        "a primary whose lock is gone stops at once rather than racing for it",
        cluster(None),
        local("a", primary()),
        Reason.DEMOTE_NOT_LEADER,
        (IMMEDIATE,),
    ),
    row(
        "a primary that lost the lock while a promote ran stops at once",
        led_by("b"),
        local("a", primary(), action=ActionKind.PROMOTE),
        Reason.DEMOTE_NOT_LEADER,
        (IMMEDIATE,),
    ),
    row(
        "a leader that has not renewed for ttl - retry_timeout stops at once and retries",
        led_by("a", member("b")),
        holder(lease_renewed_at=EXPIRING),
        Reason.LEASE_EXPIRING,
        (IMMEDIATE, RENEW),
    ),
    row(
        "a leader just inside ttl - retry_timeout keeps leading and renews",
        led_by("a", member("b")),
        holder(lease_renewed_at=EXPIRING + 0.5),
        Reason.LEADER_RENEW,
        (RENEW,),
    ),
    row(
        "a lease-expiring leader stops even while an action runs",
        led_by("a", member("b")),
        holder(lease_renewed_at=EXPIRING, action=ActionKind.START),
        Reason.LEASE_EXPIRING,
        (IMMEDIATE, RENEW),
    ),
    row(
        "a lease-expiring lock holder cancels its promotion",
        led_by("a", member("b")),
        holder(replica(), lease_renewed_at=EXPIRING, action=ActionKind.PROMOTE),
        Reason.LEASE_EXPIRING,
        (IMMEDIATE, RENEW),
    ),
    row(
        "a lease-expiring leader stops a start in progress though its last report is crashed",
        led_by("a", member("b")),
        holder(
            pg(PgState.CRASHED, Role.UNKNOWN), lease_renewed_at=EXPIRING, action=ActionKind.START
        ),
        Reason.LEASE_EXPIRING,
        (IMMEDIATE, RENEW),
    ),
    row(
        "a lease-expiring leader whose PostgreSQL is down only tries to renew",
        led_by("a", member("b")),
        holder(stopped(), lease_renewed_at=EXPIRING),
        Reason.LEASE_EXPIRING,
        (RENEW,),
    ),
    row(
        "failsafe keeps the primary when the DCS is unreachable and every member confirms",
        led_by("a", member("b")),
        holder(lease_renewed_at=NOW - TTL, dcs_reachable=False, failsafe_until=NOW + TTL),
        Reason.FAILSAFE,
        (RENEW,),
        cfg=FAILSAFE,
    ),
    row(
        "without failsafe mode an unreachable DCS demotes before the lease ends",
        led_by("a", member("b")),
        holder(lease_renewed_at=EXPIRING, dcs_reachable=False, failsafe_until=NOW + TTL),
        Reason.LEASE_EXPIRING,
        (IMMEDIATE, RENEW),
    ),
    row(
        "failsafe mode without every member's confirmation demotes",
        led_by("a", member("b")),
        holder(lease_renewed_at=EXPIRING, dcs_reachable=False, failsafe_until=None),
        Reason.LEASE_EXPIRING,
        (IMMEDIATE, RENEW),
        cfg=FAILSAFE,
    ),
    row(
        "back from an outage, the failsafe leader holds on its members' promises and renews",
        led_by("a", member("b")),
        holder(lease_renewed_at=EXPIRING, dcs_reachable=True, failsafe_until=NOW + TTL),
        Reason.FAILSAFE,
        (RENEW,),
        cfg=FAILSAFE,
    ),
    row(
        "failsafe mode without promises does not apply while the DCS answers",
        led_by("a", member("b")),
        holder(lease_renewed_at=EXPIRING, dcs_reachable=True, failsafe_until=None),
        Reason.LEASE_EXPIRING,
        (IMMEDIATE, RENEW),
        cfg=FAILSAFE,
    ),
]

RECOVER = [
    row(
        "the lock holder restarts a stopped PostgreSQL as primary",
        led_by("a", member("b")),
        holder(stopped()),
        Reason.RESTART_AS_PRIMARY,
        (StartPostgres(role=Role.PRIMARY),),
    ),
    row(
        "the lock holder gives up after primary_start_timeout and releases the lock",
        led_by("a", member("b")),
        holder(pg(PgState.START_FAILED), primary_start_began_at=NOW - 300),
        Reason.PRIMARY_START_TIMEOUT,
        (ReleaseLock(),),
    ),
    row(
        "a lock holder giving up waits for a lock operation in flight before releasing",
        led_by("a", member("b")),
        holder(pg(PgState.START_FAILED), primary_start_began_at=NOW - 300, lock_op_in_flight=True),
        Reason.PRIMARY_START_TIMEOUT,
    ),
    row(
        "a member that lost the lock while starting as primary stops at once",
        led_by("b"),
        local("a", pg(PgState.STARTING, Role.PRIMARY), action=ActionKind.START),
        Reason.DEMOTE_NOT_LEADER,
        (IMMEDIATE,),
    ),
    row(
        "a lock holder whose PostgreSQL is starting waits",
        led_by("a", member("b")),
        holder(pg(PgState.STARTING, Role.PRIMARY), primary_start_began_at=NOW - 10),
        Reason.WAIT_PRIMARY_START,
    ),
    row(
        "a lock holder starting past primary_start_timeout stops and lets another take over",
        led_by("a", member("b")),
        holder(pg(PgState.STARTING, Role.PRIMARY), primary_start_began_at=NOW - 300),
        Reason.PRIMARY_START_TIMEOUT,
        (IMMEDIATE, ReleaseLock()),
    ),
    row(
        "in pause mode a starting lock holder only watches",
        led_by("a", member("b")),
        holder(pg(PgState.STARTING, Role.PRIMARY), primary_start_began_at=NOW - 300),
        Reason.PAUSED,
        cfg=PAUSED,
    ),
    row(
        "a replica of a live leader with PostgreSQL down starts streaming from the leader",
        led_by("b"),
        local("a", stopped()),
        Reason.START_REPLICA,
        (StartPostgres(role=Role.REPLICA, upstream=upstream("b")),),
    ),
    row(
        "with PostgreSQL down and no leader a member starts as a replica to be eligible",
        cluster(None),
        local("a", stopped()),
        Reason.START_STANDALONE,
        (StartPostgres(role=Role.REPLICA),),
    ),
    row(
        "a starting replica waits for PostgreSQL",
        led_by("b"),
        local("a", pg(PgState.STARTING)),
        Reason.WAIT_FOR_STARTUP,
    ),
    row(
        "a former primary on another timeline rewinds first",
        cluster(lock("b"), FORKED),
        local("a", stopped(shutdown_role=Role.PRIMARY)),
        Reason.REWIND,
        (Rewind(source=upstream("b")),),
    ),
    row(
        "a former primary with WAL past the leader's fork point rewinds",
        cluster(lock("b"), FORKED, history=history((1, 900))),
        local("a", stopped(shutdown_role=Role.PRIMARY)),
        Reason.REWIND,
        (Rewind(source=upstream("b")),),
    ),
    row(
        "a stopped former primary on an older timeline rewinds: pg_rewind reads its WAL's end",
        cluster(lock("b"), FORKED, history=history((1, 1000))),
        local("a", stopped(shutdown_role=Role.PRIMARY, checkpoint_lsn=Lsn(900))),
        Reason.REWIND,
        (Rewind(source=upstream("b")),),
    ),
    row(
        "a stopped replica that replayed up to the fork point follows without a rewind",
        cluster(lock("b"), FORKED, history=history((1, 1000))),
        local("a", stopped(shutdown_role=Role.REPLICA, wal=1000)),
        Reason.START_REPLICA,
        (StartPostgres(role=Role.REPLICA, upstream=upstream("b")),),
    ),
    row(
        "a stopped replica that replayed past the fork point rewinds (an async one ahead)",
        cluster(lock("b"), FORKED, history=history((1, 1000))),
        local("a", stopped(shutdown_role=Role.REPLICA, wal=1100)),
        Reason.REWIND,
        (Rewind(source=upstream("b")),),
    ),
    row(
        "a member on a timeline the leader's history does not pass through rewinds",
        cluster(lock("b"), FORKED, history=history((1, 1000))),
        local("a", stopped(timeline=3)),
        Reason.REWIND,
        (Rewind(source=upstream("b")),),
    ),
    row(
        "after a successful rewind the former primary starts as a replica",
        cluster(lock("b"), FORKED),
        local(
            "a",
            stopped(shutdown_role=Role.PRIMARY),
            last_action=ActionKind.REWIND,
            last_action_ok=True,
        ),
        Reason.START_REPLICA,
        (StartPostgres(role=Role.REPLICA, upstream=upstream("b")),),
    ),
    row(
        "a running replica with WAL past the leader's fork point stops to rewind",
        cluster(lock("b"), FORKED, history=history((1, 900))),
        local("a", replica(), following=name("b")),
        Reason.REWIND,
        (Stop(mode=StopMode.FAST),),
    ),
    row(
        "a replica streaming from the leader has not diverged, whatever its timeline says",
        cluster(lock("b"), FORKED, history=history((1, 900))),
        local("a", replica(streaming_from="b:5432"), following=name("b")),
        Reason.REPLICA_OK,
    ),
    row(
        "a running replica follows a new leader",
        led_by("b"),
        local("a", replica(), following=name("c")),
        Reason.FOLLOW,
        (Follow(upstream=upstream("b")),),
    ),
    row(
        "a replica streaming from the leader stays put",
        led_by("b"),
        local("a", replica(), following=name("b")),
        Reason.REPLICA_OK,
    ),
    row(
        "a replica whose replay the primary's higher settings paused restarts to take them",
        led_by("b"),
        local("a", replica(replay_paused=True, hot_standby_blocked=True), following=name("b")),
        Reason.RESTART_FOR_PRIMARY_SETTINGS,
        (RestartPostgres(),),
    ),
    row(
        "a replica paused by hand (its settings suffice) is left paused",
        led_by("b"),
        local("a", replica(replay_paused=True), following=name("b")),
        Reason.REPLICA_OK,
    ),
]

FAILOVER_CLUSTER = (member("a"), member("b", Role.PRIMARY, state=PgState.STOPPED), member("c"))


def failover(*members: MemberStatus, **changes: Any) -> ClusterView:
    """b led, and its lock expired by our clock; a and c are running replicas."""
    return cluster(expired("b"), members or FAILOVER_CLUSTER, **changes)


FAILOVER = [
    row(
        "the healthiest replica takes the lock when the leader's lease expired by our clock",
        failover(),
        local("a", replica(), following=name("b"), **PROBED_B),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1000)),),
    ),
    row(
        "before taking the lock a candidate checks the failed primary takes no writes",
        failover(),
        local("a", replica(), following=name("b")),
        Reason.PROBE_FORMER_PRIMARY,
        (ProbePrimary(upstream=upstream("b")),),
    ),
    row(
        "a candidate waits for its probe of the failed primary",
        failover(),
        local("a", replica(), probe_in_flight=True),
        Reason.PROBE_FORMER_PRIMARY,
    ),
    row(
        "the failed primary is probed at the address the status record kept",
        failover(member("a"), member("c"), last_leader_host="10.9.9.9", last_leader_port=6543),
        local("a", replica()),
        Reason.PROBE_FORMER_PRIMARY,
        (ProbePrimary(upstream=Upstream(name=name("b"), host="10.9.9.9", port=6543)),),
    ),
    row(
        "a failed primary that still takes writes holds the candidates back",
        failover(),
        local("a", replica(), probe=PrimaryProbed(name=name("b"), writable=True), probed_at=NOW),
        Reason.FORMER_PRIMARY_ALIVE,
    ),
    row(
        "a probe older than loop_wait is made again",
        failover(),
        local("a", replica(), **(PROBED_B | {"probed_at": NOW - LOOP})),
        Reason.PROBE_FORMER_PRIMARY,
        (ProbePrimary(upstream=upstream("b")),),
    ),
    row(
        "a primary that released cleanly is not probed",
        failover(last_leader_clean=True),
        local("a", replica()),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1000)),),
    ),
    row(
        "after a clean release a member behind the released position may not take the lock",
        failover(last_leader_clean=True, last_leader_optime=Lsn(1001)),
        local("a", replica()),
        Reason.NOT_ELIGIBLE,
    ),
    row(
        "with failsafe a member that promised the leader not to take the lock waits",
        failover(),
        local("a", replica(), failsafe_leader_until=NOW + 3, **PROBED_B),
        Reason.FAILSAFE_LEADER_ALIVE,
        cfg=config(failsafe_mode=True),
    ),
    row(
        "a member whose required fence does not hold may not take the lock",
        failover(),
        local("a", replica(), watchdog_required=True, watchdog_ok=False, **PROBED_B),
        Reason.WATCHDOG_UNAVAILABLE,
    ),
    row(
        "a replica does not take the lock while the lease is live by its own clock",
        cluster(lock("b", seen=NOW - TTL + 0.1), FAILOVER_CLUSTER),
        local("a", replica(), following=name("b")),
        Reason.REPLICA_OK,
    ),
    row(
        "a replica does not take the lock when another candidate is ahead",
        failover(member("a"), member("c", wal=1001)),
        local("a", replica()),
        Reason.NOT_HEALTHIEST,
    ),
    row(
        "at equal positions the higher failover_priority is ahead",
        failover(member("a"), member("c", tags=Tags(failover_priority=2))),
        local("a", replica()),
        Reason.NOT_HEALTHIEST,
    ),
    row(
        "a candidate ahead of us that may not be promoted does not hold us back",
        failover(member("a"), member("c", wal=2000, tags=Tags(nofailover=True))),
        local("a", replica()),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1000)),),
    ),
    row(
        "a replica tagged nofailover never takes the lock",
        failover(),
        local("a", replica(), tags=Tags(nofailover=True)),
        Reason.NOT_ELIGIBLE,
    ),
    row(
        "a replica with failover_priority 0 never takes the lock",
        failover(),
        local("a", replica(), tags=Tags(failover_priority=0)),
        Reason.NOT_ELIGIBLE,
    ),
    row(
        "a replica lagging more than maximum_lag_on_failover does not take the lock",
        failover(last_leader_optime=Lsn(1000 + CONFIG.maximum_lag_on_failover + 1)),
        local("a", replica()),
        Reason.NOT_ELIGIBLE,
    ),
    row(
        "a replica exactly maximum_lag_on_failover behind may take the lock",
        failover(last_leader_optime=Lsn(1000 + CONFIG.maximum_lag_on_failover)),
        local("a", replica(), **PROBED_B),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1000)),),
    ),
    row(
        "in synchronous mode a replica not published as synchronous does not take the lock",
        failover(sync=sync("b", "c")),
        local("a", replica()),
        Reason.NOT_ELIGIBLE,
        cfg=sync_config(),
    ),
    row(
        "in synchronous mode the synchronous standby takes the lock",
        failover(member("a"), member("c", wal=1100), sync=sync("b", "a")),
        local("a", replica()),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1000)),),
        cfg=sync_config(),
    ),
    row(
        "a replica does not race while the DCS is unreachable",
        failover(),
        local("a", replica(), dcs_reachable=False),
        Reason.TRY_LOCK,
    ),
    row(
        "the last leader, back as a replica, may take the lock again",
        cluster(None, (member("a"), member("b"), member("c")), last_leader_name=name("a")),
        local("a", replica()),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1000)),),
    ),
    row(
        "in synchronous mode the new lock holder promotes once the sync key names it alone",
        led_by("a", member("b"), sync=sync("a")),
        holder(replica()),
        Reason.PROMOTE,
        (Promote(),),
        cfg=sync_config(),
    ),
    row(
        "in synchronous mode the new lock holder waits while the sync key lists standbys",
        led_by("a", member("b"), sync=sync("c", "a")),
        holder(replica()),
        Reason.PROMOTE,
        cfg=sync_config(),
    ),
    row(
        "in synchronous mode even our own earlier term's standbys hold the promotion back",
        led_by("a", member("b"), sync=sync("a", "b")),
        holder(replica()),
        Reason.PROMOTE,
        cfg=sync_config(),
    ),
    row(
        "in synchronous mode a former primary restarts as primary under its own sync key",
        led_by("a", member("b"), sync=sync("a", "b")),
        holder(stopped(shutdown_role=Role.PRIMARY)),
        Reason.RESTART_AS_PRIMARY,
        (StartPostgres(role=Role.PRIMARY),),
        cfg=sync_config(),
    ),
    row(
        "in synchronous mode a holder with a replica's data starts it as a replica to promote",
        led_by("a", member("b"), sync=sync("a", "b")),
        holder(stopped(shutdown_role=Role.REPLICA)),
        Reason.RESTART_AS_PRIMARY,
        (StartPostgres(role=Role.REPLICA),),
        cfg=sync_config(),
    ),
    row(
        "a replica that took the lock promotes",
        led_by("a", member("b")),
        holder(replica()),
        Reason.PROMOTE,
        (Promote(),),
    ),
]

GRACE_OVER = NOW - LOOP - RETRY
"""A switchover request seen this long ago has had its candidate's fresh record."""

SWITCHED_FROM_C = (member("a"), member("b", wal=1100), member("c", state=PgState.STOPPED))
"""c led and released for a switchover to a; b is further ahead than a."""

PAUSED_SWITCHOVER = [
    row(
        "in pause mode the leader switches over to a named candidate, as in Patroni",
        led_by("a", member("b"), member("c"), failover=switchover("a", "b")),
        holder(),
        Reason.SWITCHOVER_STOP,
        (Stop(mode=StopMode.FAST, checkpoint_first=True),),
        cfg=PAUSED,
    ),
    row(
        "in pause mode the stopped leader releases once the candidate has its checkpoint",
        led_by("a", member("b"), failover=switchover("a", "b")),
        holder(stopped(checkpoint_lsn=Lsn(1000), shutdown_role=Role.PRIMARY)),
        Reason.SWITCHOVER_RELEASE,
        (ReleaseLock(optime=Lsn(1000), clean=True),),
        cfg=PAUSED,
    ),
    row(
        "in pause mode a hand-over its candidate can no longer take starts the leader again",
        led_by("a", member("b", state=PgState.STOPPED), failover=switchover("a", "b")),
        holder(stopped(checkpoint_lsn=Lsn(1000), shutdown_role=Role.PRIMARY)),
        Reason.SWITCHOVER_REFUSED,
        (ClearFailover(), StartPostgres(role=Role.PRIMARY)),
        cfg=PAUSED,
    ),
    row(
        "in pause mode a candidate still behind at the lease's end: the leader starts again",
        led_by("a", member("b", wal=990), failover=switchover("a", "b")),
        holder(
            stopped(checkpoint_lsn=Lsn(1000), shutdown_role=Role.PRIMARY),
            lease_renewed_at=EXPIRING,
        ),
        Reason.SWITCHOVER_REFUSED,
        (RENEW_PAUSED, ClearFailover()),  # never a start on a lease that may be gone
        cfg=PAUSED,
    ),
    row(
        "in pause mode a leader whose switchover ended without one starts again as primary",
        led_by("a", member("b")),
        holder(
            stopped(checkpoint_lsn=Lsn(1000), shutdown_role=Role.PRIMARY),
            last_action=ActionKind.STOP,
        ),
        Reason.SWITCHOVER_REFUSED,
        (StartPostgres(role=Role.PRIMARY),),
        cfg=PAUSED,
    ),
    row(
        "in pause mode a leader stopped by no action of its own stays down",
        led_by("a", member("b")),
        holder(stopped(checkpoint_lsn=Lsn(1000), shutdown_role=Role.PRIMARY)),
        Reason.PAUSED,
        cfg=PAUSED,
    ),
    row(
        "in pause mode the candidate leaves alone a lock that expired instead of being handed over",
        failover(failover=switchover("b", "a")),
        local("a", replica(), following=name("b"), **PROBED_B),
        Reason.PAUSED,
        cfg=PAUSED,
    ),
    row(
        "in pause mode the named candidate takes the lock its leader handed over",
        cluster(
            None, last_leader_name=name("b"), last_leader_clean=True, failover=switchover("b", "a")
        ),
        local("a", replica()),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1000)),),
        cfg=PAUSED,
    ),
    row(
        "in pause mode the candidate that took the lock promotes",
        cluster(lock("a"), failover=switchover("b", "a")),
        holder(replica()),
        Reason.PROMOTE,
        (Promote(),),
        cfg=PAUSED,
    ),
    row(
        "in pause mode the leader that handed over follows the new leader (Patroni's demote)",
        led_by("b", member("a"), failover=switchover("a", "b")),
        local("a", stopped(shutdown_role=Role.PRIMARY)),
        Reason.START_REPLICA,
        (StartPostgres(role=Role.REPLICA, upstream=upstream("b")),),
        cfg=PAUSED,
    ),
    row(
        "in pause mode the other members stay as they are during a switchover",
        cluster(
            None, last_leader_name=name("b"), last_leader_clean=True, failover=switchover("b", "c")
        ),
        local("a", replica()),
        Reason.PAUSED,
        cfg=PAUSED,
    ),
    row(
        "in pause mode a stopped member with no switchover of its own stays down",
        led_by("b", member("a")),
        local("a", stopped(shutdown_role=Role.PRIMARY)),
        Reason.PAUSED,
        cfg=PAUSED,
    ),
]
"""Patroni: in pause, "manual unscheduled failover/switchover ... are allowed" -- to a
specific candidate only."""


SWITCHOVER = [
    row(
        "the leader asked to switch over stops fast, checkpointing first",
        led_by("a", member("b"), member("c"), failover=switchover("a", "b")),
        holder(),
        Reason.SWITCHOVER_STOP,
        (Stop(mode=StopMode.FAST, checkpoint_first=True),),
    ),
    row(
        "a switchover to the best member stops when some member is fit",
        led_by("a", member("b"), member("c"), failover=switchover("a", None)),
        holder(),
        Reason.SWITCHOVER_STOP,
        (Stop(mode=StopMode.FAST, checkpoint_first=True),),
    ),
    row(
        "the stopped leader releases with its checkpoint once the candidate has it",
        led_by("a", member("b"), failover=switchover("a", "b")),
        holder(stopped(checkpoint_lsn=Lsn(1000))),
        Reason.SWITCHOVER_RELEASE,
        (ReleaseLock(optime=Lsn(1000), clean=True),),
    ),
    row(
        "a leader stopped by an immediate stop releases without claiming a clean hand-over",
        led_by("a", member("b", wal=990), failover=switchover("a", "b")),
        holder(stopped(checkpoint_lsn=Lsn(1000), shut_down_cleanly=False)),
        Reason.SWITCHOVER_RELEASE,
        (ReleaseLock(),),
    ),
    row(
        "a stopped leader also hands over for a request that names no leader",
        led_by("a", member("b"), failover=switchover(None, "b")),
        holder(stopped(checkpoint_lsn=Lsn(1000))),
        Reason.SWITCHOVER_RELEASE,
        (ReleaseLock(optime=Lsn(1000), clean=True),),
    ),
    row(
        "the stopped leader waits while the candidate lacks its checkpoint",
        led_by("a", member("b", wal=990), failover=switchover("a", "b")),
        holder(stopped(checkpoint_lsn=Lsn(1000))),
        Reason.SWITCHOVER_STOP,
    ),
    row(
        "the stopped leader waits, not refuses, while the candidate's record lags far behind",
        led_by(
            "a", member("b", wal=0), failover=switchover("a", "b"), last_leader_optime=Lsn(2**30)
        ),
        holder(stopped(checkpoint_lsn=Lsn(1000)), failover_seen_at=GRACE_OVER),
        Reason.SWITCHOVER_STOP,
    ),
    row(
        "the stopped leader starts again as primary when the candidate stopped running",
        led_by("a", member("b", state=PgState.STOPPED), failover=switchover("a", "b")),
        holder(stopped(checkpoint_lsn=Lsn(1000))),
        Reason.SWITCHOVER_REFUSED,
        (ClearFailover(),),
    ),
    row(
        "the stopped leader releases anyway when its lease nears its end",
        led_by("a", member("b", wal=990), failover=switchover("a", "b")),
        holder(stopped(checkpoint_lsn=Lsn(1000)), lease_renewed_at=EXPIRING),
        Reason.SWITCHOVER_RELEASE,
        (ReleaseLock(optime=Lsn(1000), clean=True),),
    ),
    row(
        "the named candidate takes the lock though another member is ahead",
        cluster(
            None,
            SWITCHED_FROM_C,
            failover=switchover("c", "a"),
            last_leader_name=name("c"),
            last_leader_clean=True,
        ),
        local("a", replica()),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1000)),),
    ),
    row(
        "the other members leave the lock to the named candidate",
        cluster(
            None,
            SWITCHED_FROM_C,
            failover=switchover("c", "a"),
            last_leader_name=name("c"),
            last_leader_clean=True,
        ),
        local("b", replica(wal=1100)),
        Reason.NOT_ELIGIBLE,
    ),
    row(
        "a switchover whose leader died on the way is void: the healthiest takes the lock",
        cluster(None, SWITCHED_FROM_C, failover=switchover("c", "a"), last_leader_name=name("c")),
        local(
            "b",
            replica(wal=1100),
            probe=PrimaryProbed(name=name("c"), writable=False),
            probed_at=NOW,
        ),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1100)),),
    ),
    row(
        "and its named candidate, behind another, leaves the lock to the healthiest",
        cluster(None, SWITCHED_FROM_C, failover=switchover("c", "a"), last_leader_name=name("c")),
        local("a", replica()),
        Reason.NOT_HEALTHIEST,
    ),
    row(
        "the other members race when the named candidate cannot take over",
        cluster(
            None,
            (member("a", tags=Tags(nofailover=True)), member("b", wal=1100)),
            failover=switchover("c", "a"),
            last_leader_name=name("c"),
        ),
        local("b", replica(wal=1100)),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1100)),),
    ),
    row(
        "in synchronous mode a switchover's candidate that is not synchronous may not lead",
        cluster(
            None,
            SWITCHED_FROM_C,
            failover=switchover("c", "a"),
            sync=sync("c", "b"),
            last_leader_name=name("c"),
            last_leader_clean=True,
        ),
        local("a", replica()),
        Reason.NOT_ELIGIBLE,
        cfg=sync_config(),
    ),
    row(
        "an operator's failover to a named candidate overrides the sync key (as in Patroni)",
        cluster(
            None,
            SWITCHED_FROM_C,
            failover=switchover(None, "a"),
            sync=sync("c", "b"),
            last_leader_name=name("c"),
            last_leader_clean=True,
        ),
        local("a", replica()),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1000)),),
        cfg=sync_config(),
    ),
    row(
        "in synchronous mode the sync key's leader may take the lock back after a restart",
        cluster(None, sync=sync("a"), last_leader_name=None),
        local("a", replica()),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1000)),),
        cfg=sync_config(),
    ),
    row(
        "a named candidate that was the last leader may take the lock back in synchronous mode",
        cluster(
            None,
            SWITCHED_FROM_C,
            failover=switchover("c", "a"),
            sync=sync("a"),
            last_leader_name=name("a"),
        ),
        local("a", replica()),
        Reason.TRY_LOCK,
        (AcquireLock(optime=Lsn(1000)),),
        cfg=sync_config(),
    ),
    row(
        "a switchover to a member tagged nofailover is refused",
        led_by("a", member("b", tags=Tags(nofailover=True)), failover=switchover("a", "b")),
        holder(),
        Reason.SWITCHOVER_REFUSED,
        (ClearFailover(),),
    ),
    row(
        "a switchover to a member that is not running waits for its fresh record",
        led_by("a", member("b", state=PgState.STOPPED), failover=switchover("a", "b")),
        holder(failover_seen_at=NOW),
        Reason.SWITCHOVER_WAIT,
    ),
    row(
        "a switchover to a member that is not running is refused once the grace is over",
        led_by("a", member("b", state=PgState.STOPPED), failover=switchover("a", "b")),
        holder(failover_seen_at=GRACE_OVER),
        Reason.SWITCHOVER_REFUSED,
        (ClearFailover(),),
    ),
    row(
        "a switchover to a lagging member waits for its fresh record",
        led_by(
            "a", member("b", wal=0), failover=switchover("a", "b"), last_leader_optime=Lsn(2**30)
        ),
        holder(failover_seen_at=NOW - 1),
        Reason.SWITCHOVER_WAIT,
    ),
    row(
        "a switchover to a lagging member is refused once the grace is over",
        led_by(
            "a", member("b", wal=0), failover=switchover("a", "b"), last_leader_optime=Lsn(2**30)
        ),
        holder(failover_seen_at=GRACE_OVER),
        Reason.SWITCHOVER_REFUSED,
        (ClearFailover(),),
    ),
    row(
        "in synchronous mode a switchover to an asynchronous standby is refused",
        led_by("a", member("b"), member("c"), failover=switchover("a", "b"), sync=sync("a", "c")),
        holder(failover_seen_at=GRACE_OVER),
        Reason.SWITCHOVER_REFUSED,
        (ClearFailover(),),
        cfg=sync_config(),
    ),
    row(
        "a switchover to the best member is refused when nobody is fit",
        led_by("a", member("b", tags=Tags(nofailover=True)), failover=switchover("a", None)),
        holder(),
        Reason.SWITCHOVER_REFUSED,
        (ClearFailover(),),
    ),
    row(
        "a scheduled switchover waits for its time",
        led_by("a", member("b"), failover=switchover("a", "b", at=5000.0)),
        holder(wall_time=4000.0),
        Reason.SWITCHOVER_SCHEDULED,
    ),
    row(
        "a scheduled switchover proceeds once its time came",
        led_by("a", member("b"), failover=switchover("a", "b", at=5000.0)),
        holder(wall_time=5000.0),
        Reason.SWITCHOVER_STOP,
        (Stop(mode=StopMode.FAST, checkpoint_first=True),),
    ),
    row(
        "the new leader clears the request that named it",
        led_by("a", member("c"), failover=switchover("c", "a")),
        holder(),
        Reason.FAILOVER_DONE,
        (ClearFailover(),),
    ),
    row(
        "a leader clears a request that names another former leader",
        led_by("a", member("b"), failover=switchover("c", "b")),
        holder(),
        Reason.FAILOVER_DONE,
        (ClearFailover(),),
    ),
]

PAUSE = [
    row(
        "in pause mode the leader still renews its lock",
        led_by("a", member("b")),
        holder(lease_renewed_at=NOW - LOOP),
        Reason.PAUSED,
        (RENEW,),
        cfg=PAUSED,
    ),
    row(
        "in pause mode a leader whose PostgreSQL is down is not restarted",
        led_by("a", member("b")),
        holder(stopped()),
        Reason.PAUSED,
        cfg=PAUSED,
    ),
    row(
        "in pause mode a lease-expiring leader does not stop PostgreSQL",
        led_by("a", member("b")),
        holder(lease_renewed_at=EXPIRING),
        Reason.PAUSED,
        (RENEW,),
        cfg=PAUSED,
    ),
    row(
        "in pause mode a replica with PostgreSQL down is left alone",
        led_by("b"),
        local("a", stopped()),
        Reason.PAUSED,
        cfg=PAUSED,
    ),
    row(
        "in pause mode a primary without the lock is left alone",
        led_by("b"),
        local("a", primary()),
        Reason.PAUSED,
        cfg=PAUSED,
    ),
    row(
        "in pause mode a running primary takes a free lock back (as in Patroni)",
        cluster(None, last_leader_name=name("a")),
        local("a", primary()),
        Reason.PAUSED_TAKE_LOCK,
        (AcquireLock(optime=Lsn(1000)),),
        cfg=PAUSED,
    ),
    row(
        "in pause mode a replica leaves a free lock alone",
        cluster(None, last_leader_name=name("b")),
        local("a", replica()),
        Reason.PAUSED,
        cfg=PAUSED,
    ),
    row(
        "in pause mode the leader drops a scheduled switchover: it must not fire on resume",
        led_by("a", member("b"), failover=switchover("a", "b", at=NOW + 60)),
        local("a", primary()),
        Reason.PAUSED_REQUEST_DROPPED,
        (RenewLock(optime=Lsn(1000), ttl_s=30.0, retry_timeout_s=10.0), ClearFailover()),
        cfg=PAUSED,
    ),
    row(
        "in pause mode the leader drops a switchover that names no candidate",
        led_by("a", member("b"), failover=switchover("a", None)),
        holder(),
        Reason.PAUSED_REQUEST_DROPPED,
        (ClearFailover(),),
        cfg=PAUSED,
    ),
    *PAUSED_SWITCHOVER,
    row(
        "in pause mode nobody fails over",
        failover(),
        local("a", replica()),
        Reason.PAUSED,
        cfg=PAUSED,
    ),
    row(
        "in pause mode nobody claims the initialise key",
        NEW_CLUSTER,
        local("a", empty()),
        Reason.CLAIM_INITIALIZE,
        cfg=PAUSED,
    ),
]

IN_PROGRESS = [
    row(
        "an action in progress holds back new actions",
        led_by("b"),
        local("a", stopped(), action=ActionKind.START),
        Reason.ACTION_IN_PROGRESS,
    ),
    row(
        "the lock holder keeps renewing while an action runs",
        led_by("a", member("b")),
        holder(replica(), lease_renewed_at=NOW - LOOP, action=ActionKind.PROMOTE),
        Reason.ACTION_IN_PROGRESS,
        (RENEW,),
    ),
    row(
        "a primary stopping for a switchover is left to finish",
        led_by("b"),
        local("a", primary(), action=ActionKind.STOP),
        Reason.ACTION_IN_PROGRESS,
    ),
]


@pytest.mark.parametrize(
    ("view", "me", "cfg", "now", "reason", "actions"),
    BOOTSTRAP + LEADER + RECOVER + FAILOVER + SWITCHOVER + PAUSE + IN_PROGRESS,
)
def test_decide(
    view: ClusterView,
    me: LocalView,
    cfg: DynamicConfig,
    now: float,
    reason: Reason,
    actions: tuple[Action, ...],
) -> None:
    decision = decide(view, me, cfg, now)
    assert (decision.reason, decision.actions) == (reason, actions)


def test_the_leader_wakes_when_its_renewal_falls_due() -> None:
    decision = decide(led_by("a"), holder(lease_renewed_at=NOW - 4), CONFIG, NOW)
    assert decision.wake_at == NOW - 4 + LOOP


def test_a_replica_wakes_when_the_leaders_lease_would_expire() -> None:
    view = cluster(lock("b", seen=NOW - 5), (member("b", Role.PRIMARY),))
    decision = decide(view, local("a", replica(), following=name("b")), CONFIG, NOW)
    assert decision.wake_at == NOW - 5 + TTL


def test_lease_expiry_is_judged_by_the_records_ttl_on_our_clock() -> None:
    """The record's own ttl counts, measured from when *we* saw it change."""
    short = cluster(lock("b", seen=NOW - 5, ttl=5.0), FAILOVER_CLUSTER)
    me = local("a", replica(), following=name("b"), **PROBED_B)
    assert decide(short, me, CONFIG, NOW).reason is Reason.TRY_LOCK


def test_the_holder_judges_its_lease_by_the_ttl_it_wrote_not_a_later_config() -> None:
    """Renewed with ttl 10, config now says 30: demote by 10 - retry, not 30 - retry."""
    raised = config(ttl_s=30.0, retry_timeout_s=3.0)
    me = holder(lease_renewed_at=NOW - 7.5, lease_ttl_s=10.0)
    decision = decide(led_by("a", member("b")), me, raised, NOW)
    assert decision.reason is Reason.LEASE_EXPIRING


def test_a_renewal_carries_the_timing_it_was_decided_with() -> None:
    edited = config(ttl_s=45.0, retry_timeout_s=7.0, loop_wait_s=5.0)
    me = holder(lease_renewed_at=NOW - 6, lease_ttl_s=30.0)
    decision = decide(led_by("a", member("b")), me, edited, NOW)
    renew = next(a for a in decision.actions if isinstance(a, RenewLock))
    assert (renew.ttl_s, renew.retry_timeout_s) == (45.0, 7.0)


def test_renewal_comes_before_self_demotion_even_with_a_long_loop_wait() -> None:
    """loop_wait edited past ttl - 2 retry_timeout: renew early enough anyway."""
    long_loop = config(ttl_s=10.0, retry_timeout_s=3.0, loop_wait_s=9.0)
    me = holder(lease_renewed_at=NOW - 4, lease_ttl_s=10.0)
    decision = decide(led_by("a", member("b")), me, long_loop, NOW)
    assert any(isinstance(a, RenewLock) for a in decision.actions)
    assert decision.reason is not Reason.LEASE_EXPIRING


def test_goal_is_primary_only_for_the_lock_holder_or_a_racer() -> None:
    assert decide(led_by("a", member("b")), holder(), CONFIG, NOW).goal is Role.PRIMARY
    assert decide(led_by("b"), local("a", primary()), CONFIG, NOW).goal is Role.REPLICA


def test_a_refusal_says_why_and_a_wait_says_until_when() -> None:
    view = led_by("a", member("b", state=PgState.STOPPED), failover=switchover("a", "b"))
    waiting = decide(view, holder(failover_seen_at=NOW), CONFIG, NOW)
    assert waiting.detail == "b is not a running replica"
    assert waiting.wake_at is not None and waiting.wake_at <= NOW + LOOP + RETRY
    refused = decide(view, holder(failover_seen_at=GRACE_OVER), CONFIG, NOW)
    assert refused.detail == "b is not a running replica"


def test_the_primary_lock_holder_publishes_its_timeline_history() -> None:
    mine = (HistoryEntry(timeline=Timeline(1), lsn=Lsn(500), reason="promoted"),)
    decision = decide(led_by("a"), holder(primary(history=mine)), CONFIG, NOW)
    named = (dataclasses.replace(mine[0], new_leader=name("a")),)
    assert SetHistory(entries=named) in decision.actions
    published = decide(led_by("a", history=named), holder(primary(history=mine)), CONFIG, NOW)
    assert not any(isinstance(a, SetHistory) for a in published.actions)


def test_published_history_keeps_what_the_dcs_knew_of_older_timelines() -> None:
    older = HistoryEntry(timeline=Timeline(1), lsn=Lsn(500), new_leader=name("b"), timestamp="t")
    local = (
        dataclasses.replace(older, new_leader=None, timestamp=""),
        HistoryEntry(timeline=Timeline(2), lsn=Lsn(900)),
    )
    merged = history_to_publish(local, (older,), name("a"))
    assert merged == (older, HistoryEntry(timeline=Timeline(2), lsn=Lsn(900), new_leader=name("a")))


def test_a_replica_publishes_no_history() -> None:
    mine = (HistoryEntry(timeline=Timeline(1), lsn=Lsn(500)),)
    decision = decide(led_by("b"), local("a", replica(history=mine)), CONFIG, NOW)
    assert not any(isinstance(a, SetHistory) for a in decision.actions)


def test_a_replica_that_failed_to_start_on_an_older_timeline_rewinds() -> None:
    view = cluster(lock("b"), FORKED, history=history((1, 2000)))
    me = local(
        "a",
        stopped(shutdown_role=Role.REPLICA, wal=900),
        last_action=ActionKind.START,
        last_action_ok=False,
    )
    decision = decide(view, me, CONFIG, NOW)
    assert (decision.reason, decision.actions) == (Reason.REWIND, (Rewind(source=upstream("b")),))


# -- a start that failed is retried after 1 s, 2 s, 4 s... up to loop_wait ------------------


def _failed(n: int, ago: float, **changes: Any) -> dict[str, Any]:
    return {
        "last_action": ActionKind.START,
        "last_action_ok": False,
        "failed_starts": n,
        "last_action_done_at": NOW - ago,
        **changes,
    }


@pytest.mark.parametrize(
    ("failures", "ago", "waits"),
    [(1, 0.5, True), (1, 1.0, False), (2, 1.5, True), (2, 2.0, False), (9, LOOP - 0.1, True)],
)
def test_a_replica_waits_longer_after_each_failed_start(
    failures: int, ago: float, waits: bool
) -> None:
    me = local("a", stopped(shutdown_role=Role.REPLICA), **_failed(failures, ago))
    decision = decide(led_by("b"), me, CONFIG, NOW)
    if waits:
        retry_at = NOW - ago + min(LOOP, 2.0 ** (failures - 1))
        assert (decision.reason, decision.actions) == (Reason.START_BACKOFF, ())
        assert decision.wake_at is not None and decision.wake_at <= retry_at
    else:
        start = StartPostgres(role=Role.REPLICA, upstream=upstream("b"))
        assert (decision.reason, decision.actions) == (Reason.START_REPLICA, (start,))


def test_the_backoff_never_exceeds_loop_wait() -> None:
    me = local("a", stopped(shutdown_role=Role.REPLICA), **_failed(30, LOOP))
    assert decide(led_by("b"), me, CONFIG, NOW).reason is Reason.START_REPLICA


def test_a_lock_holder_keeps_its_lock_while_it_waits_to_start_again() -> None:
    me = holder(stopped(shutdown_role=Role.PRIMARY), lease_renewed_at=NOW - LOOP, **_failed(3, 1))
    decision = decide(led_by("a", member("b")), me, CONFIG, NOW)
    assert decision.reason is Reason.START_BACKOFF
    assert decision.actions == (RENEW,) and decision.goal is Role.PRIMARY


def test_the_backoff_does_not_delay_a_rewind() -> None:
    view = cluster(lock("b"), FORKED, history=history((1, 2000)))
    me = local("a", stopped(shutdown_role=Role.REPLICA, wal=900), **_failed(1, 0.1))
    decision = decide(view, me, CONFIG, NOW)
    assert (decision.reason, decision.actions) == (Reason.REWIND, (Rewind(source=upstream("b")),))


def test_an_unanswered_renewal_with_a_lower_ttl_caps_the_holders_lease() -> None:
    """ttl 30 renewed at NOW - 10; a renewal with ttl 10 sent at NOW - 5 may have landed
    unanswered: observers may take the lock at NOW + 5, so we demote by NOW + 5 - retry."""
    lowered = config(ttl_s=10.0, retry_timeout_s=3.0)
    me = holder(lease_renewed_at=NOW - 10, lease_ttl_s=30.0, lease_cap=NOW - 5 + 10)
    decision = decide(led_by("a", member("b")), me, lowered, NOW + 2.5)
    assert decision.reason is Reason.LEASE_EXPIRING
