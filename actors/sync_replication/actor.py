"""SyncReplicationActor: keeps synchronous_standby_names and the DCS sync key in order.

A shell around two pure pieces: :func:`rules.plan` (the next step) and the
:mod:`tracker` (what is in flight, and when a view may be believed).  It
hears every PostgresStatus and DcsView (it subscribes to both) and the
leader-lock actor's answers to its sync key writes; after each it asks the
tracker for the next step and sends it: SetSynchronousStandbyNames to the
postmaster, WriteSyncState / DeleteSyncState to the leader-lock actor.

A step goes to the actor instance registered at the time; if that instance
is gone by the next event (a restart), its mailbox went with it, so the step
is known not to be in flight any more.
"""

from __future__ import annotations

from typing import Any, Unpack

from actors.runtime.actor import ActorArgs, BaseActor, handles
from actors.sync_replication import tracker
from actors.sync_replication.rules import StepKind, SyncPlan
from messages.base import ActorName, MemberName, Message
from messages.codec import encode
from messages.dcs import DcsView
from messages.postgres import PostgresStatus
from messages.runtime import Resend
from messages.sync import SyncStateWritten, WriteOutcome

RESEND_AFTER_S = 10.0
"""A names step not seen applied after this long is sent again (it is idempotent)."""


class SyncReplicationActor(BaseActor):
    def __init__(
        self,
        *,
        member: MemberName,
        postmaster: ActorName = ActorName("postmaster"),
        leader_lock: ActorName = ActorName("leader_lock"),
        resend_after_s: float = RESEND_AFTER_S,
        **base: Unpack[ActorArgs],
    ) -> None:
        super().__init__(**base)
        self.targets = {
            tracker.Target.POSTMASTER: postmaster,
            tracker.Target.LEADER_LOCK: leader_lock,
        }
        self.resend_after_s = resend_after_s
        self.state = tracker.Tracker(member=member, reply_to=self.name)
        self.sent_to: dict[tracker.Target, Any] = {}
        self.last_logged: tuple[StepKind, object] | None = None

    def started(self) -> None:
        """Actor thread: ask for the latest status and view (published to us again)."""
        for target in self.targets.values():
            self.send(target, Resend())

    # -- events ---------------------------------------------------------------------------

    @handles(PostgresStatus)
    def handle_pg(self, msg: PostgresStatus) -> None:
        self.state = tracker.on_pg(self.state, msg)
        self._step()

    @handles(DcsView)
    def handle_view(self, msg: DcsView) -> None:
        self.state = tracker.on_view(self.state, msg)
        self._step()

    @handles(SyncStateWritten)
    def handle_written(self, msg: SyncStateWritten) -> None:
        if msg.outcome is not WriteOutcome.APPLIED:
            self.log.warning("sync key write %s %s", msg.outcome.value, msg.detail)
        self.state = tracker.on_written(self.state, msg)
        self._step()

    # -- the step -------------------------------------------------------------------------

    def _step(self) -> None:
        self._forget_lost()
        self.state, step = tracker.next_step(self.state, self.runtime.clock(), self.resend_after_s)
        self._log(step)
        for target, msg in step.sends:
            if not self._deliver(target, msg):
                self.state = tracker.on_lost(self.state, target)

    def _forget_lost(self) -> None:
        """A step sent to an instance that is no longer registered cannot land any more."""
        for target, ref in list(self.sent_to.items()):
            alive = bool(ref.is_alive())
            if not alive or self.registry.get(self.targets[target]) is not ref:
                del self.sent_to[target]
                self.state = tracker.on_lost(self.state, target)

    def _deliver(self, target: tracker.Target, msg: Message) -> bool:
        # Not registry.tell: we must know which instance got it (see the module docstring).
        name = self.targets[target]
        ref = self.registry.get(name)
        if ref is None or not ref.is_alive():
            self.log.warning("cannot send %s: %s is not running", type(msg).TAG, name)
            return False
        try:
            ref.tell(encode(msg))
        except Exception:  # pykka's ActorDeadError: it died since the check
            self.log.warning("cannot send %s: %s died", type(msg).TAG, name)
            return False
        self.sent_to[target] = ref
        return True

    def _log(self, step: tracker.Step) -> None:
        if step.plan is None:
            self.log.debug("waiting: %s", step.waiting)
            return
        seen = (step.plan.kind, step.plan.reason)
        if step.sends or seen != self.last_logged:
            self.log.info("%s (%s)%s", step.plan.reason.value, _what(step.plan), _why(step))
        self.last_logged = seen


def _what(p: SyncPlan) -> str:
    if p.kind is StepKind.SET_NAMES:
        return f"synchronous_standby_names = {p.names!r}"
    if p.state is not None:
        standbys = ", ".join(sorted(p.state.sync_standbys)) or "none"
        return f"sync key: leader {p.state.leader}, standbys {standbys}, quorum {p.state.quorum}"
    return str(p.kind.value)


def _why(step: tracker.Step) -> str:
    return f"; {step.waiting}" if step.waiting else ""
