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
from actors.ha.facts import Facts, upstream_of
from actors.ha.routing import Targets, target_of
from actors.ha.watchdog import WatchdogCommand, watchdog_command
from actors.runtime.actor import BaseActor, handles
from actors.runtime.registry import Registry
from actors.runtime.timers import Scheduler, Timers
from messages.admin import (
    AdminReply,
    CancelSwitchover,
    NodeStatus,
    ReinitializeRequest,
    ReloadRequest,
    RestartRequest,
    SwitchoverRequest,
)
from messages.base import ActorName, MemberName
from messages.cluster import FailoverRequest, MemberStatus, PgState, Role
from messages.config import DynamicConfig, StopMode, Tags
from messages.dcs import ClearFailover, DcsView, LockResult, SetConfig, SetFailover, TouchMember
from messages.gossip import FailsafeStatus, PeerDown, PeerStatus, PeerSuspect, PeerUp
from messages.ha import ActionDone, ActionKind, Decision, PostgresAction, Reason
from messages.postgres import (
    PostgresStatus,
    Reinitialize,
    ReloadPostgres,
    RestartPostgres,
    StopPostgres,
    Upstream,
)
from messages.runtime import ChildExit, Resend, Tick

_DOWN = (PgState.STOPPED, PgState.CRASHED, PgState.START_FAILED, PgState.UNINITIALIZED)


# At most how often our status is refreshed while a switchover is pending (see
# _refresh_during_switchover); the postmaster actor's own interval is 5 s.
SWITCHOVER_REFRESH_S = 0.1
_DATA_DIR_ACTIONS = frozenset(
    {ActionKind.BOOTSTRAP, ActionKind.CREATE_REPLICA, ActionKind.REWIND, ActionKind.REINITIALIZE}
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """How this member presents itself to others."""

    member: MemberName
    scope: str
    conn_host: str
    conn_port: int
    api_url: str = ""
    tags: Tags = Tags()
    gossip_url: str = ""


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
        metrics_actor: ActorName = ActorName("metrics"),
        watchdog_margin_s: float | None = None,
    ) -> None:
        super().__init__(name=name, registry=registry, on_exit=on_exit)
        self.identity = identity
        self.metrics_actor = metrics_actor
        self.reinit_from: Upstream | None = None
        """Set while an operator's reinitialisation waits for PostgreSQL to stop."""
        self.pg_known = False
        """Whether the postmaster actor has reported since we started (see _cycle)."""
        self.targets = targets or Targets()
        self.clock = clock
        self.wall = wall
        self.timers = Timers(scheduler, registry, name)
        self.state = ha_state.HaState(
            name=identity.member, tags=identity.tags, bootstrap_config=bootstrap_config
        )
        self.last_reason: Reason | None = None
        self.last_touch: tuple[float, MemberStatus] | None = None
        self.failsafe_confirmed = False
        """The gossip actor's latest FailsafeStatus (decide() uses it only when the DCS is down)."""
        self.refreshed_at = float("-inf")
        self.watchdog_margin_s = watchdog_margin_s
        """None: no fence runs on this node."""
        self.last_watchdog: WatchdogCommand | None = None

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
        self.pg_known = True
        self.send(ActorName("sync_replication"), msg)
        self._cycle()

    @handles(DcsView)
    def handle_view(self, msg: DcsView) -> None:
        loop_before = self.state.config.loop_wait_s
        self.state = ha_state.on_dcs_view(self.state, msg, self.clock())
        self._refresh_during_switchover()
        self.send(ActorName("sync_replication"), msg)
        self.send(ActorName("gossip"), msg)
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
        self.state = ha_state.on_action_done(self.state, msg, self.clock())
        if msg.kind in _DATA_DIR_ACTIONS:
            # The data directory changed under the postmaster actor's last report: decide
            # again only on a fresh one, or the old "empty" starts the same job twice.
            self.pg_known = False
            self.send(self.targets.postmaster, Resend())
        if self.reinit_from is not None and msg.kind is ActionKind.STOP:
            self._reinitialize_after_stop(stopped=msg.ok)
        self._cycle()

    @handles(Tick)
    def handle_tick(self, msg: Tick) -> None:
        self._refresh_during_switchover()
        self._cycle()

    @handles(FailsafeStatus)
    def handle_failsafe(self, msg: FailsafeStatus) -> None:
        changed = msg.confirmed != self.failsafe_confirmed
        self.failsafe_confirmed = msg.confirmed
        if changed:
            self._cycle()

    @handles(PeerUp, PeerSuspect, PeerDown, PeerStatus)
    def handle_peer(self, msg: PeerUp | PeerSuspect | PeerDown | PeerStatus) -> None:
        """Peer liveness from gossip: logged by the gossip actor; no HA rule reads it yet."""

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

    @handles(SetConfig)
    def handle_set_config(self, msg: SetConfig) -> AdminReply:
        """Pass an operator's config edit to the DCS; its outcome goes to `msg.reply_to`."""
        if not self.state.dcs_reachable:
            return AdminReply(ok=False, detail="the DCS is not reachable")
        self.log.info("config change requested")
        self.send(self.targets.leader_lock, msg)
        return AdminReply(ok=True, detail="config change sent")

    @handles(RestartRequest)
    def handle_restart(self, msg: RestartRequest) -> AdminReply:
        refusal = self._restart_refusal(msg)
        if refusal is not None:
            return AdminReply(ok=False, detail=refusal)
        restart = (
            RestartPostgres() if msg.timeout_s is None else RestartPostgres(timeout_s=msg.timeout_s)
        )
        self._start_action(restart)
        return AdminReply(ok=True, detail="restart started")

    def _restart_refusal(self, msg: RestartRequest) -> str | None:
        pg, action = self.state.pg, self.state.action
        if action is not None:
            return f"an action is in progress ({action.value})"
        if pg.state is not PgState.RUNNING:
            return "PostgreSQL is not running"
        if msg.role is not None and msg.role is not pg.role:
            return f"restart conditions are not satisfied: the role is {pg.role.value}"
        if msg.restart_pending and not pg.pending_restart:
            return "restart conditions are not satisfied: no restart is pending"
        return None

    @handles(ReloadRequest)
    def handle_reload(self, msg: ReloadRequest) -> AdminReply:
        if self.state.pg.state is not PgState.RUNNING:
            return AdminReply(ok=False, detail="PostgreSQL is not running")
        self.send(self.targets.postmaster, ReloadPostgres())
        return AdminReply(ok=True, detail="reload scheduled")

    @handles(ReinitializeRequest)
    def handle_reinitialize(self, msg: ReinitializeRequest) -> AdminReply:
        """Stop PostgreSQL if it runs, then (on ActionDone) clone again from the leader."""
        source = self._reinitialize_source()
        if isinstance(source, str):
            return AdminReply(ok=False, detail=source)
        self.reinit_from = source
        if self.state.pg.state in _DOWN:
            self._reinitialize_after_stop(stopped=True)
        else:
            self._start_action(StopPostgres(mode=StopMode.FAST))
        return AdminReply(ok=True, detail="reinitialize started")

    def _reinitialize_source(self) -> Upstream | str:
        """The leader to clone from, or why this member may not be reinitialised now."""
        st, leader = self.state, self.state.view.leader
        if st.action is not None:
            return f"an action is in progress ({st.action.value}), can not reinitialize"
        if leader is None:
            return "Cluster has no leader, can not reinitialize"
        if leader.name == st.name or st.pg.role is Role.PRIMARY:
            return "I am the leader, can not reinitialize"
        member = st.view.member(leader.name)
        if member is None or not member.conn_host:
            return f"the leader {leader.name} publishes no address to clone from"
        return upstream_of(member)

    def _reinitialize_after_stop(self, *, stopped: bool) -> None:
        source, self.reinit_from = self.reinit_from, None
        if source is None:
            return
        if not stopped:
            self.log.warning("reinitialize abandoned: PostgreSQL did not stop")
            return
        self.log.info("reinitializing from %s", source.name)
        self._start_action(Reinitialize(sources=(source,)))

    def _start_action(self, action: PostgresAction) -> None:
        """Send an operator's action and book it in progress, as decide()'s own are booked."""
        booked = Decision(
            goal=self.state.pg.role, reason=Reason.ACTION_IN_PROGRESS, actions=(action,)
        )
        self.send(target_of(action, self.targets), action)
        self.state = ha_state.after_decision(self.state, booked, self.clock())

    def _refresh_during_switchover(self) -> None:
        """The leader judges a candidate's fitness and catch-up from its member record:
        while a request is pending keep ours a moment old, not a status interval old."""
        now = self.clock()
        if not self._switchover_due() or now - self.refreshed_at < SWITCHOVER_REFRESH_S:
            return
        self.refreshed_at = now
        self.send(self.targets.postmaster, Resend())

    def _switchover_due(self) -> bool:
        request = self.state.view.failover
        return request is not None and (
            request.scheduled_at is None or request.scheduled_at <= self.wall()
        )

    # -- the decision cycle -----------------------------------------------------------------

    def _cycle(self) -> None:
        # Until the postmaster reports, the state holds a default status (stopped, empty
        # data directory): deciding on it could clone over a data directory that exists.
        if not self.state.have_view or not self.pg_known:
            return
        now = self.clock()
        local = ha_state.local_view(
            self.state, self.wall(), failsafe_confirmed=self.failsafe_confirmed
        )
        decision = decide(self.state.view, local, self.state.config, now)
        self._log_decision(decision)
        for action in decision.actions:
            self.send(target_of(action, self.targets), action)
        self.state = ha_state.after_decision(self.state, decision, now)
        self._arm_wake(decision, now)
        self._guard(decision, now)
        self._publish(decision, now)

    def _guard(self, decision: Decision, now: float) -> None:
        if self.watchdog_margin_s is None:
            return
        command = watchdog_command(self.state, decision, now, self.watchdog_margin_s)
        if command is not None and command != self.last_watchdog:
            self.send(self.targets.watchdog, command)
            self.last_watchdog = command

    def _log_decision(self, decision: Decision) -> None:
        if decision.reason is not self.last_reason or decision.actions:
            acts = ", ".join(type(a).TAG for a in decision.actions) or "none"
            detail = f" [{decision.detail}]" if decision.detail else ""
            self.log.info(
                "decision: %s%s (goal %s; actions: %s)",
                decision.reason.value,
                detail,
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
        status = self._node_status(decision, now)
        self.send(self.targets.api, status)
        self.send(self.metrics_actor, status)
        self.send(ActorName("gossip"), status)
        self.send(ActorName("console"), status)

    def _touch_due(self, member: MemberStatus, now: float) -> bool:
        if self.last_touch is None:
            return True
        at, last = self.last_touch
        same = dataclasses.replace(last, wal_position=member.wal_position) == member
        if self._switchover_due():
            # the leader waits on our record to hand over: every moment counts
            return not same or last.wal_position != member.wal_position
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
            gossip_url=ident.gossip_url,
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
