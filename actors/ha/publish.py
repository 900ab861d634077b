"""What the HA node tells others about itself: its member record and its status.

The member record goes to the DCS (TouchMember) when it changed, and at
least every loop_wait whatever else happens, so it never expires under a
live member (a pending failover once held touches back until every member
key expired).  The NodeStatus is published after every decision (whoever the
node declared hears it: the API, metrics, gossip and the console).  Pure:
the cycle decides, the shell sends.
"""

from __future__ import annotations

import dataclasses
import operator

from actors.ha.facts import Facts
from actors.ha.state import HaState, facts_at, live_promises
from messages.admin import NodeStatus
from messages.base import MemberName
from messages.cluster import MemberStatus, PgState, Role
from messages.config import DynamicConfig, Tags
from messages.dcs import TouchMember
from messages.ha import Decision

FRESH_POSITION_S = 1.0
"""A WAL position that moved is published at most this often (between loop_wait touches)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """How this member presents itself to others."""

    member: MemberName
    scope: str
    conn_host: str
    conn_port: int
    api_url: str = ""
    tags: Tags = Tags()
    gossip_url: str = ""
    version: str = ""
    """pgactor's version, published in the member record as Patroni's tools expect."""


def member_status(ha: HaState, ident: Identity) -> MemberStatus:
    pg = ha.pg
    return MemberStatus(
        name=ident.member,
        role=pg.role,
        state=pg.state,
        conn_host=ident.conn_host,
        conn_port=ident.conn_port,
        api_url=ident.api_url,
        gossip_url=ident.gossip_url,
        timeline=pg.timeline,
        wal_position=pg.wal_position,
        following=ha.following,
        tags=ident.tags,
        pending_restart=pg.pending_restart,
        version=ident.version,
        replication_state=_replication_state(ha),
        receive_lsn=pg.receive_lsn if _running_replica(ha) else None,
        replay_lsn=pg.replay_lsn if _running_replica(ha) else None,
    )


_POSITIONS = ("wal_position", "receive_lsn", "replay_lsn")
_positions = operator.attrgetter(*_POSITIONS)
"""The fields that move with every WAL record: published at a bounded rate."""
_without_positions = operator.attrgetter(
    *(f.name for f in dataclasses.fields(MemberStatus) if f.compare and f.name not in _POSITIONS)
)
"""Every other field MemberStatus compares: a change there is published at once.  (Read
as a tuple: two records with their positions blanked out, compared, cost ten times as much,
on every step of every member.)"""


def touch(member: MemberStatus, config: DynamicConfig) -> TouchMember:
    """Our record, living as long as the config's ttl says (the record's lease follows it)."""
    return TouchMember(status=member, ttl_s=config.ttl_s, retry_timeout_s=config.retry_timeout_s)


Touched = tuple[float, MemberStatus]
"""When we last published our member record, and what it said."""


def touch_due(
    last: Touched | None,
    member: MemberStatus,
    now: float,
    config: DynamicConfig,
    switchover_due: bool,
) -> bool:
    """Publish a change at once, a moved WAL position at most every second (at once
    while a switchover waits on it), and the record at least every loop_wait (and the
    loop's idle slack, cycle.IDLE_SLACK).

    The periodic touch comes early, from half a loop on, in whatever step runs
    then: a leader's renewal, a replica's view of it.  Its own wake comes a
    little after loop_wait (cycle.IDLE_SLACK), so on a healthy cluster the
    touch rides on that step instead of waking three actors of its own."""
    if last is None:
        return True
    touched_at, touched = last
    if _without_positions(touched) != _without_positions(member):
        return True
    age = now - touched_at
    if age >= config.loop_wait_s / 2:
        return True
    moved = _positions(touched) != _positions(member)
    return moved and (switchover_due or age >= min(config.loop_wait_s, FRESH_POSITION_S))


def status_due(
    last: tuple[float, NodeStatus] | None,
    status: NodeStatus,
    now: float,
    config: DynamicConfig,
    lock_op_in_flight: bool,
) -> bool:
    """Publish our status when it changed, and at least every loop_wait (a restarted
    subscriber waits no longer; the REST liveness check reads the gaps); the lease's
    remaining time alone is no change: its readers age it from when they received it.
    Four actors hear each publication.

    While a lock operation is in flight the periodic one waits for its answer, which
    is news (a renewed lease) and comes within retry_timeout: a leader published
    twice a loop, the periodic status a few milliseconds before the renewed one.  The
    longest gap, loop_wait + retry_timeout and the loop's idle slack (cycle.IDLE_SLACK),
    stays under ttl (node/config)."""
    if last is None:
        return True
    every = config.loop_wait_s + (config.retry_timeout_s if lock_op_in_flight else 0.0)
    if now - last[0] >= every:
        return True
    return _status_news(last[1]) != _status_news(status)


_status_news = operator.attrgetter(
    *(f.name for f in dataclasses.fields(NodeStatus) if f.compare and f.name != "lease_remaining_s")
)
"""What NodeStatus compares, its lease's remaining time aside (read as a tuple, as the
member record's fields above, instead of a copy built on every step)."""


def failsafe_ttl_s(facts: Facts) -> float:
    """Our failsafe heartbeat's ttl: more than 0 while we run as primary leaning on
    failsafe (the DCS out of reach, or the lock not yet renewed or retaken after it:
    the members' promises must run until then)."""
    if not facts.leaning_on_failsafe:
        return 0.0
    return facts.local.lease_ttl_s or facts.config.ttl_s


def node_status(ha: HaState, ident: Identity, decision: Decision, now: float) -> NodeStatus:
    pg = ha.pg
    facts = facts_at(ha, now)
    deadline = facts.lease_deadline
    return NodeStatus(
        name=ha.name,
        scope=ident.scope,
        role=pg.role,
        state=pg.state,
        reason=decision.reason,
        timeline=pg.timeline,
        wal_position=pg.wal_position,
        replay_lsn=pg.replay_lsn,
        receive_lsn=pg.receive_lsn,
        is_leader=facts.holds_lock,
        following=ha.following,
        action=ha.action,
        paused=ha.config.pause,
        pending_restart=pg.pending_restart,
        dcs_reachable=ha.dcs_reachable,
        tags=ha.tags,
        replication=pg.replication,
        replication_state=_replication_state(ha),
        sync_standby=ha.name in ha.view.sync.sync_standbys,
        cluster=ha.view,
        lease_remaining_s=None if deadline is None else deadline - now,
        failsafe_ttl_s=failsafe_ttl_s(facts),
        failsafe_acks=tuple(p.heard for p in live_promises(ha, now)),
        data_dir_error=pg.data_dir_error,
    )


def _running_replica(ha: HaState) -> bool:
    pg = ha.pg
    return pg.state is PgState.RUNNING and pg.role is Role.REPLICA and not pg.data_dir_error


def _replication_state(ha: HaState) -> str | None:
    """Patroni 4's name for what a running replica's WAL receiver does."""
    if not _running_replica(ha):
        return None
    return "streaming" if ha.pg.streaming_from else None
