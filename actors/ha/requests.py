"""Operators' requests to the HA core (from the API and the console), as pure rules.

Each request is judged against the node's state and becomes a Change: the
reply the asker waits for, the messages to send, and, for an action on
PostgreSQL, the decision to book it under (so the cycle treats it as one of
its own: one action at a time).  Nothing here sends or waits.
"""

from __future__ import annotations

import dataclasses

from actors.ha.facts import upstream_of
from actors.ha.routing import target_of
from actors.ha.state import HaState
from actors.runtime import names
from messages.admin import (
    AdminReply,
    CancelSwitchover,
    ReinitializeRequest,
    ReloadRequest,
    RestartRequest,
    SwitchoverRequest,
)
from messages.base import ActorName, Message
from messages.cluster import FailoverRequest, PgState, Role
from messages.config import StopMode
from messages.dcs import ClearFailover, SetConfig, SetFailover
from messages.ha import Decision, PostgresAction, Reason
from messages.postgres import (
    Reinitialize,
    ReloadPostgres,
    RestartPostgres,
    StopPostgres,
    Upstream,
)

__all__ = ["REQUESTS", "Change", "Upstream", "handle", "reinitialize_after_stop"]

REQUESTS = (
    SwitchoverRequest,
    CancelSwitchover,
    SetConfig,
    RestartRequest,
    ReloadRequest,
    ReinitializeRequest,
)
Request = (
    SwitchoverRequest
    | CancelSwitchover
    | SetConfig
    | RestartRequest
    | ReloadRequest
    | ReinitializeRequest
)
_DOWN = (PgState.STOPPED, PgState.CRASHED, PgState.START_FAILED, PgState.UNINITIALIZED)


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    reply: AdminReply | None = None
    sends: tuple[tuple[ActorName, Message], ...] = ()
    booked: Decision | None = None
    """An operator's PostgreSQL action, booked in progress as decide()'s own are."""
    reinit_from: Upstream | None = None
    """A reinitialisation waits for PostgreSQL to stop, then clones from here."""
    note: str = ""


def _refuse(detail: str) -> Change:
    return Change(reply=AdminReply(ok=False, detail=detail))


def _action(ha: HaState, action: PostgresAction, detail: str) -> Change:
    booked = Decision(goal=ha.pg.role, reason=Reason.ACTION_IN_PROGRESS, actions=(action,))
    reply = AdminReply(ok=True, detail=detail)
    return Change(reply=reply, sends=((target_of(action), action),), booked=booked)


def handle(ha: HaState, request: Request) -> Change:
    """Judge one request (a scheduled switchover's time is the leader's to judge)."""
    if isinstance(request, SwitchoverRequest):
        return _switchover(ha, request)
    if isinstance(request, RestartRequest):
        return _restart(ha, request)
    if isinstance(request, SetConfig):
        return _set_config(ha, request)
    if isinstance(request, ReinitializeRequest):
        return _reinitialize(ha)
    if isinstance(request, CancelSwitchover):
        return _cancel(ha)
    return _reload(ha)


def _cancel(ha: HaState) -> Change:
    if ha.view.failover is None:
        return _refuse("no switchover is scheduled")
    return Change(AdminReply(ok=True, detail="switchover cancelled"), _lock(ClearFailover()))


def _reload(ha: HaState) -> Change:
    if ha.pg.state is not PgState.RUNNING:
        return _refuse("PostgreSQL is not running")
    reload = ((names.POSTMASTER, ReloadPostgres()),)
    return Change(AdminReply(ok=True, detail="reload scheduled"), reload)


def _set_config(ha: HaState, request: SetConfig) -> Change:
    """An operator's config edit goes to the DCS; its outcome to `request.reply_to`."""
    if not ha.dcs_reachable:
        return _refuse("the DCS is not reachable")
    reply = AdminReply(ok=True, detail="config change sent")
    return Change(reply, _lock(request), note="config change requested")


def _lock(msg: Message) -> tuple[tuple[ActorName, Message], ...]:
    return ((names.LEADER_LOCK, msg),)


def _switchover(ha: HaState, msg: SwitchoverRequest) -> Change:
    view = ha.view
    leader = view.leader.name if view.leader else None
    if ha.config.pause and msg.scheduled_at is not None:  # it would fire on resume
        return _refuse("Can't schedule switchover in the paused state")
    if ha.config.pause and msg.candidate is None:
        return _refuse("Switchover is possible only to a specific candidate in a paused state")
    if msg.leader is not None and msg.leader != leader:
        return _refuse(f"{msg.leader} is not the leader (leader: {leader})")
    if msg.candidate is not None and view.member(msg.candidate) is None:
        return _refuse(f"{msg.candidate} is not a member")
    request = FailoverRequest(
        leader=msg.leader, candidate=msg.candidate, scheduled_at=msg.scheduled_at
    )
    what = "scheduled" if msg.scheduled_at else "requested"
    reply = AdminReply(ok=True, detail=f"switchover {what}: {leader} -> {msg.candidate}")
    write = SetFailover(request=request, request_id=msg.request_id, reply_to=msg.reply_to)
    return Change(reply, _lock(write))


def _restart(ha: HaState, msg: RestartRequest) -> Change:
    pg, action = ha.pg, ha.action
    if action is not None:
        return _refuse(f"an action is in progress ({action.value})")
    if pg.state is not PgState.RUNNING:
        return _refuse("PostgreSQL is not running")
    if msg.role is not None and msg.role is not pg.role:
        return _refuse(f"restart conditions are not satisfied: the role is {pg.role.value}")
    if msg.restart_pending and not pg.pending_restart:
        return _refuse("restart conditions are not satisfied: no restart is pending")
    restart = (
        RestartPostgres() if msg.timeout_s is None else RestartPostgres(timeout_s=msg.timeout_s)
    )
    return _action(ha, restart, "restart started")


def _reinitialize(ha: HaState) -> Change:
    """Stop PostgreSQL if it runs, then (when the stop is done) clone again from the leader."""
    source = _reinitialize_source(ha)
    if isinstance(source, str):
        return _refuse(source)
    if ha.pg.state in _DOWN:
        return reinitialize_after_stop(ha, source, stopped=True, reply=True)
    change = _action(ha, StopPostgres(mode=StopMode.FAST), "reinitialize started")
    return dataclasses.replace(change, reinit_from=source)


def _reinitialize_source(ha: HaState) -> Upstream | str:
    """The leader to clone from, or why this member may not be reinitialised now."""
    leader = ha.view.leader
    if ha.action is not None:
        return f"an action is in progress ({ha.action.value}), can not reinitialize"
    if leader is None:
        return "Cluster has no leader, can not reinitialize"
    if leader.name == ha.name or ha.pg.role is Role.PRIMARY:
        return "I am the leader, can not reinitialize"
    member = ha.view.member(leader.name)
    if member is None or not member.conn_host:
        return f"the leader {leader.name} publishes no address to clone from"
    return upstream_of(member)


def reinitialize_after_stop(
    ha: HaState, source: Upstream, *, stopped: bool, reply: bool = False
) -> Change:
    """PostgreSQL is down: clone from `source` (or give up if the stop failed)."""
    if not stopped:
        return Change(note="reinitialize abandoned: PostgreSQL did not stop")
    change = _action(ha, Reinitialize(sources=(source,)), "reinitialize started")
    change = dataclasses.replace(change, note=f"reinitializing from {source.name}")
    return change if reply else dataclasses.replace(change, reply=None)


def switchover_due(ha: HaState, wall: float) -> bool:
    request = ha.view.failover
    return request is not None and (request.scheduled_at is None or request.scheduled_at <= wall)
