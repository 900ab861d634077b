"""Commands to the leader-lock actor (the DCS) and what it reports."""

from __future__ import annotations

import dataclasses
import enum

from messages.base import ActorName, Lsn, Message, message
from messages.cluster import ClusterView, FailoverRequest, HistoryEntry, MemberStatus
from messages.config import DynamicConfig


@message("dcs.acquire")
class AcquireLock(Message):
    """Take the leader lock if it is free or expired (compare-and-set).

    `ttl_s` and `retry_timeout_s` are the timings the HA core decided with:
    the record (and, in etcd, its lease) carries exactly this ttl, so the
    holder and every observer judge the lease by the same number (one source
    of truth for timing, whatever the config says by the time it lands).
    """

    optime: Lsn = Lsn(0)
    ttl_s: float = 30.0
    retry_timeout_s: float = 10.0


@message("dcs.renew")
class RenewLock(Message):
    """Renew the lock only while it still names us, publishing our WAL position."""

    optime: Lsn = Lsn(0)
    slots: dict[str, int] = dataclasses.field(default_factory=dict)
    ttl_s: float = 30.0
    """The ttl to write into the record (see AcquireLock)."""
    retry_timeout_s: float = 10.0


@message("dcs.release")
class ReleaseLock(Message):
    """Give the lock up (switchover, a clean stop, or a primary that failed to start).

    `optime` is kept in the DCS status record after the lock is gone: the
    position every successor is judged against.  `clean` says PostgreSQL was
    stopped cleanly first and `optime` is its final checkpoint: nothing
    failed, so no successor may be behind it (no maximum_lag allowance).
    """

    optime: Lsn | None = None
    clean: bool = False


@message("dcs.claim_init")
class ClaimInitialize(Message):
    """Race for the initialise key: the winner bootstraps the cluster."""


@message("dcs.set_init")
class SetInitialized(Message):
    system_identifier: str


@message("dcs.set_history")
class SetHistory(Message):
    """The leader publishes its timeline history: where each older timeline ended."""

    entries: tuple[HistoryEntry, ...]


@message("dcs.cancel_init")
class CancelInitialize(Message):
    pass


@message("dcs.set_config")
class SetBootstrapConfig(Message):
    """Write the cluster config only if none exists yet."""

    config: DynamicConfig


@message("dcs.set_failover")
class SetFailover(Message):
    """Store an operator's switchover or failover request; when `reply_to` is set, the
    outcome goes there as a :class:`FailoverResult` carrying `request_id`."""

    request: FailoverRequest
    request_id: str = ""
    reply_to: ActorName | None = None


@message("dcs.clear_failover")
class ClearFailover(Message):
    pass


@message("dcs.touch")
class TouchMember(Message):
    """Publish our member record; it lives ttl_s past the last touch (0: as before)."""

    status: MemberStatus
    ttl_s: float = 0.0
    retry_timeout_s: float = 0.0


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
    ttl_s: float = 0.0
    """Acquire/renew: the ttl the written record carries; the holder's lease is
    `started_at + ttl_s`, whatever the config says later.  Also set when the call
    failed: the ttl the record carries if an unanswered write landed after all
    (0: not a lock write)."""


@message("dcs.view")
class DcsView(Message):
    """The latest cluster snapshot, sent on every change and on every reachability change."""

    view: ClusterView
    reachable: bool = True
    detail: str = ""


@message("dcs.config")
class DcsConfig(Message):
    """The cluster's dynamic config, published when it changes (and after a Resend)."""

    config: DynamicConfig | None


@message("dcs.store_config")
class SetConfig(Message):
    """Replace the cluster config (an operator's edit), compare-and-set.

    The leader-lock actor writes with the version it holds for the record
    (``only_if_version`` from its versioned snapshot), and first checks that
    the stored config still equals `expected` when one is given: an edit
    computed from one config (a merge patch) is never applied over another.
    The outcome goes to `reply_to` as a :class:`ConfigResult` carrying
    `request_id`, since the asker (an HTTP request) waits for it.
    """

    config: DynamicConfig
    expected: DynamicConfig | None = None
    request_id: str = ""
    reply_to: ActorName | None = None


class ConfigOutcome(enum.Enum):
    STORED = "stored"
    CONFLICT = "conflict"
    """The stored config was not the one the edit was made against (a CAS lost)."""
    FAILED = "failed"
    """The store refused; nothing changed."""
    UNKNOWN = "unknown"
    """The store did not answer: the write may still land (etcd applies a request it
    had buffered when it comes back), so the asker must not be told it failed."""


@message("dcs.config_result")
class ConfigResult(Message):
    request_id: str
    outcome: ConfigOutcome
    config: DynamicConfig | None = None
    """What the store holds now, as far as the leader-lock actor knows."""
    detail: str = ""


@message("dcs.failover_result")
class FailoverResult(Message):
    request_id: str
    outcome: ConfigOutcome
    detail: str = ""
