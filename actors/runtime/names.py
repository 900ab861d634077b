"""The registry names of a node's actors: one home for every name.

Actors address each other by name, never by a reference a restart made
stale (see registry.py); these are those names.  node/tree.py registers
each actor under its constant here, and every actor that sends to another
uses the constant, so a rename is one edit.
"""

from __future__ import annotations

from typing import NewType

from messages.base import ActorName

Topic = NewType("Topic", str)
"""A kind of news several actors hear: its publisher does not know who listens."""

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

DCS_VIEW = Topic("dcs_view")
"""DcsView, from the leader-lock actor: every change of the cluster and of reachability."""
DCS_CONFIG = Topic("dcs_config")
"""DcsConfig, from the leader-lock actor: the cluster's dynamic config, when it changes."""
PG_STATUS = Topic("pg_status")
"""PostgresStatus, from the postmaster actor: every change of the server's state."""
NODE_STATUS = Topic("node_status")
"""NodeStatus, from the HA actor: this node as the HA core sees it, after each decision."""
