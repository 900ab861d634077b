"""One node's SyncReplicationActor: the real pure tracker and rules, as the actor runs them.

The actor is a shell around `tracker` (what is in flight) and `rules.plan`
(the next step, safety rule 3); this model is the same shell: every
PostgresStatus and DcsView the HA actor forwards, and every SyncStateWritten
the leader-lock actor answers, goes to the tracker, and the step it returns
is sent -- synchronous_standby_names to the postmaster, the sync key to the
leader-lock actor.  The actor restarts only with its agent (every actor of
the process at once), so the tracker's "lost step" case is the agent's death.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.runtime import names
from actors.sync_replication import tracker
from actors.sync_replication.actor import RESEND_AFTER_S
from messages.base import MemberName
from messages.dcs import DcsView
from messages.postgres import PostgresStatus
from messages.sync import SyncStateWritten

if TYPE_CHECKING:
    from .node import Node


class SyncActor:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.state = tracker.Tracker(member=MemberName(node.name), reply_to=names.SYNC_REPLICATION)

    def handle(self, msg: Any) -> None:
        if isinstance(msg, PostgresStatus):
            self.state = tracker.on_pg(self.state, msg)
        elif isinstance(msg, DcsView):
            self.state = tracker.on_view(self.state, msg)
        elif isinstance(msg, SyncStateWritten):
            self.state = tracker.on_written(self.state, msg)
        else:
            return
        now = self.node.clock.now()
        self.state, step = tracker.next_step(self.state, now, RESEND_AFTER_S)
        for target, out in step.sends:
            if target is tracker.Target.POSTMASTER:
                self.node.route(names.POSTMASTER, out)
            else:
                self.node.route(names.LEADER_LOCK, out)
