"""A random fault schedule, drawn from one seed: the cluster's shape and what goes wrong.

Everything a run does follows from `make_params(seed)` and the World's own
Random(seed), so a seed replays exactly.  Faults start only after the
cluster bootstrapped and converged (a member that dies holding the
initialise key before initdb leaves the cluster stuck, as in Patroni -- see
README), and all of them end at `heal_at`.
"""

from __future__ import annotations

import dataclasses
import random
from typing import NamedTuple

from messages.config import DynamicConfig, SyncMode, Tags

KINDS = (
    ("dcs_cut", 6),
    ("split", 3),
    ("isolate", 3),
    ("peer_cut", 2),
    ("freeze", 4),
    ("pg_crash", 4),
    ("machine", 3),
    ("agent_restart", 2),
    ("slow_dcs", 2),
    ("drop", 2),
    ("watch_lag", 3),
    ("switchover", 3),
    ("cut_next_leader", 3),
)


class Fault(NamedTuple):
    at: int
    """Ticks after the cluster first converged."""
    kind: str
    node: int
    other: int = -1
    duration: int = 0
    value: float = 0.0

    def describe(self) -> str:
        parts = [f"+{self.at}", self.kind, f"n{self.node}"]
        if self.other >= 0:
            parts.append(f"n{self.other}")
        if self.duration:
            parts.append(f"for {self.duration}")
        if self.value:
            parts.append(f"value {self.value:.2f}")
        return " ".join(parts)


@dataclasses.dataclass(frozen=True, slots=True)
class Params:
    seed: int
    n: int
    config: DynamicConfig
    server_lease: bool
    tags: tuple[Tags, ...]
    wall_offsets: tuple[float, ...]
    start_ticks: tuple[int, ...]
    stream_rate: int
    write_p: float
    start_fail_p: float
    bootstrap_failures: int
    """How many initdb attempts fail (post-bootstrap fails, initialisation is cancelled)."""
    fault_ticks: int
    faults: tuple[Fault, ...]
    watchdog_margin: float | None = 5.0
    """The fence's safety margin; None: no fence runs (watchdog mode off)."""

    def describe(self) -> str:
        cfg = self.config
        mode = cfg.synchronous_mode.value + (" strict" if cfg.synchronous_mode_strict else "")
        tags = ", ".join(
            f"n{i}:{'nofailover' if t.nofailover else ''}{'prio' + str(t.failover_priority)}"
            f"{' nosync' if t.nosync else ''}"
            for i, t in enumerate(self.tags)
        )
        lines = [
            f"seed {self.seed}: {self.n} nodes, sync {mode}, server lease {self.server_lease},"
            f" ttl {cfg.ttl_s} loop {cfg.loop_wait_s} retry {cfg.retry_timeout_s}"
            f" start_timeout {cfg.primary_start_timeout_s} max_lag {cfg.maximum_lag_on_failover}",
            f"  tags {tags}; start ticks {self.start_ticks}",
            "  faults: " + ("; ".join(f.describe() for f in self.faults) or "none"),
        ]
        return "\n".join(lines)


BASE_CONFIG = DynamicConfig(
    ttl_s=10.0,
    loop_wait_s=2.0,
    retry_timeout_s=3.0,
    primary_start_timeout_s=8.0,
    maximum_lag_on_failover=6,
)


def make_params(seed: int) -> Params:
    rng = random.Random(seed ^ 0x5EED)
    n = rng.choice((3, 3, 4, 5))
    fault_ticks = rng.randint(20, 70)
    return Params(
        seed=seed,
        n=n,
        config=_config(rng),
        server_lease=rng.random() < 0.5,
        tags=_tags(rng, n),
        wall_offsets=tuple(rng.uniform(-5, 5) for _ in range(n)),
        start_ticks=tuple(rng.choice((1, 1, 2, 3, 6)) for _ in range(n)),
        stream_rate=rng.choice((1, 2, 3, 5)),
        write_p=rng.choice((0.3, 0.7, 1.0)),
        start_fail_p=rng.choice((0.0, 0.0, 0.1)),
        bootstrap_failures=rng.choice((0, 0, 0, 1, 2)),
        fault_ticks=fault_ticks,
        faults=_faults(rng, n, fault_ticks),
        watchdog_margin=rng.choice((5.0, 5.0, 5.0, None)),
    )


def _config(rng: random.Random) -> DynamicConfig:
    mode = rng.choice((SyncMode.OFF, SyncMode.OFF, SyncMode.ON))
    strict = mode is SyncMode.ON and rng.random() < 0.3
    return dataclasses.replace(BASE_CONFIG, synchronous_mode=mode, synchronous_mode_strict=strict)


def _tags(rng: random.Random, n: int) -> tuple[Tags, ...]:
    """Random tags, keeping at least two members that may be promoted."""
    tags = []
    for i in range(n):
        if i < 2:
            tags.append(Tags(failover_priority=rng.choice((1, 1, 2))))
            continue
        roll = rng.random()
        if roll < 0.2:
            tags.append(Tags(nofailover=True))
        elif roll < 0.3:
            tags.append(Tags(failover_priority=0))
        elif roll < 0.4:
            tags.append(Tags(nosync=True))
        else:
            tags.append(Tags(failover_priority=rng.choice((1, 2))))
    order = list(range(n))
    rng.shuffle(order)
    return tuple(tags[i] for i in order)


def _faults(rng: random.Random, n: int, ticks: int) -> tuple[Fault, ...]:
    kinds = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    count = rng.choice((0, 1, 2, 3, 4, 6, 8))
    made = [_fault(rng, rng.choices(kinds, weights)[0], n, ticks) for _ in range(count)]
    return tuple(sorted(made))


def _fault(rng: random.Random, kind: str, n: int, ticks: int) -> Fault:
    at = rng.randrange(ticks)
    node = rng.randrange(n)
    duration = rng.choice((1, 2, 4, 7, 9, 12, 20, 30))
    if kind == "peer_cut":
        return Fault(at, kind, node, (node + 1 + rng.randrange(n - 1)) % n, duration)
    if kind in ("slow_dcs", "drop", "watch_lag"):
        value = {"slow_dcs": rng.choice((1.0, 2.0, 4.0)), "drop": rng.choice((0.3, 0.7, 1.0))}
        return Fault(at, kind, node, -1, duration, value.get(kind, rng.choice((0.1, 0.3, 0.6))))
    if kind == "switchover":
        candidate = rng.randrange(-1, n)
        return Fault(at, kind, node, candidate, rng.choice((0, 0, 0, 5)))
    if kind == "agent_restart":
        duration = rng.choice((1, 2, 3))
    return Fault(at, kind, node, -1, duration)


@dataclasses.dataclass(slots=True)
class RunState:
    """Where a run is in its schedule: when faults began, when they all end."""

    faults: tuple[Fault, ...]
    base: int
    heal_at: int
    next_fault: int = 0
    machine_back: dict[str, int] = dataclasses.field(default_factory=dict)
