"""The HA core's vocabulary: the local view, the decision, its reasons.

`decide()` reads a :class:`LocalView` and a ClusterView and returns a
:class:`Decision`: the role to aim for, the actions to take (messages for
other actors) and a :class:`Reason`.  Human text is made from the reason at
the edge (logs, API), never inside the rules.
"""

from __future__ import annotations

import enum

from messages.base import MemberName, Message, message
from messages.cluster import Role
from messages.config import Tags
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
from messages.gossip import HeardLeader
from messages.postgres import (
    Bootstrap,
    CreateReplica,
    Follow,
    PostgresStatus,
    PrimaryProbed,
    ProbePrimary,
    Promote,
    Reinitialize,
    RestartPostgres,
    Rewind,
    StartPostgres,
    StopPostgres,
)


class ActionKind(enum.Enum):
    """A long action on PostgreSQL; at most one runs at a time."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"
    PROMOTE = "promote"
    FOLLOW = "follow"
    BOOTSTRAP = "bootstrap"
    CREATE_REPLICA = "create_replica"
    REWIND = "rewind"
    REINITIALIZE = "reinitialize"


PostgresAction = (
    StartPostgres
    | StopPostgres
    | RestartPostgres
    | Promote
    | Follow
    | Bootstrap
    | CreateReplica
    | Rewind
    | Reinitialize
)
DcsAction = (
    AcquireLock
    | RenewLock
    | ReleaseLock
    | ClaimInitialize
    | SetInitialized
    | CancelInitialize
    | SetBootstrapConfig
    | ClearFailover
    | SetHistory
)
Action = PostgresAction | DcsAction | ProbePrimary


@message("ha.action_done")
class ActionDone(Message):
    """A PostgreSQL actor finished a long action."""

    kind: ActionKind
    ok: bool
    detail: str = ""
    data_dir_removed: bool = False


class Reason(enum.Enum):
    """Why the decision is what it is; one member per rule of decide()."""

    ACTION_IN_PROGRESS = "an action is in progress"
    PAUSED = "paused: no automatic action"
    PAUSED_REQUEST_DROPPED = (
        "paused: a switchover/failover request dropped (ask again after resume)"
    )
    PAUSED_TAKE_LOCK = "paused, and no leader: the running primary takes the lock back"
    CLAIM_INITIALIZE = "no cluster yet: racing for the initialise key"
    BOOTSTRAPPING = "won the initialise key: bootstrapping"
    BOOTSTRAP_FAILED = "bootstrap failed: cancelling initialisation"
    BOOTSTRAP_TAKE_LOCK = "bootstrapped: taking the leader lock"
    BOOTSTRAP_DONE = "bootstrapped: publishing the system identifier"
    WAIT_FOR_BOOTSTRAP = "waiting for another member to bootstrap"
    WAIT_FOR_LEADER = "no leader to clone from yet"
    CLONE = "empty data directory: cloning from the leader"
    LEADER_RENEW = "holding the leader lock"
    LEADER_IDLE = "holding the leader lock (renewal not due)"
    LOCK_LOST = "lock lost or held by another: demoting at once"
    LEASE_EXPIRING = "could not renew before the lease expires: demoting"
    FAILSAFE = "DCS unreachable; all members confirm us: staying primary"
    DCS_UNREACHABLE = "DCS unreachable"
    PROMOTE = "took the leader lock: promoting"
    RESTART_AS_PRIMARY = "PostgreSQL down while holding the lock: starting it as primary"
    PRIMARY_START_TIMEOUT = "primary did not start within primary_start_timeout: releasing"
    WAIT_PRIMARY_START = "lock holder's PostgreSQL is starting"
    TRY_LOCK = "no live leader and we are the healthiest: taking the lock"
    NOT_HEALTHIEST = "no live leader, but another member is a better candidate"
    NOT_ELIGIBLE = "no live leader, and we may not be promoted"
    START_REPLICA = "PostgreSQL down: starting as a replica"
    START_STANDALONE = "PostgreSQL down and no leader: starting as a replica to be eligible"
    REWIND = "timeline diverged from the leader: rewinding"
    FOLLOW = "following the leader"
    REPLICA_OK = "streaming from the leader"
    RESTART_FOR_PRIMARY_SETTINGS = (
        "replay paused: the primary runs with higher settings than this hot standby"
        " started with; restarting to take them"
    )
    DEMOTE_NOT_LEADER = "running as primary without the lock: demoting"
    SWITCHOVER_STOP = "switchover: stopping to hand over"
    SWITCHOVER_RELEASE = "switchover: stopped, releasing the lock"
    SWITCHOVER_WAIT = "switchover: waiting for the candidate's fresh status"
    SWITCHOVER_REFUSED = "switchover refused: candidate not fit"
    SWITCHOVER_SCHEDULED = "switchover scheduled for later"
    FAILOVER_DONE = "failover/switchover completed: clearing the request"
    WAIT_FOR_STARTUP = "PostgreSQL is starting"
    START_BACKOFF = "PostgreSQL failed to start: waiting before the next attempt"
    DATA_DIR_ERROR = "the data directory cannot be read: stopping PostgreSQL, then waiting"
    FAILSAFE_LEADER_ALIVE = "no live lock, but the leader keeps the cluster by failsafe"
    WATCHDOG_UNAVAILABLE = "watchdog required but the fence does not hold: not leading"
    PROBE_FORMER_PRIMARY = "no live leader: checking the former primary takes no writes"
    FORMER_PRIMARY_ALIVE = "no live leader, but the former primary still takes writes"
    FAILSAFE_REACQUIRE = "DCS back after failsafe: taking the free lock again as primary"


@message("ha.local_view")
class LocalView(Message):
    """What this node knows of itself; made by HaActor from the events it saw."""

    name: MemberName
    pg: PostgresStatus
    tags: Tags = Tags()
    dcs_reachable: bool = True
    lease_renewed_at: float | None = None
    """Monotonic start time of our last successful acquire/renew; None unless we hold it."""
    lock_op_in_flight: bool = False
    action: ActionKind | None = None
    action_started_at: float | None = None
    last_action: ActionKind | None = None
    last_action_ok: bool = True
    last_action_done_at: float | None = None
    """Monotonic time the last action finished."""
    failed_starts: int = 0
    """Starts of PostgreSQL that failed in a row; the next waits longer each time."""
    init_claimed: bool = False
    primary_start_began_at: float | None = None
    """When the lock holder began trying to (re)start PostgreSQL as primary."""
    following: MemberName | None = None
    """The member PostgreSQL was last told to stream from."""
    failover_seen_at: float | None = None
    """Monotonic time this node first saw the pending failover/switchover request."""
    lease_ttl_s: float | None = None
    """The ttl our own lease record carries (LockResult.ttl_s); the holder judges its
    lease by it, never by a later config value (None: by the leader record's)."""
    lease_cap: float | None = None
    """A lock write sent at t with ttl x may land unanswered: observers may then
    expire our lease at t + x.  The earliest such end until a renewal is answered."""
    failsafe_until: float | None = None
    """Failsafe, as the leader: no member takes the lock before this (monotonic),
    by their acknowledgements of our failsafe heartbeats (None: not all of them)."""
    failsafe_leader_until: float | None = None
    """Failsafe, as another member: a leader keeping the cluster by failsafe was
    heard; we promised not to take the lock before this (monotonic)."""
    failsafe_acks: tuple[HeardLeader, ...] = ()
    """The promises behind failsafe_leader_until, as we acknowledge them."""
    watchdog_required: bool = False
    """watchdog.mode required: no leadership without a fence holding our arming."""
    watchdog_ok: bool = True
    probe: PrimaryProbed | None = None
    """The last probe of a former primary (does it still take writes?)."""
    probed_at: float | None = None
    probe_in_flight: bool = False
    wall_time: float = 0.0
    """Epoch seconds, only for a switchover's scheduled_at (an operator's wall time)."""


@message("ha.decision")
class Decision(Message):
    goal: Role
    reason: Reason
    actions: tuple[Action, ...] = ()
    wake_at: float | None = None
    """Monotonic time by which decide() must run again (a lease deadline, say)."""
    detail: str | None = None
    """What the reason alone cannot say: why a switchover was refused, say."""
