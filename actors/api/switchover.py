"""Switchover and failover requests: from an untrusted JSON body to a SwitchoverRequest.

Validation happens in two stages with different answers, as in Patroni:

- the *shape* of the request (JSON, known fields, types, a switchover names a
  leader, a failover a candidate, a schedule in the future with a zone) --
  400, the client must change the request;
- *preconditions* against this node's latest view of the cluster (the leader
  named is the leader, the candidate is another member, in synchronous mode a
  published sync standby) -- 412, the request may be right a moment later.

The HA actor checks again against its own, fresher view before it acts; this
module only keeps requests that cannot succeed away from it.  Everything is
pure: the body, the status and the wall clock come in as arguments.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
from typing import Any

from messages.admin import NodeStatus, SwitchoverRequest
from messages.base import MemberName
from messages.config import SyncMode

BAD_REQUEST, PRECONDITION_FAILED = 400, 412
MAX_NAME_CHARS = 253
"""A Kubernetes pod name's limit; no member name is longer."""
MAX_TIMESTAMP_CHARS = 64


class Kind(enum.Enum):
    SWITCHOVER = "switchover"
    FAILOVER = "failover"


@dataclasses.dataclass(frozen=True, slots=True)
class Rejection:
    code: int
    reason: str


class _Invalid(Exception):
    """Internal: carries a Rejection out of nested checks."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.rejection = Rejection(code, reason)


@dataclasses.dataclass(frozen=True, slots=True)
class _Fields:
    leader: MemberName | None
    candidate: MemberName | None
    scheduled_at: str | None


def parse_request(
    body: bytes, *, kind: Kind, status: NodeStatus, now_epoch: float
) -> SwitchoverRequest | Rejection:
    """The SwitchoverRequest a POST body asks for, or why it is refused."""
    try:
        fields = _fields(_json_object(body))
        # Patroni: a failover that names the leader is a switchover
        kind = Kind.SWITCHOVER if fields.leader is not None else kind
        _check_shape(fields, kind, paused=status.paused)
        scheduled_at = _schedule(fields.scheduled_at, now_epoch)
        _check_cluster(fields, kind, status)
    except _Invalid as exc:
        return exc.rejection
    return SwitchoverRequest(
        leader=fields.leader, candidate=fields.candidate, scheduled_at=scheduled_at
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _Invalid(BAD_REQUEST, f"body is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(data, dict):
        raise _Invalid(BAD_REQUEST, "body must be a JSON object")
    return data


def _fields(data: dict[str, Any]) -> _Fields:
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(_Fields)})
    if unknown:
        shown = ", ".join(repr(key[:40]) for key in unknown[:5])
        raise _Invalid(BAD_REQUEST, f"unknown field(s): {shown}")
    return _Fields(
        leader=_name(data, "leader"),
        candidate=_name(data, "candidate"),
        scheduled_at=_text(data, "scheduled_at"),
    )


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":  # patronictl sends "" for "not given"
        return None
    if not isinstance(value, str):
        raise _Invalid(BAD_REQUEST, f"{key} must be a string")
    return value


def _name(data: dict[str, Any], key: str) -> MemberName | None:
    value = _text(data, key)
    if value is not None and len(value) > MAX_NAME_CHARS:
        raise _Invalid(BAD_REQUEST, f"{key} is longer than {MAX_NAME_CHARS} characters")
    return None if value is None else MemberName(value)


def _check_shape(fields: _Fields, kind: Kind, *, paused: bool) -> None:
    if kind is Kind.FAILOVER and fields.candidate is None:
        raise _Invalid(BAD_REQUEST, "Failover could be performed only to a specific candidate")
    if kind is Kind.SWITCHOVER and fields.leader is None:
        raise _Invalid(BAD_REQUEST, "Switchover could be performed only from a specific leader")
    if fields.scheduled_at is not None and kind is Kind.FAILOVER:
        raise _Invalid(BAD_REQUEST, "Failover can't be scheduled")
    if fields.scheduled_at is not None and paused:
        raise _Invalid(BAD_REQUEST, "Can't schedule switchover in the paused state")
    if paused and fields.candidate is None:
        raise _Invalid(
            BAD_REQUEST, "Switchover is possible only to a specific candidate in a paused state"
        )


def _schedule(text: str | None, now_epoch: float) -> float | None:
    """Epoch seconds of an ISO 8601 time with a zone, strictly in the future."""
    if text is None:
        return None
    try:
        if len(text) > MAX_TIMESTAMP_CHARS:
            raise ValueError(text)
        at = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise _Invalid(
            BAD_REQUEST,
            f"Unable to parse scheduled timestamp {text[:64]!r}: use ISO 8601, "
            "e.g. 2030-01-01T10:00:00+00:00",
        ) from None
    if at.tzinfo is None or at.utcoffset() is None:
        # a zone-less time means different instants on different hosts
        raise _Invalid(BAD_REQUEST, "Timezone information is mandatory for scheduled_at")
    epoch = at.timestamp()
    if epoch <= now_epoch:
        raise _Invalid(BAD_REQUEST, "Cannot schedule switchover in the past")
    return epoch


def _check_cluster(fields: _Fields, kind: Kind, status: NodeStatus) -> None:
    cluster = status.cluster
    leader = cluster.leader.name if cluster.leader is not None else None
    if fields.leader is not None and fields.leader != leader:
        raise _Invalid(PRECONDITION_FAILED, f"leader name does not match (leader: {leader})")
    if fields.candidate is None:
        return
    if cluster.member(fields.candidate) is None:
        raise _Invalid(PRECONDITION_FAILED, f"candidate {fields.candidate} is not a member")
    if fields.candidate == leader:
        raise _Invalid(PRECONDITION_FAILED, f"candidate {fields.candidate} is already the leader")
    sync_mode = cluster.config is not None and cluster.config.synchronous_mode is not SyncMode.OFF
    # safety rule 3: only a published sync standby may be promoted without losing data
    if kind is Kind.SWITCHOVER and sync_mode and fields.candidate not in cluster.sync.sync_standbys:
        raise _Invalid(PRECONDITION_FAILED, "candidate name does not match with sync_standby")


@dataclasses.dataclass(slots=True)
class Outcome:
    """Patroni's poll_failover_result, judged on each status this member publishes: an
    immediate switchover or failover is answered once it happened, or failed.

    Success is a leader other than the one before; failure is the request seen in the
    cluster view and then gone with the leader unchanged (the leader refused it, or the
    candidate could not take over).  `seen` is the only state, local to one request.
    """

    kind: Kind
    before: MemberName | None
    """The leader when the request was made (a switchover names it)."""
    candidate: MemberName | None
    seen: bool = False

    def judge(self, status: NodeStatus) -> tuple[int, str] | None:
        cluster = status.cluster
        leader = cluster.leader.name if cluster.leader is not None else None
        done = "switched over" if self.kind is Kind.SWITCHOVER else "failed over"
        if leader is not None and leader != self.before:
            if self.candidate is None or self.candidate == leader:
                return 200, f'Successfully {done} to "{leader}"'
            return 200, f'{done.capitalize()} to "{leader}" instead of "{self.candidate}"'
        if cluster.failover is not None:
            self.seen = True
        elif self.seen:
            return 503, f"{self.kind.value.capitalize()} failed"
        return None

    def unknown(self) -> tuple[int, str]:
        return 503, f"{self.kind.value.capitalize()} status unknown"


def outcome_wait_s(status: NodeStatus) -> float:
    """How long Patroni polls for the outcome: twice max(10 s, loop_wait)."""
    config = status.cluster.config
    loop_wait = config.loop_wait_s if config is not None else 10.0
    return 2 * max(10.0, loop_wait)
