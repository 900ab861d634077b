"""The synchronous-replication rules: one pure step at a time (safety rule 3).

A synchronous standby is registered in two places: synchronous_standby_names
in postgresql.conf (who must acknowledge a commit) and the DCS sync key (who
may be promoted).  The invariant, as in Patroni's process_sync_replication:
while this node is primary, every standby the sync key names is named in
postgresql.conf too, and was acknowledged synchronous there before it was
published.  So a standby is added to postgresql.conf first and published once
pg_stat_replication shows it synchronous; it is unpublished first and removed
from postgresql.conf after.

:func:`plan` looks at one consistent picture (the PostgreSQL status, the
cluster view with the sync key as last known, the dynamic config) and
returns the single next step.  The caller applies it and calls again only
after it has seen the step take effect, so the order holds across steps.

Quorum.  The key's ``quorum`` q says how many other published standbys a
promotion candidate must consult.  With ``ANY k (N)`` in postgresql.conf a
commit is on k of N, so q must be at least ``len(N) - k``
(:meth:`StandbyNames.quorum_needed`).  Raising q is as safe as unpublishing
(it only makes promotion harder), so it is written before postgresql.conf
grows; lowering it is as risky as publishing, so it waits, like publishing,
until the new postgresql.conf is confirmed.  ``FIRST k`` with k names (what
``synchronous_mode: on`` writes) needs every name, so q is 0.

Confirmed means: the primary's flush LSN when the current names took effect
(`names_lsn`) has been flushed by the standby to publish (FIRST), or by
enough named standbys (ANY).  A standby that joined later is missing commits
acknowledged before it joined until then (Patroni 3 keeps the same check).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable

from actors.sync_replication.names import (
    EVERY_STANDBY,
    Method,
    NamesSyntaxError,
    StandbyNames,
    any_of,
    first,
    format_names,
    parse,
)
from messages.base import MemberName
from messages.cluster import ClusterView, PgState, Role, SyncState
from messages.config import DynamicConfig, SyncMode
from messages.postgres import PostgresStatus, StandbyReplication

NO_KEY = SyncState()
"""How an absent sync key reads in a ClusterView."""


class StepKind(enum.Enum):
    NOTHING = "nothing"
    SET_NAMES = "set synchronous_standby_names"
    SHRINK = "write the sync key (fewer standbys or a higher quorum)"
    PUBLISH = "write the sync key (more standbys or a lower quorum)"
    DELETE_KEY = "delete the sync key"


class SyncReason(enum.Enum):
    NOT_LEADING = "not the running primary that holds the lock"
    NO_CONFIG = "no cluster config yet"
    OFF_DELETE_KEY = "synchronous mode off: deleting the sync key"
    OFF_CLEAR_NAMES = "synchronous mode off: clearing synchronous_standby_names"
    OFF = "synchronous mode off"
    CLAIM_KEY = "the sync key is not this leader's: claiming it with no standby"
    REVOKE = "unpublishing standbys before synchronous_standby_names drops them"
    SET_NAMES = "synchronous_standby_names differs from the wanted standbys"
    PUBLISH = "publishing standbys acknowledged as synchronous"
    WAIT_FOR_STANDBYS = "waiting for named standbys to be acknowledged and caught up"
    IN_SYNC = "synchronous replication is as wanted"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SyncPlan:
    kind: StepKind
    reason: SyncReason
    names: str | None = None
    """SET_NAMES: the synchronous_standby_names value to set."""
    state: SyncState | None = None
    """SHRINK / PUBLISH: the sync key to write."""


def _nothing(reason: SyncReason) -> SyncPlan:
    return SyncPlan(kind=StepKind.NOTHING, reason=reason)


def plan(  # noqa: PLR0913 - the picture the rule looks at, all of it pure data
    primary: MemberName,
    pg: PostgresStatus,
    view: ClusterView,
    config: DynamicConfig | None,
    current_names: str,
    *,
    names_lsn: int = 0,
) -> SyncPlan:
    """The next single step for `primary`, given the sync key in `view.sync`.

    `current_names` is the value the server runs with; `names_lsn` the
    primary's flush LSN when that value took effect.
    """
    if config is not None and _promoting(primary, pg, view, config):
        # The HA core promotes only once the key names us alone: no standby of an
        # earlier term may then be promoted without writes we acknowledge alone.
        return _write(StepKind.SHRINK, SyncReason.CLAIM_KEY, SyncState(leader=primary))
    if not leading(primary, pg, view):
        return _nothing(SyncReason.NOT_LEADING)
    if config is None:
        return _nothing(SyncReason.NO_CONFIG)
    if config.synchronous_mode is SyncMode.OFF:
        return _plan_off(view.sync, current_names)
    if view.sync.leader != primary:
        return _write(StepKind.SHRINK, SyncReason.CLAIM_KEY, SyncState(leader=primary))
    return _plan_sync(primary, pg, view, config, parse_or_none(current_names), names_lsn=names_lsn)


def _plan_sync(  # noqa: PLR0913 - plan()'s picture, passed on
    primary: MemberName,
    pg: PostgresStatus,
    view: ClusterView,
    config: DynamicConfig,
    current: StandbyNames | None,
    *,
    names_lsn: int,
) -> SyncPlan:
    target = wanted_names(config, candidates(pg, view), view.sync, current)
    revoke = _revoke(primary, view.sync, current, target)
    if revoke is not None:
        return revoke
    if current is None or not current.equivalent(target):
        return SyncPlan(
            kind=StepKind.SET_NAMES, reason=SyncReason.SET_NAMES, names=format_names(target)
        )
    return _publish(primary, pg, view.sync, current, names_lsn)


def _promoting(
    primary: MemberName, pg: PostgresStatus, view: ClusterView, config: DynamicConfig
) -> bool:
    """We hold the lock, PostgreSQL still runs as a replica, and the key is not yet ours alone."""
    return (
        config.synchronous_mode is not SyncMode.OFF
        and pg.state is PgState.RUNNING
        and pg.role is Role.REPLICA
        and view.leader is not None
        and view.leader.name == primary
        and (view.sync.leader != primary or bool(view.sync.sync_standbys))
    )


def leading(primary: MemberName, pg: PostgresStatus, view: ClusterView) -> bool:
    """Only the running primary named by the leader record manages synchronous standbys."""
    return (
        pg.state is PgState.RUNNING
        and pg.role is Role.PRIMARY
        and view.leader is not None
        and view.leader.name == primary
    )


def parse_or_none(text: str) -> StandbyNames | None:
    """The parsed value; None for text we cannot parse (treated as naming nobody)."""
    try:
        return parse(text)
    except NamesSyntaxError:
        return None


def _write(kind: StepKind, reason: SyncReason, state: SyncState) -> SyncPlan:
    return SyncPlan(kind=kind, reason=reason, state=state)


def _plan_off(key: SyncState, current_names: str) -> SyncPlan:
    if key != NO_KEY:
        return SyncPlan(kind=StepKind.DELETE_KEY, reason=SyncReason.OFF_DELETE_KEY)
    if current_names.strip():
        return SyncPlan(kind=StepKind.SET_NAMES, reason=SyncReason.OFF_CLEAR_NAMES, names="")
    return _nothing(SyncReason.OFF)


# -- who may be synchronous ------------------------------------------------------------


def candidates(pg: PostgresStatus, view: ClusterView) -> tuple[MemberName, ...]:
    """Streaming members not tagged nosync, most advanced first, then by name."""
    members = {m.name: m for m in view.members}
    rows = [
        row
        for row in pg.replication
        if row.state == "streaming"
        and (member := members.get(MemberName(row.application_name))) is not None
        and not member.tags.nosync
    ]
    rows.sort(key=lambda r: (-(r.flush_lsn or 0), -(r.replay_lsn or 0), r.application_name))
    return tuple(dict.fromkeys(MemberName(r.application_name) for r in rows))


def wanted_names(
    config: DynamicConfig,
    cands: tuple[MemberName, ...],
    key: SyncState,
    current: StandbyNames | None,
) -> StandbyNames:
    """The synchronous_standby_names value the config asks for."""
    count = max(1, config.synchronous_node_count)
    if config.synchronous_mode is SyncMode.QUORUM:
        chosen = any_of(count, cands)
    else:
        chosen = first(_sticky(cands, key, current)[:count])
    if chosen.is_off and config.synchronous_mode_strict:
        return EVERY_STANDBY
    return chosen


def _sticky(
    cands: tuple[MemberName, ...], key: SyncState, current: StandbyNames | None
) -> tuple[MemberName, ...]:
    """Candidates, those named (then published) already first, so a choice does not flap."""
    named = current.named if current is not None else frozenset()

    def rank(pair: tuple[int, MemberName]) -> tuple[bool, bool, int]:
        position, name = pair
        return (name.casefold() not in named, name not in key.sync_standbys, position)

    return tuple(name for _, name in sorted(enumerate(cands), key=rank))


# -- the three phases, in the order rule 3 needs ------------------------------------------


def _revoke(
    primary: MemberName, key: SyncState, current: StandbyNames | None, target: StandbyNames
) -> SyncPlan | None:
    """Unpublish what postgresql.conf does not or will not name; raise the quorum first."""
    now_q = current.quorum_needed() if current is not None else None
    next_q = target.quorum_needed()
    keep: frozenset[MemberName] = frozenset()
    quorum = 0
    if current is not None and now_q is not None and next_q is not None:
        named = current.named & target.named
        keep = frozenset(s for s in key.sync_standbys if s.casefold() in named)
        quorum = max(key.quorum, now_q, next_q) if keep else 0
    if keep == key.sync_standbys and (not keep or quorum == key.quorum):
        return None
    state = SyncState(leader=primary, sync_standbys=keep, quorum=quorum)
    return _write(StepKind.SHRINK, SyncReason.REVOKE, state)


def _publish(
    primary: MemberName,
    pg: PostgresStatus,
    key: SyncState,
    current: StandbyNames,
    names_lsn: int,
) -> SyncPlan:
    """Publish named standbys acknowledged and caught up; lower the quorum once confirmed.

    Called only when postgresql.conf already is as wanted and the key names
    nothing it does not (``_revoke`` saw to both).
    """
    need = current.quorum_needed()
    if need is None:  # off or `*`: nobody can be published
        return _nothing(SyncReason.IN_SYNC)
    ready = frozenset(
        MemberName(row.application_name)
        for row in _acknowledged(pg.replication, current)
        if (row.flush_lsn or 0) >= names_lsn
    )
    publish = key.sync_standbys | ready
    if not publish:
        quorum = 0
    elif not key.sync_standbys or len(ready) >= current.num:  # new key, or confirmed
        quorum = need
    else:
        quorum = max(need, key.quorum)
    if publish == key.sync_standbys and quorum == key.quorum:
        done = len(publish) >= len(current.named) and quorum == need
        return _nothing(SyncReason.IN_SYNC if done else SyncReason.WAIT_FOR_STANDBYS)
    state = SyncState(leader=primary, sync_standbys=publish, quorum=quorum)
    return _write(StepKind.PUBLISH, SyncReason.PUBLISH, state)


def _acknowledged(
    rows: Iterable[StandbyReplication], names: StandbyNames
) -> tuple[StandbyReplication, ...]:
    """Streaming standbys the server reports synchronous under `names`.

    The server says 'sync' for the FIRST method and 'quorum' for ANY.
    """
    expected = "quorum" if names.method is Method.ANY else "sync"
    return tuple(
        row
        for row in rows
        if row.state == "streaming"
        and row.sync_state == expected
        and row.application_name.casefold() in names.named
    )


__all__ = [
    "NO_KEY",
    "StepKind",
    "SyncPlan",
    "SyncReason",
    "candidates",
    "leading",
    "parse_or_none",
    "plan",
    "wanted_names",
]
