"""HaActor: the shell around the HA cycle (cycle.py).

Every message it receives goes to the pure `step()`; it sends what the
outbox says, logs the decision, answers the asker, and sets one timer for
the next time the cycle must run if nothing happens first (a lease deadline,
the next loop).  No HA rule lives here: the simulator drives the same step.
"""

from __future__ import annotations

from typing import Unpack

from actors.ha import cycle, requests
from actors.ha.publish import Identity
from actors.ha.state import HaState
from actors.runtime import names
from actors.runtime.actor import ActorArgs, BaseActor, handles
from messages.base import Message
from messages.config import DynamicConfig
from messages.dcs import DcsView, LockResult
from messages.gossip import (
    FailsafeHeartbeat,
    FailsafeStatus,
    PeerDown,
    PeerStatus,
    PeerSuspect,
    PeerUp,
)
from messages.ha import ActionDone, Decision
from messages.postgres import PostgresStatus, PrimaryProbed, WatchdogStatus
from messages.runtime import Resend, Tick

__all__ = ["HaActor", "Identity"]

_WAKE = Tick(timer="wake")


class HaActor(BaseActor):
    def __init__(
        self,
        *,
        identity: Identity,
        bootstrap_config: DynamicConfig,
        watchdog_margin_s: float | None = None,
        watchdog_required: bool = False,
        **base: Unpack[ActorArgs],
    ) -> None:
        super().__init__(**base)
        self.timers = self.runtime.timers(self.name)
        fence = (
            None if watchdog_margin_s is None else cycle.Fence(safety_margin_s=watchdog_margin_s)
        )
        self.node = cycle.new_node(
            identity, bootstrap_config, fence=fence, watchdog_required=watchdog_required
        )
        self.wake_at: float | None = None

    @property
    def state(self) -> HaState:
        """The HA state (for tests and the thread dump)."""
        return self.node.ha

    def started(self) -> None:
        """Actor thread: ask for the views that were sent before we existed."""
        for source in (names.LEADER_LOCK, names.POSTMASTER):
            self.send(source, Resend())
        self._feed(Tick(timer="start"))

    def stopping(self) -> None:
        self.timers.cancel_all()

    @handles(
        PostgresStatus,
        DcsView,
        LockResult,
        ActionDone,
        Tick,
        FailsafeStatus,
        FailsafeHeartbeat,
        WatchdogStatus,
        PrimaryProbed,
    )
    def handle_event(self, msg: Message) -> None:
        self._feed(msg)

    @handles(PeerUp, PeerSuspect, PeerDown, PeerStatus)
    def handle_peer(self, msg: Message) -> None:
        """Peer liveness from gossip: logged by the gossip actor; no HA rule reads it yet."""

    @handles(*requests.REQUESTS)
    def handle_request(self, msg: Message) -> Message | None:
        """Asked by the API and the console: the reply goes back to the asker."""
        return self._feed(msg)

    def _feed(self, event: Message) -> Message | None:
        self.node, out = cycle.step(self.node, event, self.runtime.clock(), self.runtime.wall())
        for note in out.notes:
            self.log.info("%s", note)
        if out.decision is not None:
            self._log_decision(out.decision)
        for to, msg in out.sends:
            self.send(to, msg)
        for topic, msg in out.publishes:
            self.publish(topic, msg)
        self._arm(out.wake_at)
        return out.reply

    def _arm(self, wake_at: float | None) -> None:
        if wake_at == self.wake_at:
            return
        self.wake_at = wake_at
        if wake_at is None:
            self.timers.cancel("wake")
            return
        self.timers.once("wake", max(0.0, wake_at - self.runtime.clock()), _WAKE)

    def _log_decision(self, decision: Decision) -> None:
        acts = ", ".join(type(a).TAG for a in decision.actions) or "none"
        detail = f" [{decision.detail}]" if decision.detail else ""
        self.log.info(
            "decision: %s%s (goal %s; actions: %s)",
            decision.reason.value,
            detail,
            decision.goal.value,
            acts,
        )
