"""The verdict over a chaos run's history: lost writes and split brain.

Pure functions over the writes that ``client.py`` recorded as acknowledged
(``writes.jsonl``), its pg_is_in_recovery() samples (``probes.jsonl``, see
``probe.py``) and the ``n`` values the final primary holds.  Times are
CLOCK_MONOTONIC seconds, comparable across processes on one machine.

Split brain is proven two ways: by writes (two members acknowledged writes
on one timeline, or an old timeline took a write after a newer one had) and
by samples (two members were proven writable at one instant).

Loss: with synchronous_mode (strict) no acknowledged write may be missing.
In async mode a write may be lost only when its leader died (killed, frozen
past its ttl and fenced, or cut off from everyone: see :class:`Death`), only
if it was acknowledged around that death, and only within
maximum_lag_on_failover bytes of the end of what that leader acknowledged on
its timeline; planned events (switchover, a clean stop and start, config
edits) excuse nothing.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

EXAMPLES = 5  # violations reported per kind; the rest are only counted


@dataclass(frozen=True)
class Write:
    """One acknowledged write: ``n`` committed on ``member`` while on ``timeline``."""

    n: int
    member: str
    timeline: int
    sent: float
    acked: float
    lsn: int | None = None
    """Where in the WAL it went (bytes); None in histories from before it was recorded."""


def parse_lsn(text: str) -> int:
    """PostgreSQL's ``X/Y`` notation as a byte position."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def load_writes(path: str | Path) -> list[Write]:
    """The writes in a ``writes.jsonl``.

    A line that is not valid JSON is a record cut off by a kill (every record
    ends with ``}``, so any cut makes it invalid); it is skipped, which only
    ever under-counts acknowledgements.  A complete record of the wrong shape
    is a bug and raises.
    """
    writes = []
    for line in Path(path).read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        writes.append(
            Write(
                n=int(rec["n"]),
                member=str(rec["member"]),
                timeline=int(rec["timeline"]),
                sent=float(rec["sent"]),
                acked=float(rec["acked"]),
                lsn=parse_lsn(rec["lsn"]) if rec.get("lsn") else None,
            )
        )
    return writes


def lost(writes: Iterable[Write], present: set[int]) -> list[int]:
    """Acknowledged writes missing from the final primary, sorted."""
    return sorted({w.n for w in writes} - present)


def split_brain(writes: Sequence[Write]) -> list[str]:
    """Evidence of two members accepting writes at once, as sentences."""
    return _shared_timelines(writes) + _late_old_timeline(writes)


def _shared_timelines(writes: Sequence[Write]) -> list[str]:
    # One promotion creates a timeline, so only one member can write on it
    examples: dict[int, dict[str, int]] = {}
    for w in writes:
        examples.setdefault(w.timeline, {}).setdefault(w.member, w.n)
    found = [
        f"timeline {tl} acknowledged by "
        + " and ".join(f"{m} (e.g. n={n})" for m, n in sorted(by_member.items()))
        for tl, by_member in sorted(examples.items())
        if len(by_member) > 1
    ]
    return _capped(found)


def _late_old_timeline(writes: Sequence[Write]) -> list[str]:
    # w1 on an older timeline than w2 must have been sent before w2 was
    # acknowledged; comparing the latest send of each timeline with the
    # earliest ack of each newer one covers every pair in O(T^2)
    latest_sent: dict[int, Write] = {}
    earliest_ack: dict[int, Write] = {}
    for w in writes:
        if w.timeline not in latest_sent or w.sent > latest_sent[w.timeline].sent:
            latest_sent[w.timeline] = w
        if w.timeline not in earliest_ack or w.acked < earliest_ack[w.timeline].acked:
            earliest_ack[w.timeline] = w
    timelines = sorted(latest_sent)
    found = []
    for i, old_tl in enumerate(timelines):
        old = latest_sent[old_tl]
        for new_tl in timelines[i + 1 :]:
            new = earliest_ack[new_tl]
            if old.sent > new.acked:
                found.append(
                    f"{old.member} acknowledged n={old.n} on timeline {old_tl}, sent "
                    f"{old.sent - new.acked:.3f}s after {new.member} had acknowledged "
                    f"n={new.n} on timeline {new_tl}"
                )
    return _capped(found)


def _capped(found: list[str]) -> list[str]:
    if len(found) <= EXAMPLES:
        return found
    return [*found[:EXAMPLES], f"... and {len(found) - EXAMPLES} more like these"]


def unavailability(writes: Iterable[Write], start: float, end: float) -> float:
    """The longest stretch of [start, end] without an acknowledgement, in seconds."""
    acks = sorted(w.acked for w in writes if start <= w.acked <= end)
    bounds = [start, *acks, end]
    return max(0.0, *(b - a for a, b in pairwise(bounds)))


# -- samples: two members writable at one instant -----------------------------------


@dataclass(frozen=True)
class Sample:
    """One answered pg_is_in_recovery() probe of ``member`` (see probe.py)."""

    member: str
    seq: int
    sent: float
    answered: float
    writable: bool
    timeline: int
    started: str


def load_samples(path: str | Path) -> list[Sample]:
    """The samples in a ``probes.jsonl`` (absent: none); cut-off lines are skipped."""
    samples = []
    with contextlib.suppress(FileNotFoundError):
        for line in Path(path).read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            samples.append(
                Sample(
                    member=str(rec["member"]),
                    seq=int(rec["seq"]),
                    sent=float(rec["sent"]),
                    answered=float(rec["answered"]),
                    writable=bool(rec["writable"]),
                    timeline=int(rec["tl"]),
                    started=str(rec["started"]),
                )
            )
    return samples


@dataclass(frozen=True)
class Writable:
    """``member`` was a primary (on ``timeline``) throughout [start, end] when ``whole``,
    else at some instant within it."""

    member: str
    timeline: int
    start: float
    end: float
    whole: bool


def writable_stretches(samples: Iterable[Sample]) -> list[Writable]:
    """What the samples prove.  Each writable sample proves one instant in its
    [sent, answered]; a run of consecutive writable samples from one postmaster
    on one timeline proves all of [first answered, last sent]: a server cannot
    go back into recovery without a restart, nor change timeline without a
    promotion."""
    proven: list[Writable] = []
    by_member: dict[str, list[Sample]] = {}
    for s in samples:
        by_member.setdefault(s.member, []).append(s)
    for member, mine in by_member.items():
        mine.sort(key=lambda s: s.seq)
        run: list[Sample] = []
        for s in [*mine, None]:
            if s is not None and s.writable:
                proven.append(Writable(member, s.timeline, s.sent, s.answered, whole=False))
            if run and s is not None and s.writable and _continues(run[-1], s):
                run.append(s)
                continue
            if len(run) > 1:
                proven.append(
                    Writable(member, run[0].timeline, run[0].answered, run[-1].sent, True)
                )
            run = [s] if s is not None and s.writable else []
    return proven


def _continues(a: Sample, b: Sample) -> bool:
    return b.seq == a.seq + 1 and (a.started, a.timeline) == (b.started, b.timeline)


def overlapping_primaries(samples: Sequence[Sample]) -> list[str]:
    """Evidence that two members were writable at one instant, as sentences."""
    proven = writable_stretches(samples)
    wholes: dict[str, list[Writable]] = {}
    for w in sorted((w for w in proven if w.whole), key=lambda w: w.start):
        wholes.setdefault(w.member, []).append(w)  # one member's are disjoint: ends sorted too
    starts = {member: [r.start for r in runs] for member, runs in wholes.items()}
    found: dict[tuple[str, str], str] = {}
    for b in proven:
        for member, runs in wholes.items():
            if member == b.member or (key := _pair(member, b.member)) in found:
                continue
            a = _overlapping(runs, starts[member], b)
            if a is not None:
                found[key] = (
                    f"{a.member} (timeline {a.timeline}) and {b.member} (timeline "
                    f"{b.timeline}) were both writable at t={max(a.start, b.start):.3f}"
                )
    return _capped(sorted(found.values()))


def _pair(x: str, y: str) -> tuple[str, str]:
    return (x, y) if x < y else (y, x)


def _overlapping(runs: list[Writable], starts: list[float], b: Writable) -> Writable | None:
    """The run of `runs` (disjoint, sorted) that proves a writable instant in common
    with `b`: any overlap when `b` is a whole stretch; when it is one instant
    somewhere in its window, a run that holds all of that window."""
    i = bisect.bisect_right(starts, b.end if b.whole else b.start) - 1
    if i < 0:
        return None
    a = runs[i]
    if b.whole:
        return a if a.end >= b.start else None
    return a if a.end >= b.end else None


# -- loss: what a mode allows ------------------------------------------------------

DEATH_LEAD_S = 5.0
"""A write acknowledged this long before its leader died may still be lost with it."""


@dataclass(frozen=True)
class Death:
    """The primary ``member`` died for the rest of the cluster between ``start`` and
    ``end``: killed, frozen past its ttl (and fenced), or cut off from everyone."""

    member: str
    start: float
    end: float


def excused(w: Write, writes: Sequence[Write], deaths: Sequence[Death], max_lag: int) -> bool:
    """May this lost write be lost in async mode?  Only if its leader died around
    the moment it was acknowledged, and it lies within `max_lag` bytes of the end
    of what that leader acknowledged on that timeline."""
    if w.lsn is None:
        return False
    near = any(d.member == w.member and d.start - DEATH_LEAD_S <= w.acked <= d.end for d in deaths)
    if not near:
        return False
    end = max(
        (x.lsn for x in writes if (x.member, x.timeline) == (w.member, w.timeline) and x.lsn),
        default=w.lsn,
    )
    return end - w.lsn <= max_lag


@dataclass(frozen=True)
class Verdict:
    acknowledged: int
    lost: list[int]
    split_brain: list[str]
    excused_lost: list[int] = dataclasses.field(default_factory=list)
    """Lost in async mode as a leader died, within maximum_lag_on_failover."""

    @property
    def ok(self) -> bool:
        return not self.lost and not self.split_brain

    def summary(self) -> str:
        head = "OK" if self.ok else "FAIL"
        lines = [f"{head}: {self.acknowledged} acknowledged writes"]
        if self.lost:
            shown = ", ".join(str(n) for n in self.lost[:10])
            more = ", ..." if len(self.lost) > 10 else ""
            lines.append(f"  {len(self.lost)} lost: {shown}{more}")
        if self.excused_lost:
            lines.append(f"  {len(self.excused_lost)} lost as their leader died (async)")
        lines.extend(f"  split brain: {s}" for s in self.split_brain)
        return "\n".join(lines)


def verdict(
    writes: Sequence[Write],
    present: set[int],
    samples: Sequence[Sample] = (),
    *,
    deaths: Sequence[Death] | None = None,
    max_lag: int = 1048576,
) -> Verdict:
    """``deaths`` None: no loss allowed at all (synchronous mode); otherwise async
    mode's allowance (see :func:`excused`)."""
    missing = set(lost(writes, present))
    forgiven: set[int] = set()
    if deaths is not None:
        forgiven = {w.n for w in writes if w.n in missing and excused(w, writes, deaths, max_lag)}
    return Verdict(
        acknowledged=len({w.n for w in writes}),
        lost=sorted(missing - forgiven),
        split_brain=split_brain(writes) + overlapping_primaries(samples),
        excused_lost=sorted(forgiven),
    )
