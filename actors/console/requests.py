"""What a console request asks for: an answer at once, or a request to the HA actor. Pure.

Reads (list, topology, history, show-config, version) are answered from the
latest NodeStatus the HA actor pushed.  Everything else becomes a message for
the HA actor, which checks it again against its fresher view: a switchover, a
restart / reload / reinitialisation of *this* member, or a config write
(edit-config, and pause / resume, which are config writes of ``pause``).
Member-scoped actions name their member; another node's console refuses them
rather than act on the wrong server.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from messages.admin import (
    NodeStatus,
    ReinitializeRequest,
    ReloadRequest,
    RestartRequest,
    SwitchoverRequest,
)
from messages.cluster import Role
from messages.config import DynamicConfig
from messages.console import AdminAction, AdminRequest, AdminResponse
from messages.dcs import SetConfig

MAX_REQUEST_ID_CHARS = 128
HaRequest = SwitchoverRequest | RestartRequest | ReloadRequest | ReinitializeRequest | SetConfig
ROLES = {"primary": Role.PRIMARY, "leader": Role.PRIMARY, "replica": Role.REPLICA}


def plan(
    request: AdminRequest, status: NodeStatus | None, version: str
) -> AdminResponse | HaRequest:
    """The response to send now, or the request to ask the HA actor."""
    refusal = _refusal(request)
    if refusal is not None:
        return _no(request, refusal)
    if request.action is AdminAction.VERSION:
        return _yes(request, f"pgactor {version}", status)
    if request.action in (AdminAction.SWITCHOVER, AdminAction.FAILOVER):
        return _switchover(request, status)
    if status is None:
        return _no(request, "this node has no status yet (the HA loop has not run)")
    return _ON_STATUS.get(request.action, _read)(request, status)


def _refusal(request: AdminRequest) -> str | None:
    if not request.request_id or len(request.request_id) > MAX_REQUEST_ID_CHARS:
        return f"request_id must be 1 to {MAX_REQUEST_ID_CHARS} characters"
    if request.action is AdminAction.WATCH:
        return "watch is answered by the console actor itself"
    return None


def _read(request: AdminRequest, status: NodeStatus) -> AdminResponse:
    data: NodeStatus | DynamicConfig | None = status
    if request.action is AdminAction.SHOW_CONFIG:
        data = status.cluster.config
        if data is None:
            return _no(request, "the cluster has no configuration yet")
    return AdminResponse(request_id=request.request_id, ok=True, member=status.name, data=data)


def _switchover(request: AdminRequest, status: NodeStatus | None) -> AdminResponse | HaRequest:
    leader = status.cluster.leader.name if status and status.cluster.leader else None
    if request.action is AdminAction.FAILOVER:
        if request.candidate is None:
            return _no(request, "failover needs a candidate")
        if request.scheduled_at is not None:
            return _no(request, "a failover cannot be scheduled")
        return SwitchoverRequest(leader=None, candidate=request.candidate)
    named = request.leader or leader
    if named is None:
        return _no(request, "there is no leader to switch over from; use failover")
    if request.candidate is not None and request.candidate == named:
        return _no(request, f"candidate {request.candidate} is already the leader")
    return SwitchoverRequest(
        leader=named, candidate=request.candidate, scheduled_at=request.scheduled_at
    )


def _here(request: AdminRequest, status: NodeStatus) -> AdminResponse | HaRequest:
    """An action on this member's PostgreSQL, if the request is for this member."""
    if request.member is not None and request.member != status.name:
        return _no(request, f"this is {status.name}'s console; ask {request.member}'s")
    if request.action is AdminAction.RELOAD:
        return ReloadRequest()
    if request.action is AdminAction.REINIT:
        return ReinitializeRequest(force=request.force)
    if request.role is not None and request.role not in (*ROLES, "any"):
        return _no(request, f"role must be primary, replica or any, not {request.role!r}")
    role = ROLES.get(request.role or "any")
    return RestartRequest(role=role, restart_pending=request.pending)


def _config_write(request: AdminRequest, status: NodeStatus) -> AdminResponse | HaRequest:
    """A compare-and-set of the cluster config; the actor fills in whom to answer."""
    current = status.cluster.config
    if request.action is AdminAction.EDIT_CONFIG:
        if request.config is None:
            return _no(request, "edit-config needs the new config")
        return SetConfig(config=request.config, expected=request.expected_config)
    if current is None:
        return _no(request, "the cluster has no configuration yet")
    pause = request.action is AdminAction.PAUSE
    if current.pause == pause:
        return _no(request, "the cluster is already " + ("paused" if pause else "not paused"))
    return SetConfig(config=dataclasses.replace(current, pause=pause), expected=current)


def _yes(request: AdminRequest, detail: str, status: NodeStatus | None) -> AdminResponse:
    return AdminResponse(
        request_id=request.request_id,
        ok=True,
        detail=detail,
        member=status.name if status else None,
    )


def _no(request: AdminRequest, detail: str) -> AdminResponse:
    return AdminResponse(
        request_id=request.request_id[:MAX_REQUEST_ID_CHARS], ok=False, detail=detail
    )


_ON_STATUS: dict[AdminAction, Callable[[AdminRequest, NodeStatus], AdminResponse | HaRequest]] = {
    AdminAction.RESTART: _here,
    AdminAction.REINIT: _here,
    AdminAction.RELOAD: _here,
    AdminAction.EDIT_CONFIG: _config_write,
    AdminAction.PAUSE: _config_write,
    AdminAction.RESUME: _config_write,
}
"""Actions on this member or the cluster config; any other action is a read."""
