"""Commands to the leader-lock actor (the DCS) and what it reports."""

from __future__ import annotations

import dataclasses
import enum

from messages.base import Lsn, Message, message
from messages.cluster import ClusterView, FailoverRequest, MemberStatus
from messages.config import DynamicConfig


@message("dcs.acquire")
class AcquireLock(Message):
    """Take the leader lock if it is free or expired (compare-and-set)."""

    optime: Lsn = Lsn(0)


@message("dcs.renew")
class RenewLock(Message):
    """Renew the lock only while it still names us, publishing our WAL position."""

    optime: Lsn = Lsn(0)
    slots: dict[str, int] = dataclasses.field(default_factory=dict)


@message("dcs.release")
class ReleaseLock(Message):
    """Give the lock up (switchover, or a primary that failed to start)."""

    optime: Lsn | None = None


@message("dcs.claim_init")
class ClaimInitialize(Message):
    """Race for the initialise key: the winner bootstraps the cluster."""


@message("dcs.set_init")
class SetInitialized(Message):
    system_identifier: str


@message("dcs.cancel_init")
class CancelInitialize(Message):
    pass


@message("dcs.set_config")
class SetBootstrapConfig(Message):
    """Write the cluster config only if none exists yet."""

    config: DynamicConfig


@message("dcs.set_failover")
class SetFailover(Message):
    request: FailoverRequest


@message("dcs.clear_failover")
class ClearFailover(Message):
    pass


@message("dcs.touch")
class TouchMember(Message):
    status: MemberStatus


class LockOp(enum.Enum):
    ACQUIRE = "acquire"
    RENEW = "renew"
    RELEASE = "release"
    CLAIM_INIT = "claim_init"
    CANCEL_INIT = "cancel_init"


@message("dcs.lock_result")
class LockResult(Message):
    """How a lock operation ended; `started_at` is when its request began (monotonic)."""

    op: LockOp
    ok: bool
    started_at: float
    detail: str = ""


@message("dcs.view")
class DcsView(Message):
    """The latest cluster snapshot, sent on every change and on every reachability change."""

    view: ClusterView
    reachable: bool = True
    detail: str = ""
