"""HaActor: gathers the views, calls decide(), sends the actions.

It is a shell around two pure pieces: the reducer in `state.py` (what the
node knows) and `decide()` (what to do about it).  It wakes on every event
that may change a decision, at least every loop_wait, and exactly when a
lease would expire by its own clock, so failover never waits for a loop.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from actors.ha import state as ha_state
from actors.ha.decide import decide
from actors.ha.facts import Facts
from actors.ha.routing import Targets, target_of
from actors.runtime.actor import BaseActor, handles
from actors.runtime.registry import Registry
from actors.runtime.timers import Scheduler, Timers
from messages.admin import AdminReply, CancelSwitchover, NodeStatus, SwitchoverRequest
from messages.base import ActorName, MemberName
from messages.cluster import FailoverRequest, MemberStatus
from messages.config import DynamicConfig, Tags
from messages.dcs import ClearFailover, DcsView, LockResult, SetFailover, TouchMember
from messages.ha import ActionDone, Decision, Reason
from messages.postgres import PostgresStatus
from messages.runtime import ChildExit, Resend, Tick


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """How this member presents itself to others."""

    member: MemberName
    scope: str
    conn_host: str
    conn_port: int
    api_url: str = ""
    tags: Tags = Tags()


class HaActor(BaseActor):
    def __init__(  # noqa: PLR0913 - dependencies, all keyword-only
        self,
        *,
        name: ActorName,
        registry: Registry,
        on_exit: Callable[[ChildExit], None] | None = None,
        identity: Identity,
        bootstrap_config: DynamicConfig,
        scheduler: Scheduler,
        targets: Targets | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name=name, registry=registry, on_exit=on_exit)
        self.identity = identity
        self.targets = targets or Targets()
        self.clock = clock
        self.wall = wall
        self.timers = Timers(scheduler, registry, name)
        self.state = ha_state.HaState(
            name=identity.member, tags=identity.tags, bootstrap_config=bootstrap_config
        )
        self.last_reason: Reason | None = None
        self.last_touch: tuple[float, MemberStatus] | None = None

    def started(self) -> None:
        """Actor thread: ask for the views that were sent before we existed."""
        self._arm_loop()
        for source in (self.targets.leader_lock, self.targets.postmaster):
            self.send(source, Resend())

    def stopping(self) -> None:
        self.timers.cancel_all()

    # -- events ---------------------------------------------------------------------

    @handles(PostgresStatus)
    def handle_pg(self, msg: PostgresStatus) -> None:
        self.state = ha_state.on_pg_status(self.state, msg)
        self._cycle()

    @handles(DcsView)
    def handle_view(self, msg: DcsView) -> None:
        loop_before = self.state.config.loop_wait_s
        self.state = ha_state.on_dcs_view(self.state, msg)
        if self.state.config.loop_wait_s != loop_before:
            self._arm_loop()
        self._cycle()

    @handles(LockResult)
    def handle_lock(self, msg: LockResult) -> None:
        self.state = ha_state.on_lock_result(self.state, msg)
        self._cycle()

    @handles(ActionDone)
    def handle_action(self, msg: ActionDone) -> None:
        level = self.log.info if msg.ok else self.log.warning
        level("%s %s %s", msg.kind.value, "done" if msg.ok else "failed:", msg.detail)
        self.state = ha_state.on_action_done(self.state, msg)
        self._cycle()

    @handles(Tick)
    def handle_tick(self, msg: Tick) -> None:
        self._cycle()

    # -- admin requests (asked by the API and console) ---------------------------------

    @handles(SwitchoverRequest)
    def handle_switchover(self, msg: SwitchoverRequest) -> AdminReply:
        view = self.state.view
        leader = view.leader.name if view.leader else None
        if msg.leader is not None and msg.leader != leader:
            return AdminReply(ok=False, detail=f"{msg.leader} is not the leader (leader: {leader})")
        if msg.candidate is not None and view.member(msg.candidate) is None:
            return AdminReply(ok=False, detail=f"{msg.candidate} is not a member")
        request = FailoverRequest(
            leader=msg.leader, candidate=msg.candidate, scheduled_at=msg.scheduled_at
        )
        self.send(self.targets.leader_lock, SetFailover(request=request))
        what = "scheduled" if msg.scheduled_at else "requested"
        return AdminReply(ok=True, detail=f"switchover {what}: {leader} -> {msg.candidate}")

    @handles(CancelSwitchover)
    def handle_cancel(self, msg: CancelSwitchover) -> AdminReply:
        if self.state.view.failover is None:
            return AdminReply(ok=False, detail="no switchover is scheduled")
        self.send(self.targets.leader_lock, ClearFailover())
        return AdminReply(ok=True, detail="switchover cancelled")

    # -- the decision cycle -----------------------------------------------------------------

    def _cycle(self) -> None:
        if not self.state.have_view:
            return
        now = self.clock()
        local = ha_state.local_view(self.state, self.wall())
        decision = decide(self.state.view, local, self.state.config, now)
        self._log_decision(decision)
        for action in decision.actions:
            self.send(target_of(action, self.targets), action)
        self.state = ha_state.after_decision(self.state, decision, now)
        self._arm_wake(decision, now)
        self._publish(decision, now)

    def _log_decision(self, decision: Decision) -> None:
        if decision.reason is not self.last_reason or decision.actions:
            acts = ", ".join(type(a).TAG for a in decision.actions) or "none"
            self.log.info(
                "decision: %s (goal %s; actions: %s)",
                decision.reason.value,
                decision.goal.value,
                acts,
            )
        self.last_reason = decision.reason

    def _arm_loop(self) -> None:
        self.timers.every("loop", self.state.config.loop_wait_s, Tick(timer="loop"))

    def _arm_wake(self, decision: Decision, now: float) -> None:
        if decision.wake_at is None:
            self.timers.cancel("wake")
            return
        # a small margin so the lease is past expiry by the observer's own test
        self.timers.once("wake", max(0.0, decision.wake_at - now) + 0.01, Tick(timer="wake"))

    def _publish(self, decision: Decision, now: float) -> None:
        member = self._member_status()
        if self._touch_due(member, now):
            self.send(self.targets.leader_lock, TouchMember(status=member))
            self.last_touch = (now, member)
        self.send(self.targets.api, self._node_status(decision, now))

    def _touch_due(self, member: MemberStatus, now: float) -> bool:
        if self.last_touch is None:
            return True
        at, last = self.last_touch
        same = dataclasses.replace(last, wal_position=member.wal_position) == member
        return not same or (
            now - at >= min(self.state.config.loop_wait_s, 1.0)
            and (
                last.wal_position != member.wal_position
                or now - at >= self.state.config.loop_wait_s
            )
        )

    def _member_status(self) -> MemberStatus:
        pg, ident = self.state.pg, self.identity
        return MemberStatus(
            name=ident.member,
            role=pg.role,
            state=pg.state,
            conn_host=ident.conn_host,
            conn_port=ident.conn_port,
            api_url=ident.api_url,
            timeline=pg.timeline,
            wal_position=pg.wal_position,
            following=self.state.following,
            tags=ident.tags,
            pending_restart=pg.pending_restart,
        )

    def _node_status(self, decision: Decision, now: float) -> NodeStatus:
        st, pg = self.state, self.state.pg
        facts = Facts(
            cluster=st.view, local=ha_state.local_view(st, 0.0), config=st.config, now=now
        )
        deadline = facts.lease_deadline
        return NodeStatus(
            name=st.name,
            scope=self.identity.scope,
            role=pg.role,
            state=pg.state,
            reason=decision.reason,
            timeline=pg.timeline,
            wal_position=pg.wal_position,
            replay_lsn=pg.replay_lsn,
            receive_lsn=pg.receive_lsn,
            is_leader=facts.holds_lock,
            following=st.following,
            action=st.action,
            paused=st.config.pause,
            pending_restart=pg.pending_restart,
            dcs_reachable=st.dcs_reachable,
            tags=st.tags,
            replication=pg.replication,
            replication_state="streaming" if pg.streaming_from else None,
            sync_standby=st.name in st.view.sync.sync_standbys,
            cluster=st.view,
            lease_remaining_s=None if deadline is None else deadline - now,
        )
