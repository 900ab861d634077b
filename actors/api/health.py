"""Health checks: which HTTP status each check path answers for this member.

Load balancers (HAProxy ``option httpchk``) and Kubernetes probes act on the
status code alone, so the code is the contract: 200 when the condition
holds, 503 when it does not, exactly as in Patroni; the body is always this
member's ``/patroni`` status, for a human reading the check.

Every check is a rule over one :class:`Snapshot` plus the request's
:class:`HealthQuery`.  Three things differ from a plain reading of the status:

- replica checks honour ``lag`` (bytes behind the leader's last published
  optime) and the ``noloadbalance`` tag, as Patroni's replica checks do;
- a replica serves reads only while it replays: streaming from its upstream,
  or restoring from the archive (Patroni's ``replication_state`` values).  A
  replica that runs but replays nothing (its WAL receiver stopped, say because
  its data directory cannot be read) answers old data as if it were fresh, and
  a load balancer must stop sending reads there;
- ``tag_<name>=value`` filters apply to the read-only checks only: a check for
  *the* primary must never fail because of a tag (Patroni ignores tags there).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from actors.api.positions import replica_lag_bytes
from actors.api.query import HealthQuery
from actors.api.snapshot import Snapshot
from actors.api.views import is_sync_standby, member_json, tag_values
from messages.admin import NodeStatus
from messages.cluster import PgState, Role
from messages.config import SyncMode

OK, UNAVAILABLE = 200, 503

Rule = Callable[[Snapshot, HealthQuery], bool]
StatusRule = Callable[[NodeStatus, HealthQuery], bool]


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    rule: Rule
    tag_filtered: bool = False


def _needs_status(rule: StatusRule) -> Rule:
    """Lift a rule over a NodeStatus to a snapshot rule that fails before the first status."""

    def check(snap: Snapshot, query: HealthQuery) -> bool:
        return snap.status is not None and rule(snap.status, query)

    return check


def _running(status: NodeStatus, query: HealthQuery) -> bool:
    return status.state is PgState.RUNNING


def _leading_primary(status: NodeStatus, query: HealthQuery) -> bool:
    """Holds the leader lock *and* runs as primary: the one member writes may go to."""
    return status.is_leader and status.role is Role.PRIMARY and _running(status, query)


def _within_lag(status: NodeStatus, query: HealthQuery) -> bool:
    if query.max_lag_bytes is None:
        return True
    lag = replica_lag_bytes(status)
    # an unknown lag passes, as in Patroni: with no leader optime there is nothing to trail
    return lag is None or lag <= query.max_lag_bytes


REPLAYING = frozenset({"streaming", "in archive recovery"})
"""The replication states of a replica that is catching up with its upstream."""


def _serving_replica(status: NodeStatus, query: HealthQuery) -> bool:
    return (
        status.role is Role.REPLICA
        and _running(status, query)
        and not status.data_dir_error
        and status.replication_state in REPLAYING
        and not status.tags.noloadbalance
        and _within_lag(status, query)
    )


def _read_only(status: NodeStatus, query: HealthQuery) -> bool:
    return _leading_primary(status, query) or _serving_replica(status, query)


def _sync(status: NodeStatus, query: HealthQuery) -> bool:
    return _serving_replica(status, query) and is_sync_standby(status)


def _async(status: NodeStatus, query: HealthQuery) -> bool:
    return _serving_replica(status, query) and not is_sync_standby(status)


def _quorum(status: NodeStatus, query: HealthQuery) -> bool:
    """A replica that counts toward the quorum of synchronous_mode: quorum."""
    config = status.cluster.config
    quorum_mode = config is not None and config.synchronous_mode is SyncMode.QUORUM
    return quorum_mode and _sync(status, query)


def _standby_leader(status: NodeStatus, query: HealthQuery) -> bool:
    """Patroni's leader of a standby cluster; pgactor has no standby clusters yet: never."""
    return False


def _ready(status: NodeStatus, query: HealthQuery) -> bool:
    """Worth sending traffic to: the leading primary, or a replica streaming from it."""
    streaming = status.role is Role.REPLICA and status.replication_state == "streaming"
    return _running(status, query) and (_leading_primary(status, query) or streaming)


def _alive(snap: Snapshot, query: HealthQuery) -> bool:
    """The HA loop pushed a status recently.

    In pause mode a late status is tolerated, as Patroni does: an operator
    paused automation precisely so that nothing restarts PostgreSQL, and a
    failed liveness probe makes Kubernetes restart the whole pod.
    """
    if snap.age_s <= snap.liveness_timeout_s:
        return True
    return snap.status is not None and snap.status.paused


_PRIMARY = Check(_needs_status(_leading_primary))
_REPLICA = Check(_needs_status(_serving_replica), tag_filtered=True)
_SYNC = Check(_needs_status(_sync), tag_filtered=True)
_ASYNC = Check(_needs_status(_async), tag_filtered=True)

CHECKS: Mapping[str, Check] = {
    "/": _PRIMARY,
    "/primary": _PRIMARY,
    "/leader": _PRIMARY,
    "/master": _PRIMARY,
    "/read-write": _PRIMARY,
    "/replica": _REPLICA,
    "/read-only": Check(_needs_status(_read_only), tag_filtered=True),
    "/synchronous": _SYNC,
    "/sync": _SYNC,
    "/asynchronous": _ASYNC,
    "/async": _ASYNC,
    "/quorum": Check(_needs_status(_quorum), tag_filtered=True),
    "/standby-leader": Check(_needs_status(_standby_leader)),
    "/standby_leader": Check(_needs_status(_standby_leader)),
    "/health": Check(_needs_status(_running), tag_filtered=True),
    "/liveness": Check(_alive),
    "/readiness": Check(_needs_status(_ready)),
}
"""Check path -> rule.  Aliases share one Check, so they cannot drift apart."""


def _tags_match(status: NodeStatus | None, wanted: tuple[tuple[str, str], ...]) -> bool:
    if not wanted:
        return True
    if status is None:
        return False
    have = tag_values(status.tags)
    # a tag this member does not know never matches (Patroni: 503)
    return all(have.get(name) == value for name, value in wanted)


def status_code(check: Check, snap: Snapshot, query: HealthQuery) -> int:
    if not check.rule(snap, query):
        return UNAVAILABLE
    if check.tag_filtered and not _tags_match(snap.status, query.tags):
        return UNAVAILABLE
    return OK


def answer(path: str, snap: Snapshot, query: HealthQuery) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) for a check path; KeyError for a path that is no check."""
    return status_code(CHECKS[path], snap, query), member_json(snap)
