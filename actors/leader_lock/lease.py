"""Lease expiry as an observer judges it (safety rule 2).

A lock is expired when its record has not changed for ``ttl_s`` seconds since
*this* node saw it change, measured on this node's monotonic clock.  Nothing
written by another host's wall clock is compared: clocks of different hosts may
disagree by any amount, but every host's monotonic clock advances at about the
same rate, which is all a lease needs.  Pure, no I/O.
"""

from __future__ import annotations

from messages.cluster import ClusterView, LeaderRecord


def lease_expired(view_or_record: ClusterView | LeaderRecord | None, now: float) -> bool:
    """True when the leader lock may be taken over at ``now`` (observer's clock).

    No leader record at all counts as expired: there is nothing to wait for.
    """
    record = view_or_record.leader if isinstance(view_or_record, ClusterView) else view_or_record
    if record is None:
        return True
    return now - record.observed_change_at >= record.ttl_s


def lease_remaining_s(record: LeaderRecord | None, now: float) -> float:
    """Seconds until the lock expires for this observer (0 when it already has)."""
    if record is None:
        return 0.0
    elapsed = max(0.0, now - record.observed_change_at)
    return max(0.0, record.ttl_s - elapsed)
