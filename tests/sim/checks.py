"""The invariants, checked at the instant each relevant thing happens.

(a) one writer: never two members that can acknowledge a commit at the same
    instant (checked after every event that changed a server, a link or
    synchronous_standby_names).  In asynchronous mode without a fence, a
    primary whose agent does not run and whose lease passed its demotion
    point is a "zombie" and is counted, not failed: no rule acts for an agent
    that does not run (the fence is the answer; with one, no exemption).
(b) synchronous mode: a member becoming primary holds every acknowledged write.
(c) asynchronous mode: a member taking the lock is not behind another eligible
    candidate it could see (in its own view) by more than maximum_lag_on_failover.
(d) every lock taken over (not at bootstrap): the taker is at most
    maximum_lag_on_failover behind the last leader's position in the status
    record -- not behind at all after a clean release.  Tags: a member tagged
    nofailover (or failover_priority 0) never takes the lock over.
(e) rule 3 as a trace property: whenever the sync key is written, every
    standby it publishes is named in its leader's synchronous_standby_names;
    whenever those names change, no published standby is dropped.
(f) asynchronous mode: acknowledged writes are lost only at a leader's death:
    a write missing from a new primary must have been acknowledged by a
    member that suffered an unplanned fault since (crash, freeze, partition,
    ...); a switchover, a clean cluster stop/start or a config edit loses none.
(g) convergence after the heal within a bound (runner.py); bootstrap too.
(h) the holder demotes on time: after any step of its agent at or past
    `end - retry_timeout`, a primary has a stop under way; `end` is the start of
    its last successful lock write plus the ttl that write put in the record,
    or, in failsafe, the end of every member's promise if later.  (Not in pause.)
(i) pause: an agent that knows the cluster is paused never starts, stops or
    promotes PostgreSQL nor takes or releases the lock (except that a running
    primary takes a free lock back, and that the leader and the candidate of an
    operator's switchover to a named candidate go on with it, as Patroni's do),
    and its fence never fires.
(j) no busy loop: an agent takes at most BUSY_LIMIT steps in any second.
(k) rule 2 at every observer, both ways: from the moment its cache saw a leader
    record change (the model's own stamp, not RecordCache's), the lock is live
    for exactly ttl: before that, neither its agent nor its leader-lock actor
    takes it; from then on, neither treats it as live.
(l) an operator's forced failover (no leader, a candidate named), sent through
    any member's console, makes the candidate lead within a bound
    (operator.request_bound).  The operator chose it, lag and sync key
    notwithstanding (as in Patroni): its takeover is exempt from (b), (c), (d)
    and (f), and counted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from messages.base import Message
from messages.cluster import FailoverRequest, MemberStatus, PgState, Role, SyncState
from messages.config import SyncMode
from messages.dcs import AcquireLock, ClaimInitialize, ReleaseLock
from messages.ha import ActionKind, Reason
from messages.postgres import (
    Bootstrap,
    CreateReplica,
    Follow,
    Promote,
    Rewind,
    StartPostgres,
    StopPostgres,
)

from .dcs import CONFIG, FAILOVER, MEMBERS, SYNC, LeaderValue, Rec, Store
from .replication import parsed_names

if TYPE_CHECKING:
    from actors.ha.cycle import Outbox

    from .lockactor import Seen
    from .node import Node
    from .world import World

KNOWN_BUGS = {
    "E": "a holder cut from the store (or frozen) keeps the paused config it cached after the"
    " operator resumed the cluster: it neither demotes nor keeps its fence armed while others,"
    " unable to reach it with their probe, fail over",
}
"""Bugs of the HA code this simulator found, reported and not fixed yet (README, report).
When one fires, the losses (or the two writers, E) it causes are attributed to it instead
of failing the run; test_known_bugs.py shows each one breaking its invariant without that."""
EXCUSE_KNOWN_BUGS = True
DEATH_GRACE_S = 1.0
"""After an unplanned fault on a member ends, how long its acknowledged writes still count
as acknowledged around its death (a thawed zombie's stop takes a moment)."""
BUSY_LIMIT = 50
"""Steps of one agent in one second of its clock; seen at most ~20 in the families; the
busy loop of (13) ran 75-85 a second."""
_PAUSE_FORBIDDEN = (
    StopPostgres,
    StartPostgres,
    Promote,
    Follow,
    Rewind,
    CreateReplica,
    Bootstrap,
    AcquireLock,
    ReleaseLock,
    ClaimInitialize,
)
_NO_TAKEOVER = (Reason.BOOTSTRAP_TAKE_LOCK, Reason.FAILSAFE_REACQUIRE, Reason.PAUSED_TAKE_LOCK)
"""A running primary taking the free lock again: no failover, no takeover rule applies."""
_LEADER_LIVE = (Reason.REPLICA_OK, Reason.FOLLOW)


class Violation(Exception):
    """An invariant broke; the message says which and how."""


class Checks:
    def __init__(self, world: World) -> None:
        self.world = world
        cfg = world.params.config
        self.sync_mode = cfg.synchronous_mode is not SyncMode.OFF
        self.max_lag = cfg.maximum_lag_on_failover
        self.unplanned: dict[str, list[list[float]]] = {n.name: [] for n in world.nodes}
        self.lost: set[int] = set()
        self.paused_since: dict[str, float | None] = dict.fromkeys(self.unplanned)
        self.bucket: dict[str, list[float]] = {n: [-1.0, 0.0] for n in self.unplanned}
        self.known: dict[str, set[str]] = {}
        self.forced: set[str] = set()
        """Members that took the lock as an operator's forced failover named them (l)."""

    # -- faults the loss rule (f) excuses ---------------------------------------------------

    def fault_began(self, node: Node, *, process: bool = False) -> list[float]:
        """[start, end, grace]: a fault on the agent process itself (frozen, killed) excuses
        also what the resumed zombie acknowledges in the moment its stop takes."""
        span = [self.world.loop.t, float("inf"), DEATH_GRACE_S if process else 0.0]
        self.unplanned[node.name].append(span)
        return span

    def _excused(self, name: str, acked_at: float) -> bool:
        # a member that was frozen or cut stops within moments of coming back (its stop ends
        # the writes 2-30 ms in): what it acknowledged then belongs to the same death
        if any(end + grace >= acked_at for _, end, grace in self.unplanned.get(name, ())):
            return True
        if not EXCUSE_KNOWN_BUGS:
            return False
        return bool(self.known.get(name))

    # -- known bugs of the HA code, reported and not yet fixed (see README) ---------------------

    def known_bug(self, bug: str, name: str) -> None:
        """The HA code just did what known bug `bug` does; losses of writes acknowledged by
        `name` that follow are attributed to it instead of failing the run."""
        self.known.setdefault(name, set()).add(bug)
        stats = self.world.stats
        stats.known_bugs[bug] = stats.known_bugs.get(bug, 0) + 1
        self.world.trace.note(name, f"known bug {bug}: {KNOWN_BUGS[bug]}")

    # -- (a) one writer ----------------------------------------------------------------------

    def writers(self) -> None:
        repl = self.world.repl
        writers = [n for n in self.world.nodes if repl.can_acknowledge(n)]
        if len(writers) < 2:
            return
        if not self.sync_mode:
            alive = [n for n in writers if not self._zombie(n)]
            if len(alive) < 2:
                self.world.stats.zombie_events += 1
                return
            writers = alive
        stale = [n for n in writers if self._stale_pause(n)]
        if stale and EXCUSE_KNOWN_BUGS:
            if stale[0].name not in self.known or "E" not in self.known[stale[0].name]:
                self.known_bug("E", stale[0].name)
            return
        names = ", ".join(f"{n.name} (timeline {n.pg.timeline})" for n in writers)
        raise Violation(f"(a) two members can acknowledge writes at once: {names}")

    def _stale_pause(self, node: Node) -> bool:
        """Known bug E: cut from the store or frozen when the operator resumed the cluster,
        the agent still believes it is paused (its cached config), so it neither demotes nor
        re-arms the fence that pause disarmed -- while the others take the lapsed lock."""
        agent, store_config = node.agent, self.world.store.value(CONFIG)
        # A running, connected agent learns of the resume within a watch's latency, long
        # before the others may count its lease out: a mismatch this late means it was cut
        # or frozen (its first step after a thaw still decides from the cached view).
        if agent is None or not agent.ha.config.pause:
            return False
        return not getattr(store_config, "pause", True)

    def _zombie(self, node: Node) -> bool:
        """No fence, and its agent does not run -- or has just resumed and not yet acted
        (or ordered the stop that is about to end the writes) -- past its demotion point."""
        if node.fence_margin is not None or (node.agent_runs and not node.catching_up):
            return False
        lease = node.spec_lease
        if lease is None:
            return True
        retry = node.bootstrap_config.retry_timeout_s
        if node.agent is not None:
            retry = node.agent.ha.config.retry_timeout_s
        start, ttl = lease
        return node.clock.now() >= start + ttl - retry

    # -- (b), (f): a new primary ------------------------------------------------------------

    def became_primary(self, node: Node) -> None:
        wal = node.pg.wal
        size = len(wal)
        forced = node.name in self.forced
        self.forced.discard(node.name)
        for pos, wid, who, at in self.world.repl.acked:
            if pos < size and wal[pos] == wid:
                continue
            if forced:  # (l): what the operator's forced failover gave up, by choice
                if wid not in self.lost:
                    self.lost.add(wid)
                    self.world.stats.forced_losses += 1
                continue
            if self.sync_mode:
                raise Violation(
                    f"(b) {node.name} became primary without acknowledged write #{wid}"
                    f" (position {pos}, acknowledged by {who}; its WAL ends at {size})"
                )
            if wid in self.lost:
                continue
            self.lost.add(wid)
            self.world.stats.lost_writes += 1
            if not self._excused(who, at):
                raise Violation(
                    f"(f) {node.name} became primary without write #{wid}, acknowledged by"
                    f" {who} at {at:.3f}, which suffered no unplanned fault since"
                )

    # -- (c), (d), tags, pause: a lock taken ----------------------------------------------------

    def lock_taken(self, node: Node, value: LeaderValue, store: Store) -> None:
        """Called at the store, just before a successful takeover of the lock lands."""
        self.world.stats.takeovers += 1
        reason = node.acquire_reason
        if reason in _NO_TAKEOVER:
            return
        agent = node.agent
        if agent is not None and agent.ha.config.pause and not _in_paused_switchover(node):
            raise Violation(
                f"(i) {node.name} took the lock although it knows the cluster is paused"
            )
        if node.tags.nofailover or node.tags.failover_priority <= 0:
            raise Violation(f"(d) {node.name} took the lock over although tagged {node.tags}")
        request = store.value(FAILOVER)
        if (
            isinstance(request, FailoverRequest)
            and request.leader is None
            and (request.candidate == node.name)
        ):
            self.forced.add(node.name)  # (l): the operator named it, with no leader
            self.world.stats.forced_takeovers += 1
            return
        status = store.status
        if status is not None:
            allowance = 0 if status.clean else self.max_lag
            lag = status.optime - value.optime
            if lag > allowance:
                clean = " (clean release: none allowed)" if status.clean else ""
                raise Violation(
                    f"(d) {node.name} took the lock {lag} behind the last leader {status.name}'s"
                    f" position {status.optime}{clean}; maximum_lag_on_failover {self.max_lag}"
                )
        if not self.sync_mode and node.acquire_view is not None:
            self._not_behind_a_candidate(node, value.optime, node.acquire_view, status)

    def _not_behind_a_candidate(
        self, node: Node, optime: int, members: tuple[MemberStatus, ...], status: object
    ) -> None:
        last = getattr(status, "optime", 0)
        for m in members:
            if m.name == node.name or m.tags.nofailover or m.tags.failover_priority <= 0:
                continue
            if m.state is not PgState.RUNNING or m.role is not Role.REPLICA:
                continue
            if last - m.wal_position > self.max_lag:
                continue  # not eligible itself
            if m.wal_position - optime > self.max_lag:
                raise Violation(
                    f"(c) {node.name} took the lock at {optime} although {m.name}, an eligible"
                    f" candidate it saw, was at {m.wal_position} (maximum_lag_on_failover"
                    f" {self.max_lag})"
                )

    # -- (l) an operator's forced failover ------------------------------------------------------

    def request_carried_out(self, candidate: Node, via: Node) -> None:
        """Due time of a forced failover to `candidate` asked through `via`'s console."""
        world = self.world
        if world.faults.healed:
            return  # the heal came first: the family's window was too short to judge it
        lock = world.store.leader
        pg = candidate.pg
        leads = lock is not None and lock.name == candidate.name
        if leads and pg.state is PgState.RUNNING and pg.role is Role.PRIMARY:
            return
        raise Violation(
            f"(l) {candidate.name} does not run as primary after the operator's forced failover"
            f" to it through {via.name}'s console (lock: {lock.name if lock else None},"
            f" {candidate.name}: {pg.state.value}/{pg.role.value})"
        )

    # -- (m) member records ----------------------------------------------------------------

    def record_expired(self, key: str, rec: Rec, ttl: float) -> None:
        """The store expires `key` with its lease: only an agent in trouble lets it."""
        if not key.startswith(MEMBERS):
            return
        world = self.world
        node = world.by_name.get(key[len(MEMBERS) :])
        now = world.loop.t
        if node is None or not (node.agent_runs and node.up) or node.ha_stopped:
            return
        since = now - ttl * 1.1  # the store's clock runs up to 1% apart from true time
        if node.started_at >= since or node.catching_up:
            return
        if any(end >= since for _, end, _ in self.unplanned[node.name]):
            return  # frozen, cut, slowed or crashed within the lease
        raise Violation(
            f"(m) {node.name}'s member record expired with its lease ({ttl:g} s) although its"
            " agent ran and reached the store throughout"
        )

    # -- (e) rule 3 --------------------------------------------------------------------------

    def sync_written(self, node: Node, state: SyncState | None) -> None:
        if state is None or not state.sync_standbys or state.leader is None:
            return
        leader = self.world.by_name.get(state.leader)
        if leader is None:
            return
        self._published_named(leader, state, "published")

    def names_changed(self, node: Node) -> None:
        key = self.world.store.value(SYNC)
        if isinstance(key, SyncState) and key.leader == node.name and key.sync_standbys:
            self._published_named(node, key, "dropped from synchronous_standby_names")

    def _published_named(self, primary: Node, key: SyncState, what: str) -> None:
        names = parsed_names(primary.pg.names)
        for standby in sorted(key.sync_standbys):
            if names is None or not (names.wildcard or standby.casefold() in names.named):
                raise Violation(
                    f"(e) {standby} {what} while the sync key publishes it and"
                    f" {primary.name}'s synchronous_standby_names is {primary.pg.names!r}"
                )
        need = names.quorum_needed() if names is not None else None
        if need is not None and key.quorum < need:
            raise Violation(
                f"(e) the sync key's quorum {key.quorum} is below what"
                f" {primary.pg.names!r} needs ({need})"
            )

    # -- (h), (i), (j): after every step of an agent -------------------------------------------

    def ha_stepped(self, node: Node, now: float, out: Outbox, woke: bool) -> None:
        sends = out.sends
        bucket = self.bucket[node.name]
        second = float(int(now))
        if bucket[0] != second:
            bucket[0], bucket[1] = second, 0.0
        bucket[1] += 1
        if bucket[1] > BUSY_LIMIT:
            raise Violation(
                f"(j) {node.name}'s agent took more than {BUSY_LIMIT} steps in a second"
            )
        agent = node.agent
        assert agent is not None
        cfg = agent.ha.config
        if node.catching_up and agent.decided_at == now:
            node.catching_up = "stopping" if _stopping(node, sends) else False
            self.world.dirty = True
        if agent.decided_at == now and agent.last_reason in _LEADER_LIVE:
            self._judged_live(node, now)
        if cfg.pause:
            self._paused_step(node, sends)
        else:
            self.paused_since[node.name] = None
        lease = node.spec_lease
        if lease is None or cfg.pause or not node.pg.writes_open or agent.decided_at != now:
            return  # (an event that runs no decision, an unchanged FailsafeStatus, acts on nothing)
        start, ttl = lease
        end = start + ttl
        ha = agent.ha
        if cfg.failsafe_mode and ha.failsafe_until is not None:
            end = max(end, ha.failsafe_until)  # every member promised not to take it before
        if now < end - cfg.retry_timeout_s:
            return
        if _stopping(node, sends):
            return
        raise Violation(
            f"(h) {node.name} decided at {now:.4f}, at or past its demotion point"
            f" {end - cfg.retry_timeout_s:.4f} (lease from {start:.4f}, ttl {ttl:g}, until"
            f" {end:.4f}; retry_timeout {cfg.retry_timeout_s:g}), and keeps taking writes"
        )

    def _paused_step(self, node: Node, sends: tuple[tuple[str, Message], ...]) -> None:
        if self.paused_since[node.name] is None:
            self.paused_since[node.name] = self.world.loop.t
        agent = node.agent
        if _in_paused_switchover(node) or (
            agent is not None and agent.last_reason is Reason.SWITCHOVER_REFUSED
        ):
            return  # the operator's switchover goes on in pause (as Patroni's), or ends
            # without one and the leader starts again: (a)-(f) judge it
        for _, msg in sends:
            if isinstance(msg, AcquireLock) and node.pg.writes_open:
                continue  # the running primary takes a free lock back (as Patroni's does)
            if isinstance(msg, _PAUSE_FORBIDDEN):
                raise Violation(
                    f"(i) {node.name} sent {type(msg).__name__} although it knows the cluster"
                    " is paused"
                )

    # -- (k) rule 2 at the observer ---------------------------------------------------------

    def _judged_live(self, node: Node, now: float) -> None:
        seen = node.ha_leader
        if seen is not None and seen.name != node.name and now >= seen.at + seen.ttl:
            raise Violation(
                f"(k) {node.name} treats {seen.name}'s lock as live at {now:.4f}, although"
                f" ttl {seen.ttl:g} passed since it saw the record change at {seen.at:.4f}"
            )

    def acquire_sent(self, node: Node) -> None:
        seen, now = node.ha_leader, node.clock.now()
        if seen is not None and seen.name != node.name and now < seen.at + seen.ttl:
            raise Violation(
                f"(k) {node.name} tries to take {seen.name}'s lock at {now:.4f}, live by its own"
                f" clock until {seen.at + seen.ttl:.4f} (seen changing at {seen.at:.4f})"
            )

    def backend_judged(self, node: Node, seen: Seen | None, live: bool) -> None:
        """The leader-lock actor's own judgement for AcquireLock, against rule 2."""
        if seen is None:
            return
        now = node.clock.now()
        spec = now < seen.at + seen.ttl
        if live != spec:
            what = "live" if live else "expired"
            raise Violation(
                f"(k) {node.name}'s leader-lock actor judged {seen.name}'s lock {what} at"
                f" {now:.4f}; by rule 2 it is {'live' if spec else 'expired'} (seen changing at"
                f" {seen.at:.4f}, ttl {seen.ttl:g})"
            )

    def pg_killed(self, node: Node, why: str) -> None:
        since = self.paused_since[node.name]
        if why == "fence" and since is not None and self.world.loop.t - since > 0.5:
            raise Violation(f"(i) {node.name}'s fence killed PostgreSQL in pause")


def _in_paused_switchover(node: Node) -> bool:
    """The agent's view holds an operator's switchover that pause lets happen (now, to a
    named candidate), and this member is its leader, or its candidate once that leader
    released the lock cleanly (by the store itself: a lock that merely expired is no
    hand-over) or the candidate holds it."""
    agent = node.agent
    request = agent.ha.view.failover if agent is not None else None
    if agent is None or request is None or request.scheduled_at is not None:
        return False
    if request.candidate is None:
        return False
    store = node.world.store
    if node.name == request.candidate:
        lock, status = store.leader, store.status
        handed = status is not None and status.clean and request.leader in (None, status.name)
        return (lock is None and handed) or (lock is not None and lock.name == node.name)
    if request.leader is None:  # whoever leads hands over
        leader = agent.ha.view.leader
        return leader is not None and leader.name == node.name
    return node.name == request.leader


def _stopping(node: Node, sends: tuple[tuple[str, Message], ...]) -> bool:
    if node.pg.stopping_writes or any(isinstance(m, StopPostgres) for _, m in sends):
        return True
    agent, postmaster = node.agent, node.postmaster
    if agent is not None and agent.ha.action is ActionKind.STOP:
        return True
    return (
        postmaster is not None
        and postmaster.job is not None
        and (postmaster.job.kind is ActionKind.STOP)
    )
