"""Schedule families: each aims at one way of failing, on the lease model where it matters.

Kubernetes (`server_leases=False`) is where a lock is taken only on an
observer's own judgement that the lease ran out, so every family about
expiry timing (a holder slow but alive, clocks, ties, stamps) runs there;
etcd's server-side expiry hides those behind the server's own timer.  Both
models run the rest.  `mixed` draws from the whole pool of faults.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

from messages.config import DynamicConfig, SyncMode, Tags

from .operator import SETTLE_S, request_bound
from .schedule import LEADER, REPLICA, TIMINGS, Fault, Params, base, draw_config, span

Family = Callable[[random.Random, int], Params]

POOL = (
    ("dcs_cut", 6), ("split", 3), ("isolate", 3), ("peer_cut", 2), ("freeze", 4),
    ("cgroup_freeze", 1), ("stall", 2), ("pg_crash", 4), ("machine", 3), ("agent_kill", 2),
    ("slow_dcs", 2), ("drop", 2), ("watch_lag", 2), ("switchover", 3), ("cut_next", 2),
    ("config", 2), ("store_down", 1), ("pause", 1), ("slow_promote", 1),
)  # fmt: skip


def mixed(rng: random.Random, seed: int) -> Params:
    config = draw_config(rng, failsafe_mode=rng.random() < 0.2)
    p = base(rng, seed, "mixed", config=config)
    count = rng.choice((0, 1, 2, 3, 4, 6, 8))
    kinds, weights = zip(*POOL, strict=True)
    faults = [_pool_fault(rng, p, rng.choices(kinds, weights)[0]) for _ in range(count)]
    return dataclasses.replace(p, faults=tuple(sorted(faults, key=lambda f: f.at)))


def _window(p: Params, faults: list[Fault] | tuple[Fault, ...], slack: float = 0.5) -> float:
    """Until the last fault ends, and a little more: the recovery is the convergence phase's."""
    end = max((f.at + f.duration for f in faults), default=0.0)
    return end + p.ttl * slack


def _pool_fault(rng: random.Random, p: Params, kind: str) -> Fault:
    at = rng.uniform(0.0, p.window)
    node = LEADER if rng.random() < 0.5 else rng.randrange(p.n)
    duration = span(rng, p.ttl)
    if kind == "peer_cut":
        return Fault(at, kind, node, REPLICA, duration)
    if kind == "slow_dcs":
        return Fault(at, kind, node, duration=duration, value=rng.choice((0.3, 1.0, 2.0)))
    if kind == "drop":
        return Fault(at, kind, node, duration=duration, value=rng.choice((0.3, 0.7, 1.0)))
    if kind == "watch_lag":
        return Fault(at, kind, node, duration=duration, value=rng.choice((0.5, 2.0, 5.0)))
    if kind == "stall":
        return Fault(at, kind, node, duration=duration, value=rng.choice((1.0, 3.0, 6.0)))
    if kind == "switchover":
        return Fault(at, kind, LEADER, rng.choice((-1, REPLICA)), value=rng.choice((0, 0, 3)))
    if kind == "cut_next":
        return Fault(at, "next_leader", 0, duration=p.window, value=0.0, extra="dcs_cut")
    if kind == "config":
        return Fault(at, "config", extra=_timing_edit(rng, p.config))
    if kind == "slow_promote":
        return Fault(at, kind, node, duration=duration, value=p.ttl * rng.uniform(0.3, 1.2))
    return Fault(at, kind, node, duration=duration)


def _timing_edit(rng: random.Random, config: DynamicConfig) -> dict[str, float]:
    """A new (ttl, loop_wait, retry_timeout), up or down, that the API would accept."""
    ttl = min(60.0, max(4.0, config.ttl_s * rng.choice((0.5, 0.7, 1.5, 2.0, 3.0))))
    retry = min(ttl / 3, config.retry_timeout_s * rng.choice((0.5, 1.0, 2.0)))
    loop = max(1.0, min(ttl - 2 * retry, config.loop_wait_s * rng.choice((0.5, 1.0, 2.0))))
    return {
        "ttl_s": round(ttl, 3),
        "loop_wait_s": round(loop, 3),
        "retry_timeout_s": round(retry, 3),
    }


# -- lease timing, where observers judge alone --------------------------------------------------


def leader_cut(rng: random.Random, seed: int) -> Params:
    """The holder is cut from the store: it must demote before any observer's clock says
    its lease ended.  Kubernetes: nobody but the observers ends it."""
    p = base(rng, seed, "leader_cut", server_leases=False)
    faults = [Fault(rng.uniform(0, 3), "dcs_cut", LEADER, duration=p.ttl * rng.uniform(1.2, 2.2))]
    if rng.random() < 0.5:
        faults.append(Fault(rng.uniform(0, p.ttl), "pg_crash", LEADER))
    return dataclasses.replace(p, faults=tuple(faults), window=_window(p, faults))


def leader_freeze(rng: random.Random, seed: int) -> Params:
    """The holder's agent is frozen past its lease (its fence and PostgreSQL run on)."""
    p = base(rng, seed, "leader_freeze", watchdog_margin=rng.choice((5.0, 5.0, 1.0, None)))
    freeze = Fault(rng.uniform(0, 3), "freeze", LEADER, duration=p.ttl * rng.uniform(1.3, 2.2))
    return dataclasses.replace(p, faults=(freeze,), window=_window(p, [freeze]))


def stall_cut(rng: random.Random, seed: int) -> Params:
    """Slow but alive: the holder's agent keeps stopping for seconds, and then loses the store."""
    p = base(rng, seed, "stall_cut", server_leases=False, quantum=0.0)
    stall = Fault(0.0, "stall", LEADER, duration=p.ttl * 2, value=rng.uniform(1.0, 6.0))
    cut = Fault(rng.uniform(0.5, p.ttl), "dcs_cut", LEADER, duration=p.ttl * 2)
    return dataclasses.replace(p, faults=(stall, cut), window=_window(p, [stall, cut]))


def renew_stall(rng: random.Random, seed: int) -> Params:
    """The holder's agent stalls while a renewal is on the wire (its answer is read seconds
    late), and the store becomes unreachable right after: the lease runs from the request's
    start, not from when the answer was read."""
    p = base(rng, seed, "renew_stall", server_leases=False)
    retry = p.config.retry_timeout_s
    stall = Fault(rng.uniform(0, p.ttl), "stall_renewal", LEADER, duration=p.ttl * 3,
                  value=rng.uniform(retry, 2 * retry))  # fmt: skip
    return dataclasses.replace(p, faults=(stall,), window=p.ttl * 3.5)


def leader_agent_kill(rng: random.Random, seed: int) -> Params:
    """The holder's agent dies (its PostgreSQL runs on) and comes back after a lease."""
    config = draw_config(
        rng, synchronous_mode=rng.choice((SyncMode.OFF, SyncMode.OFF, SyncMode.ON))
    )
    p = base(rng, seed, "leader_agent_kill", config=config, write_rate=rng.choice((0.0, 2.0)))
    kill = Fault(rng.uniform(0, 3), "agent_kill", LEADER, duration=p.ttl * rng.uniform(1.3, 2.2))
    return dataclasses.replace(p, faults=(kill,), window=_window(p, [kill]))


def wall_skew(rng: random.Random, seed: int) -> Params:
    """Hosts' wall clocks disagree by up to a lease (no NTP): nothing may compare them."""
    p = base(rng, seed, "wall_skew", server_leases=False)
    walls = tuple(p.wall_origins[0] + rng.uniform(-p.ttl, p.ttl) for _ in range(p.n))
    cut = Fault(rng.uniform(0, 3), "dcs_cut", LEADER, duration=p.ttl * rng.uniform(1.2, 2.2))
    return dataclasses.replace(p, wall_origins=walls, faults=(cut,), window=_window(p, [cut]))


def coarse_tie(rng: random.Random, seed: int) -> Params:
    """Coarse clocks (1/8..1/64 s): a reading often equals a deadline exactly."""
    p = base(rng, seed, "coarse_tie", server_leases=False, drift=0.0)
    quantum = rng.choice((1 / 8, 1 / 16, 1 / 64))
    faults = tuple(
        Fault(k * p.ttl * 1.5 + rng.uniform(0, 1), "dcs_cut", LEADER, duration=p.ttl * 1.2)
        for k in range(3)
    )
    return dataclasses.replace(
        p, quantum=quantum, faults=faults, window=p.ttl * 4.5, write_rate=5.0, watchdog_margin=None
    )


# -- the reproductions of the assembled-node faults ---------------------------------------------


def ttl_edit_freeze(rng: random.Random, seed: int) -> Params:
    """(1) ttl raised at runtime, then the holder's agent frozen: the record must carry the
    ttl the holder judges by, and so must its fence."""
    ttl, loop, retry = rng.choice(((10.0, 2.0, 3.0), (8.0, 2.0, 3.0), (15.0, 5.0, 5.0)))
    config = draw_config(rng, ttl_s=ttl, loop_wait_s=loop, retry_timeout_s=retry)
    p = base(rng, seed, "ttl_edit_freeze", config=config, watchdog_margin=5.0)
    factor = rng.choice((2.0, 3.0))
    edit = Fault(0.0, "config", extra={"ttl_s": ttl * factor})
    freeze = Fault(loop * 2 + rng.uniform(0, 2), "freeze", LEADER, duration=ttl * factor * 1.5)
    return dataclasses.replace(p, faults=(edit, freeze), window=ttl * factor * 3)


def failsafe_cut(rng: random.Random, seed: int) -> Params:
    """(2) failsafe: the primary cut from the store only; or some member cannot confirm it;
    or the whole store gone."""
    mode = rng.choice((SyncMode.OFF, SyncMode.OFF, SyncMode.ON))  # async: where two primaries bite
    # failsafe only holds if the outage is noticed (a renewal failing after retry_timeout)
    # before the demotion point: loop_wait + 2 * retry_timeout well under ttl
    ttl, loop, retry = rng.choice(((10.0, 2.0, 3.0), (20.0, 5.0, 5.0), (30.0, 5.0, 10.0)))
    config = draw_config(rng, failsafe_mode=True, synchronous_mode=mode, ttl_s=ttl,
                         loop_wait_s=loop, retry_timeout_s=retry)  # fmt: skip
    tags = tuple(Tags() for _ in range(3))
    # quiet at times: a member cut from the leader stops streaming and falls behind, and the
    # freshest-candidate rule alone would then keep it from ever taking the lock
    writes = rng.choice((0.0, 0.5, 2.0, 5.0))
    p = base(rng, seed, "failsafe_cut", n=3, config=config, gossip=True, tags=tags,
             write_rate=writes)  # fmt: skip
    dur = p.ttl * rng.uniform(1.5, 4)
    variant = rng.choice(("primary", "unconfirmed", "unconfirmed", "store"))
    faults = [Fault(1.0, "store_down" if variant == "store" else "dcs_cut", LEADER, duration=dur)]
    if variant == "unconfirmed":
        faults.append(Fault(rng.uniform(0, p.ttl), "peer_cut", LEADER, REPLICA, duration=dur))
    return dataclasses.replace(p, faults=tuple(faults), window=dur + p.ttl)


def cluster_restart(rng: random.Random, seed: int) -> Params:
    """(4) every agent stops cleanly and starts again: only disk and store survive.  Planned:
    no acknowledged write may be lost, and a leader must be elected, sync mode too."""
    p = base(rng, seed, "cluster_restart", watchdog_margin=rng.choice((5.0, None)))
    order = list(range(p.n))
    rng.shuffle(order)
    down = p.ttl * rng.uniform(0.2, 3)
    stop = Fault(rng.uniform(0, 2), "cluster_restart", duration=down, value=rng.uniform(0, 2),
                 extra=tuple(order))  # fmt: skip
    return dataclasses.replace(p, faults=(stop,), window=down + p.ttl + 10, start_fail_p=0.0)


def group_freeze(rng: random.Random, seed: int) -> Params:
    """(5) the agent's process group stopped (Ctrl-Z): the fence must not stop with it."""
    p = base(rng, seed, "group_freeze", watchdog_margin=5.0, server_leases=rng.random() < 0.3)
    config = dataclasses.replace(p.config, synchronous_mode=SyncMode.OFF)
    freeze = Fault(rng.uniform(0, 3), "freeze", LEADER, duration=p.ttl * rng.uniform(1.3, 2.2))
    return dataclasses.replace(p, config=config, sync_actor=False, faults=(freeze,),
                               window=_window(p, [freeze]))  # fmt: skip


def slow_promote_freeze(rng: random.Random, seed: int) -> Params:
    """(9) a standby promoting slowly when its agent freezes: the fence kills it anyway."""
    p = base(rng, seed, "slow_promote_freeze", watchdog_margin=5.0)
    config = dataclasses.replace(p.config, synchronous_mode=SyncMode.OFF)
    slow = p.ttl * rng.uniform(1.0, 2.0)
    faults = [Fault(0.0, "slow_promote", i, duration=p.ttl * 8, value=slow) for i in range(p.n)]
    faults.append(Fault(0.5, "next_leader", 0, duration=p.ttl * 4, value=0.05, extra="freeze"))
    faults.append(Fault(1.0, "machine", LEADER, duration=p.ttl * 6))
    return dataclasses.replace(p, config=config, sync_actor=False, faults=tuple(faults),
                               window=p.ttl * 7)  # fmt: skip


def pause_cut(rng: random.Random, seed: int) -> Params:
    """(10), (13) paused, and the store out of reach: no fence fires, no agent spins."""
    p = base(rng, seed, "pause_cut")
    faults = (
        Fault(0.0, "pause", duration=p.ttl * 6),
        Fault(2.0, rng.choice(("dcs_cut", "store_down")), LEADER,
              duration=p.ttl * rng.uniform(1.5, 3)),
    )  # fmt: skip
    return dataclasses.replace(p, faults=faults, window=p.ttl * 5)


# -- planned events and elections ---------------------------------------------------------------


def switchover(rng: random.Random, seed: int) -> Params:
    """Planned switchovers, to a named candidate or any, with lagging standbys: none may lose
    an acknowledged write."""
    p = base(rng, seed, "switchover")
    lags = tuple(rng.choice((0.01, 0.1, 1.0, 3.0)) for _ in range(p.n))
    faults: list[Fault] = []
    for k in range(rng.choice((1, 2, 3))):
        at = k * p.ttl + rng.uniform(0, 2)
        target = rng.choice((-1, REPLICA, REPLICA))
        value = rng.choice((0, 0, 2))
        if target == REPLICA and rng.random() < 0.4:  # every standby lags, the candidate too
            lead, cut_s = rng.uniform(0.1, 0.6), rng.uniform(1, 4)
            faults.append(Fault(at, "switchover", LEADER, target, cut_s, value, extra=lead))
        else:
            faults.append(Fault(at, "switchover", LEADER, target, value=value))
        if rng.random() < 0.5:
            # a standby stops streaming moments before: its member record does not show it yet
            cut = Fault(at - rng.uniform(0.1, 0.6), "peer_cut", LEADER, REPLICA, rng.uniform(1, 4))
            faults.append(cut)
    faults.sort(key=lambda f: f.at)
    window = p.ttl * (sum(f.kind == "switchover" for f in faults) + 1)
    return dataclasses.replace(p, lags=lags, faults=tuple(faults), window=window, write_rate=5.0)


def pause_switchover(rng: random.Random, seed: int) -> Params:
    """A switchover to a named candidate in pause (as Patroni allows), through the
    leader's, the candidate's or a third member's console; half with the candidate cut
    from the leader moments before (its record does not show it lagging yet), some with
    the leader or a replica frozen on the way, past the lease at times.  No acknowledged
    write may be lost; nobody else may act while paused (checks i)."""
    p = base(rng, seed, "pause_switchover")
    lags = tuple(rng.choice((0.01, 0.1, 1.0)) for _ in range(p.n))
    at, candidate = rng.uniform(1.0, 3.0), rng.randrange(p.n)
    via = rng.choice(("leader", "candidate", "other"))
    faults = [
        Fault(0.0, "pause", duration=p.ttl * 5),
        Fault(at, "switchover_via", LEADER, candidate, extra=via),
    ]
    if rng.random() < 0.5:
        lead = rng.uniform(0.1, 0.6)
        faults.append(Fault(at - lead, "peer_cut", LEADER, candidate, rng.uniform(1, 4)))
    if rng.random() < 0.4:
        node, span_s = rng.choice((LEADER, REPLICA)), p.ttl * rng.choice((0.5, 1.5))
        faults.append(Fault(at + rng.uniform(0, 1), "freeze", node, duration=span_s))
    faults.sort(key=lambda f: f.at)
    return dataclasses.replace(p, lags=lags, faults=tuple(faults), window=p.ttl * 5 + 2,
                               write_rate=5.0)  # fmt: skip


def forced_failover(rng: random.Random, seed: int) -> Params:
    """(14) `ctl failover --candidate C --force` with no leader that could lead, sent
    through C's own console or the other replica's: only the request can elect C, and
    it must, within a bound (checks l)."""
    p = base(rng, seed, "forced_failover")
    cfg = p.config
    gap = rng.uniform(1.0, 2.5)  # writes the stopped replicas miss, even at 2 a second
    via = rng.choice(("candidate", "candidate", "other"))
    asked = 2 * gap + 1.0 + 2 * cfg.ttl_s + cfg.loop_wait_s + SETTLE_S
    hold = asked + request_bound(cfg.loop_wait_s, cfg.retry_timeout_s) + 1.0
    fault = Fault(rng.uniform(0, 2), "forced_failover", duration=hold, value=gap, extra=via)
    tags = tuple(Tags() for _ in range(p.n))  # any member may be named
    return dataclasses.replace(p, tags=tags, faults=(fault,), window=fault.at + hold + 1.0,
                               start_fail_p=0.0)  # fmt: skip


def member_records(rng: random.Random, seed: int) -> Params:
    """(15) etcd, a cluster at rest with long loops (ttl 30 / loop_wait 20 is valid): no
    running, connected member's record may expire with its session lease (checks m),
    also across a ttl edit that moves the session to a new lease."""
    ttl, loop, retry = rng.choice(((30.0, 20.0, 5.0), (12.0, 8.0, 2.0), *TIMINGS))
    config = draw_config(rng, ttl_s=ttl, loop_wait_s=loop, retry_timeout_s=retry)
    p = base(rng, seed, "member_records", config=config, server_leases=True)
    faults = []
    if rng.random() < 0.5:
        edit = Fault(rng.uniform(0, ttl), "config", extra=_timing_edit(rng, config))
        faults.append(edit)
    window = ttl * rng.uniform(3.0, 5.0)
    return dataclasses.replace(p, faults=tuple(faults), window=window,
                               write_rate=rng.choice((0.0, 0.5, 2.0)))  # fmt: skip


def config_edits(rng: random.Random, seed: int) -> Params:
    """ttl, loop_wait and retry_timeout edited up and down mid-lease, with leader faults."""
    p = base(rng, seed, "config_edits")
    faults: list[Fault] = []
    config = p.config
    for k in range(rng.choice((2, 3, 4))):
        edit = _timing_edit(rng, config)
        config = dataclasses.replace(config, **edit)
        faults.append(Fault(k * p.ttl + rng.uniform(0, p.ttl), "config", extra=edit))
    kind = rng.choice(("freeze", "dcs_cut", "machine", "switchover"))
    at = rng.uniform(0, len(faults) * p.ttl)
    faults.append(Fault(at, kind, LEADER, -1, duration=p.ttl * rng.uniform(0.5, 2)))
    return dataclasses.replace(p, faults=tuple(sorted(faults, key=lambda f: f.at)),
                               window=p.ttl * (len(faults) + 2))  # fmt: skip


def sync_failover(rng: random.Random, seed: int) -> Params:
    """Synchronous mode: the primary dies with standbys at different lags."""
    config = draw_config(
        rng, synchronous_mode=SyncMode.ON, synchronous_mode_strict=rng.random() < 0.3
    )
    p = base(rng, seed, "sync_failover", config=config, sync_actor=True, write_rate=5.0)
    lags = tuple(rng.choice((0.01, 0.3, 2.0)) for _ in range(p.n))
    kind = rng.choice(("machine", "pg_crash", "split", "freeze"))
    fault = Fault(rng.uniform(1, p.ttl / 2), kind, LEADER, duration=p.ttl * rng.uniform(1, 2))
    return dataclasses.replace(p, lags=lags, faults=(fault,), window=_window(p, [fault]))


def quorum(rng: random.Random, seed: int) -> Params:
    """Quorum commit (ANY k): a promoted standby must see enough others, none ahead of it."""
    n = rng.choice((4, 5))
    config = draw_config(rng, synchronous_mode=SyncMode.QUORUM,
                         synchronous_node_count=rng.choice((1, 1, 2)))  # fmt: skip
    tags = tuple(Tags() for _ in range(n))
    p = base(rng, seed, "quorum", n=n, config=config, tags=tags, sync_actor=True, write_rate=5.0)
    lags = tuple(rng.choice((0.01, 0.5, 3.0)) for _ in range(n))
    fault = Fault(rng.uniform(2, p.ttl / 2 + 2), "machine", LEADER, duration=p.ttl * 1.8)
    return dataclasses.replace(p, lags=lags, faults=(fault,), window=_window(p, [fault]))


def lagging_failover(rng: random.Random, seed: int) -> Params:
    """Asynchronous: the primary dies while one standby lags seconds behind another."""
    config = draw_config(
        rng, synchronous_mode=SyncMode.OFF, maximum_lag_on_failover=rng.choice((3, 6))
    )
    p = base(rng, seed, "lagging_failover", config=config, sync_actor=False, write_rate=5.0)
    tags = tuple(Tags(failover_priority=rng.choice((1, 2))) for _ in range(p.n))
    lags = tuple(rng.choice((0.01, 1.0, 2.5)) for _ in range(p.n))
    fault = Fault(rng.uniform(2, p.ttl / 2 + 2), rng.choice(("machine", "pg_crash")), LEADER,
                  duration=p.ttl * 1.8)  # fmt: skip
    return dataclasses.replace(p, tags=tags, lags=lags, faults=(fault,),
                               window=_window(p, [fault]))  # fmt: skip


def nofailover_crash(rng: random.Random, seed: int) -> Params:
    """Members that may not be promoted, often the freshest: they must never take over."""
    p = base(rng, seed, "nofailover_crash", write_rate=5.0)
    tags = [Tags(nofailover=True) if i % 2 else Tags(failover_priority=rng.choice((0, 1)))
            for i in range(p.n)]  # fmt: skip
    tags[0] = Tags()
    # the others lag behind even the position the leader last published (every loop_wait)
    behind = p.config.loop_wait_s * 1.5 + 2.0
    lags = tuple(0.01 if t.nofailover or t.failover_priority == 0 else behind for t in tags)
    fault = Fault(rng.uniform(2, p.ttl / 2 + 2), "machine", LEADER, duration=p.ttl * 1.8)
    return dataclasses.replace(p, tags=tuple(tags), lags=lags, faults=(fault,),
                               window=_window(p, [fault]))  # fmt: skip


def bootstrap(rng: random.Random, seed: int) -> Params:
    """An empty cluster: initdb failures, failed starts, members starting late, a slow store."""
    p = base(rng, seed, "bootstrap", bootstrap_failures=rng.choice((1, 2)),
             start_fail_p=rng.choice((0.0, 0.2)),
             dcs_latency=rng.choice((0.05, 0.3)))  # fmt: skip
    delays = tuple(rng.uniform(0, 10) for _ in range(p.n))
    return dataclasses.replace(p, start_delays=delays, window=p.ttl)


def new_leader_crash(rng: random.Random, seed: int) -> Params:
    """Whoever takes the lock over is hit at once (crash, cut, freeze) as it promotes."""
    mode = rng.choice((SyncMode.OFF, SyncMode.ON))
    config = draw_config(rng, synchronous_mode=mode)
    p = base(rng, seed, "new_leader_crash", config=config, write_rate=5.0)
    hit = rng.choice(("machine", "pg_crash", "dcs_cut", "freeze"))
    faults = (
        Fault(0.5, "next_leader", 0, duration=p.ttl * 3, value=rng.uniform(0, 2), extra=hit),
        Fault(1.0, rng.choice(("machine", "pg_crash", "dcs_cut")), LEADER, duration=p.ttl * 2),
    )
    return dataclasses.replace(p, faults=faults, window=p.ttl * 3.5)


def promote_cut(rng: random.Random, seed: int) -> Params:
    """The new holder loses the store while its slow promotion (or start) is under way."""
    p = base(rng, seed, "promote_cut", server_leases=False)
    slow = p.ttl * rng.uniform(0.8, 1.5)
    faults = [Fault(0.0, "slow_promote", i, duration=p.ttl * 8, value=slow) for i in range(p.n)]
    faults.append(Fault(0.5, "next_leader", 0, duration=p.ttl * 4, value=0.05, extra="dcs_cut"))
    faults.append(Fault(1.0, "machine", LEADER, duration=p.ttl * 6))
    return dataclasses.replace(p, faults=tuple(faults), window=p.ttl * 7)


FAMILIES: dict[str, Family] = {
    "mixed": mixed,
    "leader_cut": leader_cut,
    "leader_freeze": leader_freeze,
    "stall_cut": stall_cut,
    "renew_stall": renew_stall,
    "leader_agent_kill": leader_agent_kill,
    "wall_skew": wall_skew,
    "coarse_tie": coarse_tie,
    "ttl_edit_freeze": ttl_edit_freeze,
    "failsafe_cut": failsafe_cut,
    "cluster_restart": cluster_restart,
    "group_freeze": group_freeze,
    "slow_promote_freeze": slow_promote_freeze,
    "pause_cut": pause_cut,
    "switchover": switchover,
    "forced_failover": forced_failover,
    "pause_switchover": pause_switchover,
    "member_records": member_records,
    "config_edits": config_edits,
    "sync_failover": sync_failover,
    "quorum": quorum,
    "lagging_failover": lagging_failover,
    "nofailover_crash": nofailover_crash,
    "bootstrap": bootstrap,
    "new_leader_crash": new_leader_crash,
    "promote_cut": promote_cut,
}
FAMILY_MIX: tuple[tuple[str, int], ...] = tuple(
    (name, 30 if name == "mixed" else 3) for name in FAMILIES
)
"""The CI mix: a third of the schedules from the whole pool, the rest spread over the families."""
_CUMULATIVE: list[tuple[int, str]] = []


def pick_family(seed: int) -> str:
    """A family for a seed, by FAMILY_MIX's weights (deterministic, no Random needed)."""
    if not _CUMULATIVE:
        total = 0
        for name, weight in FAMILY_MIX:
            total += weight
            _CUMULATIVE.append((total, name))
    total = _CUMULATIVE[-1][0]
    slot = (seed * 2654435761) % 2**32 % total
    return next(name for bound, name in _CUMULATIVE if slot < bound)
