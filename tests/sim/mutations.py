"""Deliberately broken rules: the simulator is only as good as what it notices.

Each mutation patches the real pure code it names (actors/ha, actors/gossip,
actors/leader_lock, actors/sync_replication) -- or, where the rule lives in
an actor shell or a process the simulator models (the leader-lock backend,
the fence, HaActor's timer), the simulator's model of it -- for the duration
of `with applied(name):`.  Rules are referenced from decide.RULES by object,
so replacing one means rebuilding that tuple.

Every mutation has a schedule family that catches it (`MUTATIONS[name]`):
tests/sim/test_mutations.py runs each within its budget; README.md lists
them with the invariant that fires.  Some also switch off an independent
defence that would hide the broken rule (the probe of the former primary,
the fence): each says so.  `old_*` mutations restore the behaviour before a
fix, to show the family reproducing that fault fails on the old code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import math
from collections.abc import Callable, Iterator
from typing import Any

from actors.gossip import membership
from actors.ha import candidates, cycle, decide, leader_rules, replica_rules, watchdog
from actors.ha import state as ha_state
from actors.ha.facts import Facts, derived
from actors.leader_lock import etcd_session, lease, records
from actors.leader_lock.cache import RecordCache
from actors.sync_replication import rules as sync_rules
from actors.sync_replication import tracker
from messages.cluster import ClusterView, LeaderRecord, MemberStatus, Role, SyncState
from messages.config import SyncMode
from messages.dcs import CancelInitialize, ClaimInitialize, LockResult, ReleaseLock
from messages.ha import Action, Decision, Reason

from . import lockactor, node

Patch = tuple[object, str, object]


@dataclasses.dataclass(frozen=True)
class Mutation:
    what: str
    patches: Callable[[], list[Patch]]
    family: str
    budget: int
    """Schedules of `family` within which the simulator must catch it."""
    fence: bool = False
    """Run members with the fence (False: without, so it cannot mask the rule)."""


def _always(value: object) -> Callable[..., object]:
    return lambda *_, **__: value


def _rules(old: object, new: object | None) -> list[Patch]:
    rules = tuple(new if r is old else r for r in decide.RULES if new is not None or r is not old)
    return [(decide, "RULES", rules)]


def _derived(fn: Callable[[Facts], Any], name: str) -> derived[Any]:
    prop: derived[Any] = derived(fn)
    prop.name = name
    return prop


_NO_PROBE: list[Patch] = [(replica_rules, "_probe_former_primary", _always(None))]
"""The probe of the former primary: an independent defence that holds every candidate back
while a broken primary still takes writes, hiding the rule under test."""


# -- the lease, as the holder judges it -------------------------------------------------------


def _no_lease_demotion() -> list[Patch]:
    return _rules(leader_rules.lease_guard, None)


def _lease_gt_holder() -> list[Patch]:
    def expiring(f: Facts) -> bool:
        deadline = f.lease_deadline
        return deadline is not None and f.now > deadline - f.config.retry_timeout_s

    return [(Facts, "lease_expiring", _derived(expiring, "lease_expiring"))]


def _lease_from_answer() -> list[Patch]:
    """The holder dates its lease from when the answer reached it, not the request's start."""
    original = cycle._HANDLERS[LockResult]

    def on_lock(node_: Any, msg: LockResult, now: float, wall: float, out: Any) -> Any:
        return original(node_, dataclasses.replace(msg, started_at=now), now, wall, out)

    return [(cycle, "_HANDLERS", {**cycle._HANDLERS, LockResult: on_lock})]


def _lease_from_observation() -> list[Patch]:
    """The holder judges its lease by the leader record's stamp (when its cache saw the
    write), not by its own request's start."""

    def deadline(f: Facts) -> float | None:
        leader = f.cluster.leader
        if not f.holds_lock or leader is None:
            return None
        return leader.observed_change_at + leader.ttl_s

    return [(Facts, "lease_deadline", _derived(deadline, "lease_deadline"))]


def _fence_after_lease() -> list[Patch]:
    return [(watchdog, "margin_s", lambda config, margin: -min(margin, config.retry_timeout_s / 2))]


# -- the lease, as observers judge it ------------------------------------------------------------


def _lease_gt_observer() -> list[Patch]:
    def expired(view_or_record: ClusterView | LeaderRecord | None, now: float) -> bool:
        record = (
            view_or_record.leader if isinstance(view_or_record, ClusterView) else view_or_record
        )
        return record is None or now - record.observed_change_at > record.ttl_s

    return [(lease, "lease_expired", expired)]


def _early_takeover() -> list[Patch]:
    """A replica (and its backend) takes the lock retry_timeout before the leader's lease
    ends by its own clock: the moment the holder starts demoting."""

    def live(f: Facts) -> Any:
        leader = f.cluster.leader
        if leader is None or leader.name == f.local.name:
            return None
        if f.now - leader.observed_change_at >= leader.ttl_s - f.config.retry_timeout_s:
            return None
        return f.cluster.member(leader.name) or MemberStatus(name=leader.name)

    def expired(view_or_record: Any, now: float) -> bool:
        record = (
            view_or_record.leader if isinstance(view_or_record, ClusterView) else view_or_record
        )
        return record is None or now - record.observed_change_at >= record.ttl_s * 0.7

    return [
        (Facts, "live_leader", _derived(live, "live_leader")),
        (lease, "lease_expired", expired),
        *_NO_PROBE,
    ]


def _stamp_from_renew_time() -> list[Patch]:
    """Observers time the lease from the holder's wall clock written in the record (renewTime),
    read against their own wall clock, instead of from when they saw the record change."""
    original = RecordCache.leader

    def leader(self: RecordCache) -> tuple[Any, LeaderRecord | None]:
        entry, record = original(self)
        host = getattr(self, "sim_node", None)
        if entry is None or record is None or host is None:
            return entry, record
        renewed = str(records.parse_leader_fields(entry.raw).get("renewTime", ""))
        if not renewed:
            return entry, record
        epoch = datetime.datetime.fromisoformat(renewed).timestamp()
        clock = host.clock
        stamp = epoch - (clock.wall() - clock.now())  # their wall time, on our monotonic clock
        return entry, dataclasses.replace(record, observed_change_at=stamp)

    return [(RecordCache, "leader", leader)]


def _no_expiry_check_anywhere() -> list[Patch]:
    def racing(f: Facts) -> Decision:
        decision = replica_rules.replica(f)
        if decision.reason.name == "REPLICA_OK":
            return replica_rules._election(f)
        return decision

    return [*_rules(replica_rules.replica, racing), (lease, "lease_expired", _always(True))]


# -- who may be promoted --------------------------------------------------------------------------


def _no_lag_check() -> list[Patch]:
    return [(candidates, "within_lag", _always(True)), (replica_rules, "within_lag", _always(True))]


def _any_sync_standby() -> list[Patch]:
    return [
        (candidates, "sync_allows", _always(True)),
        (replica_rules, "sync_allows", _always(True)),
    ]


def _ranking_ignores_wal() -> list[Patch]:
    def ahead_of(other: MemberStatus, me: MemberStatus) -> bool:
        return other.tags.failover_priority > me.tags.failover_priority

    return [(candidates, "ahead_of", ahead_of)]


def _nofailover_ignored() -> list[Patch]:
    anyone = _always(True)
    return [(candidates, "may_promote", anyone), (replica_rules, "may_promote", anyone),
            (leader_rules, "may_promote", anyone)]  # fmt: skip


def _quorum_no_ahead_check() -> list[Patch]:
    def seen(name: Any, cluster: ClusterView) -> bool:
        others = [
            m for m in cluster.members if m.name != name and m.name in cluster.sync.sync_standbys
        ]
        return len(others) >= cluster.sync.quorum

    # the freshest-candidate ranking would hold a behind standby back on its own: off
    return [(candidates, "quorum_seen", seen), (replica_rules, "better_candidate", _always(None))]


def _lockless_primary_keeps_running() -> list[Patch]:
    never: Callable[[Facts], Any] = _always(None)
    return [
        *_rules(replica_rules.primary_without_lock, never),
        (decide, "_lockless_primary", _always(False)),
        *_NO_PROBE,
    ]


def _no_rewind() -> list[Patch]:
    return [(replica_rules, "_diverged", _always(False))]


def _start_in_progress_ignored() -> list[Patch]:
    """At the lease's end, only a running primary counts: a promotion or a start as primary
    in progress is left to finish."""

    def may_take_writes(f: Facts) -> bool:
        return f.is_primary and f.local.action is None

    return [(leader_rules, "_may_take_writes", may_take_writes),
            (decide, "_lockless_primary", _always(False))]  # fmt: skip


# -- synchronous replication ----------------------------------------------------------------------


def _names_before_unpublish() -> list[Patch]:
    return [(sync_rules, "_revoke", _always(None))]


def _sync_key_claimed_with_standbys() -> list[Patch]:
    """The key is claimed (and promotion allowed) while it still lists standbys."""

    def claimed(f: Facts) -> bool:
        off = f.config.synchronous_mode is SyncMode.OFF
        return off or f.cluster.sync.leader == f.local.name

    def promoting(primary: Any, pg: Any, view: ClusterView, config: Any) -> bool:
        return original(primary, pg, view, config) and view.sync.leader != primary

    original = sync_rules._promoting
    plan = sync_rules.plan

    def keeping_plan(primary: Any, pg: Any, view: ClusterView, config: Any, names: str,
                     *, names_lsn: int = 0) -> Any:  # fmt: skip
        p = plan(primary, pg, view, config, names, names_lsn=names_lsn)
        if p.state is not None and p.reason is sync_rules.SyncReason.CLAIM_KEY:
            kept = SyncState(leader=primary, sync_standbys=view.sync.sync_standbys)
            return dataclasses.replace(p, state=kept)
        return p

    return [(leader_rules, "_sync_key_claimed", claimed), (sync_rules, "_promoting", promoting),
            (tracker, "plan", keeping_plan)]  # fmt: skip


def _switchover_without_catchup() -> list[Patch]:
    """The holder releases as soon as it stopped, without waiting for the candidate to have
    its last checkpoint (and, as then, without the clean flag that would hold others back)."""

    def release(f: Facts) -> Decision:
        actions: tuple[Action, ...] = () if f.local.lock_op_in_flight else (ReleaseLock(),)
        return Decision(goal=Role.REPLICA, reason=Reason.SWITCHOVER_RELEASE, actions=actions)

    return [(leader_rules, "_target_caught_up", _always(True)), (leader_rules, "_release", release)]


# -- pause, failsafe ------------------------------------------------------------------------------


def _unpaused(f: Facts) -> Facts:
    config = dataclasses.replace(f.config, pause=False)
    return Facts(cluster=f.cluster, local=f.local, config=config, now=f.now)


def _pause_ignored_by_holder() -> list[Patch]:
    guard, lead = leader_rules.lease_guard, leader_rules.leader

    def guard_unpaused(f: Facts) -> Decision | None:
        return guard(_unpaused(f))

    def lead_unpaused(f: Facts) -> Decision | None:
        return lead(_unpaused(f))

    swap = {guard: guard_unpaused, lead: lead_unpaused}
    return [(decide, "RULES", tuple(swap.get(r, r) for r in decide.RULES))]


def _pause_ignored_by_replicas() -> list[Patch]:
    return _rules(replica_rules.paused, None)


def _failsafe_without_all() -> list[Patch]:
    """The leader's failsafe lease runs while any member confirms it: the latest
    acknowledgement counts, members that stopped acknowledging are ignored."""

    def lease_until(table: Any, incarnation: int, sent: Any) -> float | None:
        if table.known is None:
            return None
        until = None
        for name in (set(table.known) | set(table.peers)) - {table.me}:
            peer = table.peers.get(name)
            heard = () if peer is None else peer.status.heard
            ack = next((h for h in heard if h.name == table.me), None)
            if ack is None or ack.incarnation != incarnation or ack.seq not in sent:
                continue
            at, ttl = sent[ack.seq]
            until = at + ttl if until is None else max(until, at + ttl)
        return until

    return [(membership, "failsafe_lease_until", lease_until)]


def _cancel_init_repeats() -> list[Patch]:
    """The reducer as it was: CancelInitialize keeps the claim, so the rule repeats it."""
    original = ha_state._started

    def started(state: ha_state.HaState, action: Action, now: float) -> ha_state.HaState:
        if isinstance(action, CancelInitialize | ClaimInitialize):
            return dataclasses.replace(state, lock_op_in_flight=True)
        return original(state, action, now)

    return [(ha_state, "_started", started)]


# -- the behaviour before the fixes of the assembled-node faults ----------------------------------


def _old_backend_ttl() -> list[Patch]:
    """(1) The backend wrote its own (bootstrap) ttl, and the holder judged by the config's."""
    original = lockactor.LockActor._lock_op

    def lock_op(self: Any, op: Any, ttl_s: float, body: Any) -> bool:
        return original(self, op, 0.0, body)  # the LockResult of old said no ttl

    return [
        (lockactor, "WRITE_MSG_TTL", False),
        (lockactor.LockActor, "_lock_op", lock_op),
        *_NO_PROBE,
    ]


def _old_failsafe_no_promise() -> list[Patch]:
    """(2) Members did not promise a failsafe leader anything: they took the expired lock."""
    original = replica_rules._held_back

    def held_back(f: Facts) -> Any:
        local = dataclasses.replace(f.local, failsafe_leader_until=None)
        return original(Facts(cluster=f.cluster, local=local, config=f.config, now=f.now))

    return [(replica_rules, "_held_back", held_back)]


def _old_last_leader_in_memory() -> list[Patch]:
    """(4) The last leader's name and position lived in the agent's memory only."""
    return [(lockactor, "STATUS_IN_STORE", False)]


def _old_fence_in_agent_group() -> list[Patch]:
    """(5) The fence ran in the agent's process group: its SIGSTOP stopped the fence too."""
    return [(node, "FENCE_IN_AGENT_GROUP", True), *_NO_PROBE]


def _old_fence_spares_standby() -> list[Patch]:
    """(9) The fence stood down over a server in recovery (a standby being promoted)."""
    return [(node, "FENCE_SPARES_STANDBY", True)]


def _old_fence_armed_in_pause() -> list[Patch]:
    """(10) Pause did not disarm the fence."""
    original = watchdog.watchdog_command

    def command(state: ha_state.HaState, decision: Decision, now: float, margin: float) -> Any:
        unpaused = state
        if state.config.pause:
            cfg = dataclasses.replace(state.config, pause=False)
            unpaused = dataclasses.replace(state, view=dataclasses.replace(state.view, config=cfg))
        return original(unpaused, decision, now, margin)

    return [(watchdog, "watchdog_command", command), (cycle, "watchdog_command", command)]


def _old_busy_wake() -> list[Patch]:
    """(13) A deadline already past was still woken for, 10 ms later, again and again."""

    def wake_at(node_: cycle.Node, now: float) -> float | None:
        loop = node_.ha.config.loop_wait_s
        base = node_.decided_at if node_.decided_at is not None else now
        wake = base + loop
        if node_.deadline is not None:
            wake = min(wake, node_.deadline + cycle.WAKE_MARGIN_S)
        return max(wake, now + cycle.WAKE_MARGIN_S) if wake <= now else wake

    return [(cycle, "_wake_at", wake_at), (node, "SHELL_REARMS_ALWAYS", True)]


def _old_own_write_unpublished() -> list[Patch]:
    """(14) the leader-lock actor publishes only what its watch reports as news."""
    return [(lockactor, "PUBLISH_OWN_WRITES", False)]


def _old_touch_skips_keepalive() -> list[Patch]:
    """(15) a touch skips its keepalive when one came within ttl/2 (7faa8f2's parent), on a
    lease of ceil(ttl): the next touch can come nearly 2 x loop_wait later."""

    def needed(refreshed_at: float, lease_s: int, now: float, ttl_s: float) -> bool:
        return now - refreshed_at >= ttl_s / 2

    def wake_at(node_: cycle.Node, now: float) -> float | None:  # no touch deadline (884dde0)
        loop = node_.ha.config.loop_wait_s
        base = node_.decided_at if node_.decided_at is not None else now
        wake = max(base + loop, now + min(loop, 1.0)) if base + loop <= now else base + loop
        for deadline in (node_.deadline, node_.ha.lock_retry_at):
            if deadline is not None and deadline > now:
                wake = min(wake, deadline + cycle.WAKE_MARGIN_S)
        return wake

    return [
        (etcd_session, "keepalive_needed", needed),
        (etcd_session, "lease_ttl", lambda ttl_s: math.ceil(ttl_s)),
        (cycle, "_wake_at", wake_at),
    ]


def _keepalive_without_margin() -> list[Patch]:
    """The lease may be left with less than ttl after a refresh that skipped its keepalive."""

    def needed(refreshed_at: float, lease_s: int, now: float, ttl_s: float) -> bool:
        return refreshed_at + lease_s - now < ttl_s / 2

    return [(etcd_session, "keepalive_needed", needed)]


def _paused_candidate_takes_expired_lock() -> list[Patch]:
    """In pause, the switchover's candidate takes a lock that merely expired."""

    def in_switchover(f: Facts) -> bool:
        request = f.paused_switchover
        return request is not None and request.candidate == f.local.name

    return [(replica_rules, "_in_paused_switchover", in_switchover)]


MUTATIONS: dict[str, Mutation] = {
    "no_lease_demotion": Mutation(
        "no demotion when the lease nears its end", _no_lease_demotion, "leader_cut", 60
    ),
    "lease_gt_holder": Mutation(
        "the holder's own expiry compared with > instead of >=", _lease_gt_holder, "coarse_tie", 300
    ),
    "lease_gt_observer": Mutation(
        "the observers' expiry judgement compared with > instead of >=",
        _lease_gt_observer,
        "coarse_tie",
        300,
    ),
    "early_takeover": Mutation(
        "a replica takes the lock while the leader's lease is live by its own clock",
        _early_takeover,
        "leader_cut",
        60,
    ),
    "lease_from_answer": Mutation(
        "the holder dates its lease from the answer, not the request's start",
        _lease_from_answer,
        "renew_stall",
        100,
    ),
    "lease_from_observation": Mutation(
        "the holder judges its lease by the record's stamp, not its own clock",
        _lease_from_observation,
        "renew_stall",
        100,
    ),
    "fence_after_lease": Mutation(
        "the fence fires after the lease ends instead of before (probe off)",
        lambda: [*_fence_after_lease(), *_NO_PROBE],
        "group_freeze",
        100,
        fence=True,
    ),
    "stamp_from_renew_time": Mutation(
        "observers time the lease from the holder's renewTime (its wall clock)",
        _stamp_from_renew_time,
        "wall_skew",
        100,
    ),
    "no_expiry_check_anywhere": Mutation(
        "replicas race without the expiry check, and the backend takes a live lock",
        _no_expiry_check_anywhere,
        "mixed",
        100,
    ),
    "no_lag_check": Mutation("within_lag always true", _no_lag_check, "nofailover_crash", 200),
    "ranking_ignores_wal": Mutation(
        "failover ranking ignores the WAL position", _ranking_ignores_wal, "lagging_failover", 200
    ),
    "nofailover_ignored": Mutation(
        "nofailover and failover_priority 0 ignored", _nofailover_ignored, "nofailover_crash", 100
    ),
    "any_sync_standby": Mutation(
        "sync_allows always true", _any_sync_standby, "sync_failover", 200
    ),
    "quorum_no_ahead_check": Mutation(
        "quorum promotion without the 'none ahead' check (ranking off)",
        _quorum_no_ahead_check,
        "quorum",
        200,
    ),
    "names_before_unpublish": Mutation(
        "a standby dropped from synchronous_standby_names before it is unpublished",
        _names_before_unpublish,
        "sync_failover",
        200,
    ),
    "sync_key_claimed_with_standbys": Mutation(
        "the sync key claimed (and promotion allowed) with standbys still in it",
        _sync_key_claimed_with_standbys,
        "new_leader_crash",
        300,
    ),
    "lockless_primary_keeps_running": Mutation(
        "a primary without the lock never stops (probe off)",
        _lockless_primary_keeps_running,
        "leader_agent_kill",
        100,
    ),
    "start_in_progress_ignored": Mutation(
        "a promotion or start in progress ignored at the lease's end",
        _start_in_progress_ignored,
        "promote_cut",
        200,
    ),
    "switchover_without_catchup": Mutation(
        "a switchover releases without waiting for the candidate",
        _switchover_without_catchup,
        "switchover",
        200,
    ),
    "pause_ignored_by_holder": Mutation(
        "the holder acts on its lease in pause", _pause_ignored_by_holder, "pause_cut", 60
    ),
    "pause_ignored_by_replicas": Mutation(
        "replicas fail over in pause", _pause_ignored_by_replicas, "pause_cut", 60
    ),
    "failsafe_without_all": Mutation(
        "failsafe continues without every member's confirmation",
        _failsafe_without_all,
        "failsafe_cut",
        200,
        fence=True,
    ),
    "no_rewind": Mutation("a diverged member is never rewound", _no_rewind, "leader_cut", 200),
    "cancel_init_repeats": Mutation(
        "a failed bootstrap cancels twice (the reducer as it was)",
        _cancel_init_repeats,
        "bootstrap",
        200,
    ),
    "old_backend_ttl": Mutation(
        "(1) the record carries the bootstrap ttl, the holder the config's (probe off)",
        _old_backend_ttl,
        "ttl_edit_freeze",
        60,
        fence=True,
    ),
    "old_failsafe_no_promise": Mutation(
        "(2) members take the expired lock under a failsafe leader",
        _old_failsafe_no_promise,
        "failsafe_cut",
        100,
        fence=True,
    ),
    "old_last_leader_in_memory": Mutation(
        "(4) the last leader lives only in the agent's memory",
        _old_last_leader_in_memory,
        "cluster_restart",
        200,
        fence=True,
    ),
    "old_fence_in_agent_group": Mutation(
        "(5) the fence stops with the agent's process group (probe off)",
        _old_fence_in_agent_group,
        "group_freeze",
        60,
        fence=True,
    ),
    "old_fence_spares_standby": Mutation(
        "(9) the fence spares a standby being promoted",
        _old_fence_spares_standby,
        "slow_promote_freeze",
        100,
        fence=True,
    ),
    "old_fence_armed_in_pause": Mutation(
        "(10) pause leaves the fence armed", _old_fence_armed_in_pause, "pause_cut", 60, fence=True
    ),
    "old_own_write_unpublished": Mutation(
        "(14) the leader-lock actor's own writes are not published (the watch sees no news)",
        _old_own_write_unpublished,
        "forced_failover",
        100,
    ),
    "old_touch_skips_keepalive": Mutation(
        "(15) touches only at decisions, skipping the keepalive within ttl/2, on a lease of ttl",
        _old_touch_skips_keepalive,
        "member_records",
        100,
    ),
    "keepalive_without_margin": Mutation(
        "a refresh skips its keepalive while the lease has less than ttl left",
        _keepalive_without_margin,
        "member_records",
        100,
    ),
    "paused_candidate_takes_expired_lock": Mutation(
        "in pause, a switchover's candidate takes a lock its leader did not hand over",
        _paused_candidate_takes_expired_lock,
        "pause_switchover",
        200,
    ),
    "old_busy_wake": Mutation(
        "(13) a past deadline woken for every 10 ms", _old_busy_wake, "pause_cut", 60, fence=True
    ),
}


@contextlib.contextmanager
def applied(name: str | None) -> Iterator[None]:
    """Patch in the named mutation (None: nothing) and restore the real code afterwards."""
    if name is None:
        yield
        return
    patches = MUTATIONS[name].patches()
    saved = [(obj, attr, vars(obj)[attr]) for obj, attr, _ in patches]
    try:
        for obj, attr, value in patches:
            setattr(obj, attr, value)
        yield
    finally:
        for obj, attr, value in reversed(saved):
            setattr(obj, attr, value)
