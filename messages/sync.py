"""The sync key commands: SyncReplicationActor asks the leader-lock actor to write it.

Every write is a compare-and-set on the key the sender decided on
(`expected`), never on an opaque record version: the sender only ever sees
ClusterViews.  The leader-lock actor answers each command with
:class:`SyncStateWritten` to `reply_to`, so the sender knows when the write is
no longer in flight -- which is what lets it keep safety rule 3's order
between the DCS and postgresql.conf.
"""

from __future__ import annotations

import enum

from messages.base import ActorName, Message, message
from messages.cluster import SyncState


class WriteOutcome(enum.Enum):
    APPLIED = "applied"
    """The DCS now holds what was asked."""
    REJECTED = "rejected"
    """Not written: the key was no longer `expected` (a lost compare-and-set)."""
    UNKNOWN = "unknown"
    """The DCS did not answer in time: the write may or may not have landed."""


@message("sync.write_state")
class WriteSyncState(Message):
    """Write the sync key, only if it still holds `expected`."""

    request_id: int
    state: SyncState
    expected: SyncState
    reply_to: ActorName


@message("sync.delete_state")
class DeleteSyncState(Message):
    """Delete the sync key, only if it still holds `expected`."""

    request_id: int
    expected: SyncState
    reply_to: ActorName


@message("sync.state_written")
class SyncStateWritten(Message):
    """How a sync key command ended, and the key as the leader-lock actor saw it after."""

    request_id: int
    outcome: WriteOutcome
    current: SyncState
    """The cached key right after the call; the same snapshot is published as a DcsView."""
    detail: str = ""
