"""The registry names of a node's actors: one home for every name.

Actors address each other by name, never by a reference a restart made
stale (see registry.py); these are those names.  node/tree.py registers
each actor under its constant here, and every actor that sends to another
uses the constant, so a rename is one edit.
"""

from __future__ import annotations

from messages.base import ActorName

METRICS = ActorName("metrics")
WATCHDOG = ActorName("watchdog")
LEADER_LOCK = ActorName("leader_lock")
POSTMASTER = ActorName("postmaster")
BOOTSTRAP = ActorName("bootstrap")
SYNC_REPLICATION = ActorName("sync_replication")
HA = ActorName("ha")
GOSSIP = ActorName("gossip")
CONSOLE = ActorName("console")
API = ActorName("api")
