"""A schedule, drawn from (family, seed): the cluster's shape, its clocks, and what goes wrong.

Everything a run does follows from `make_params(seed, family)` and the
World's own Random(seed), so a (family, seed) pair replays exactly.  Faults
start once the cluster bootstrapped and converged, and all end at the heal.

`mixed` draws faults from the whole pool; every other family aims at one
way of failing, on the lease model where it matters (families.py):
`make_params(seed)` without a family picks one by seed from FAMILY_MIX.
"""

from __future__ import annotations

import dataclasses
import random
import zlib
from typing import Any

from messages.config import DynamicConfig, SyncMode, Tags

TIMINGS = ((10.0, 2.0, 3.0), (10.0, 3.0, 3.0), (30.0, 10.0, 10.0), (15.0, 5.0, 5.0),
           (20.0, 10.0, 5.0), (8.0, 2.0, 3.0))  # fmt: skip
"""(ttl, loop_wait, retry_timeout), each with loop_wait + 2 * retry_timeout <= ttl."""
EPOCH = 1_790_000_000.0
LEADER = -10
"""A fault's node: whoever holds the lock when the fault begins."""
REPLICA = -11
"""A fault's node: a member not holding the lock, drawn when the fault begins."""


@dataclasses.dataclass(frozen=True, slots=True)
class Fault:
    at: float
    """Seconds after the cluster first converged."""
    kind: str
    node: int = 0
    other: int = -1
    duration: float = 0.0
    value: float = 0.0
    extra: Any = None

    def describe(self) -> str:
        parts = [f"+{self.at:.2f}", self.kind, f"n{self.node}"]
        if self.other >= 0:
            parts.append(f"n{self.other}")
        if self.duration:
            parts.append(f"for {self.duration:.2f}s")
        if self.value:
            parts.append(f"value {self.value:g}")
        if self.extra is not None:
            parts.append(f"{self.extra}")
        return " ".join(parts)


@dataclasses.dataclass(frozen=True, slots=True)
class Params:
    seed: int
    family: str
    n: int
    config: DynamicConfig
    server_leases: bool
    """etcd: the store expires the lock itself; False: Kubernetes, observers judge alone."""
    tags: tuple[Tags, ...]
    clock_origins: tuple[float, ...]
    clock_rates: tuple[float, ...]
    wall_origins: tuple[float, ...]
    quantum: float
    server_rate: float
    start_delays: tuple[float, ...]
    write_rate: float
    lags: tuple[float, ...]
    start_fail_p: float
    bootstrap_failures: int
    faults: tuple[Fault, ...]
    window: float
    """Seconds from the first convergence to the heal."""
    watchdog_margin: float | None
    dcs_latency: float
    timing: float = 1.0
    """Multiplier of PostgreSQL's start and stop durations."""
    sync_actor: bool = False
    gossip: bool = False

    @property
    def ttl(self) -> float:
        return self.config.ttl_s

    def describe(self) -> str:
        cfg = self.config
        mode = cfg.synchronous_mode.value + (" strict" if cfg.synchronous_mode_strict else "")
        tags = ", ".join(
            f"n{i}:{'nofailover ' if t.nofailover else ''}prio{t.failover_priority}"
            f"{' nosync' if t.nosync else ''}"
            for i, t in enumerate(self.tags)
        )
        drift = ", ".join(f"{(r - 1) * 1000:+.1f}" for r in self.clock_rates)
        lags = ", ".join(f"{lag:.2f}" for lag in self.lags)
        lines = [
            f"family {self.family} seed {self.seed}: {self.n} nodes,"
            f" {'etcd (server leases)' if self.server_leases else 'kubernetes (observers judge)'},"
            f" sync {mode}, failsafe {cfg.failsafe_mode}, fence margin {self.watchdog_margin}",
            f"  ttl {cfg.ttl_s:g} loop_wait {cfg.loop_wait_s:g} retry {cfg.retry_timeout_s:g}"
            f" primary_start_timeout {cfg.primary_start_timeout_s:g}"
            f" max_lag {cfg.maximum_lag_on_failover}; writes {self.write_rate:g}/s;"
            f" clock quantum {self.quantum:g}; drift (permille) {drift}",
            f"  tags {tags}; lags {lags}",
            f"  faults over {self.window:.1f}s: "
            + ("; ".join(f.describe() for f in self.faults) or "none"),
        ]
        return "\n".join(lines)


def make_params(seed: int, family: str | None = None) -> Params:
    from .families import FAMILIES, pick_family

    name = family or pick_family(seed)
    rng = random.Random(zlib.crc32(f"{name}:{seed}".encode()) ^ 0x5EED)
    return FAMILIES[name](rng, seed)


# -- the shared draws ------------------------------------------------------------------------


def base(rng: random.Random, seed: int, family: str, **over: Any) -> Params:
    """A random cluster with no faults; families override what they aim at."""
    n = over.pop("n", None) or rng.choice((3, 3, 3, 4, 5))
    config = over.pop("config", None) or draw_config(rng)
    drift = over.pop("drift", None)
    if drift is None:
        drift = rng.choice((0.0, 0.001, 0.005, 0.01))
    sync = config.synchronous_mode is not SyncMode.OFF
    params = Params(
        seed=seed,
        family=family,
        n=n,
        config=config,
        server_leases=rng.random() < 0.5,
        tags=draw_tags(rng, n),
        clock_origins=tuple(float(rng.randrange(1000, 1_000_000)) for _ in range(n)),
        clock_rates=tuple(1.0 + rng.uniform(-drift, drift) for _ in range(n)),
        wall_origins=tuple(EPOCH + rng.uniform(-5.0, 5.0) for _ in range(n)),
        quantum=rng.choice((0.0, 0.0, 0.0, 1 / 1024, 1 / 64)),
        server_rate=1.0 + rng.uniform(-drift, drift),
        start_delays=tuple(rng.uniform(0.0, 2.0) for _ in range(n)),
        write_rate=rng.choice((0.5, 2.0, 5.0)),
        lags=tuple(
            rng.uniform(0.005, 0.2) if rng.random() < 0.8 else rng.uniform(0.5, 4.0)
            for _ in range(n)
        ),
        start_fail_p=rng.choice((0.0, 0.0, 0.1)),
        bootstrap_failures=rng.choice((0, 0, 0, 1)),
        faults=(),
        window=config.ttl_s * rng.uniform(1.5, 3.5),
        watchdog_margin=rng.choice((5.0, 5.0, 5.0, None)),
        dcs_latency=rng.uniform(0.0005, 0.005),
        sync_actor=sync,
        gossip=config.failsafe_mode,
    )
    return dataclasses.replace(params, **over)


def draw_config(rng: random.Random, **over: Any) -> DynamicConfig:
    ttl, loop, retry = rng.choice(TIMINGS)
    mode = rng.choice((SyncMode.OFF, SyncMode.OFF, SyncMode.ON))
    strict = mode is SyncMode.ON and rng.random() < 0.3
    config = DynamicConfig(
        ttl_s=ttl,
        loop_wait_s=loop,
        retry_timeout_s=retry,
        primary_start_timeout_s=ttl * rng.choice((0.5, 1.0, 2.0)),
        maximum_lag_on_failover=rng.choice((3, 6, 20)),
        synchronous_mode=mode,
        synchronous_mode_strict=strict,
    )
    config = dataclasses.replace(config, **over)
    if config.synchronous_mode is SyncMode.OFF:
        config = dataclasses.replace(config, synchronous_mode_strict=False)
    return config


def draw_tags(rng: random.Random, n: int) -> tuple[Tags, ...]:
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


def span(rng: random.Random, ttl: float) -> float:
    """A fault's duration: from a blip to several leases."""
    return ttl * rng.choice((0.05, 0.2, 0.5, 0.9, 1.3, 2.0, 3.0))
