"""Synchronous replication: synchronous_standby_names and the DCS sync key, in order.

`rules` holds the pure rule (safety rule 3), `names` the parser and formatter
of synchronous_standby_names, `tracker` what is in flight between actors, and
`actor` the SyncReplicationActor shell around them.
"""

from actors.sync_replication.actor import SyncReplicationActor
from actors.sync_replication.names import StandbyNames, format_names, parse
from actors.sync_replication.rules import StepKind, SyncPlan, SyncReason, plan

__all__ = [
    "StandbyNames",
    "StepKind",
    "SyncPlan",
    "SyncReason",
    "SyncReplicationActor",
    "format_names",
    "parse",
    "plan",
]
