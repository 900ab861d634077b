"""The verdict over a chaos run's history: lost writes and split brain.

Pure functions over the writes that ``client.py`` recorded as acknowledged
(``writes.jsonl``) and the ``n`` values the final primary holds.  Times are
CLOCK_MONOTONIC seconds, comparable across processes on one machine.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Verdict:
    acknowledged: int
    lost: list[int]
    split_brain: list[str]

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
        lines.extend(f"  split brain: {s}" for s in self.split_brain)
        return "\n".join(lines)


def verdict(writes: Sequence[Write], present: set[int]) -> Verdict:
    return Verdict(
        acknowledged=len({w.n for w in writes}),
        lost=lost(writes, present),
        split_brain=split_brain(writes),
    )
