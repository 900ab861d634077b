"""A ring buffer of what happened, rendered only when a run fails.

Entries are kept as cheap tuples (tick, node, object); formatting happens
once, for the last ticks before a violation, so tracing costs little on the
millions of runs that pass.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from messages.dcs import LockResult
from messages.ha import Action, ActionDone, ActionKind, Decision

if TYPE_CHECKING:
    from .world import World

Entry = tuple[int, str, object]


class Trace:
    def __init__(self, world: World, keep: int = 800) -> None:
        self.world = world
        self.entries: collections.deque[Entry] = collections.deque(maxlen=keep)

    def decision(self, node: str, decision: Decision) -> None:
        self.world.stats.decisions += 1
        self.entries.append((self.world.t, node, decision))

    def event(self, node: str, event: LockResult | ActionDone) -> None:
        self.entries.append((self.world.t, node, event))

    def pg(self, node: str, kind: ActionKind, ok: bool) -> None:
        self.entries.append(
            (self.world.t, node, f"postgres {kind.value} {'ok' if ok else 'FAILED'}")
        )

    def note(self, node: str, text: str) -> None:
        self.entries.append((self.world.t, node, text))

    def render(self, ticks: int = 50) -> str:
        last = self.world.t
        lines = [_line(e) for e in self.entries if e[0] > last - ticks]
        return "\n".join(lines)


def _line(entry: Entry) -> str:
    t, node, obj = entry
    return f"t={t:<4} {node:<3} {_text(obj)}"


def _text(obj: object) -> str:
    if isinstance(obj, Decision):
        actions = ", ".join(_action(a) for a in obj.actions)
        return f"decide {obj.reason.name} -> {obj.goal.value}" + (
            f" [{actions}]" if actions else ""
        )
    if isinstance(obj, LockResult):
        outcome = "ok" if obj.ok else f"failed {obj.detail}".strip()
        return f"lock {obj.op.value} {outcome} (started {obj.started_at:g})"
    if isinstance(obj, ActionDone):
        return f"done {obj.kind.value} {'ok' if obj.ok else 'failed'}"
    return str(obj)


def _action(action: Action) -> str:
    fields = []
    for name in ("role", "mode", "optime", "upstream", "source"):
        value = getattr(action, name, None)
        if value is None:
            continue
        value = getattr(value, "name", getattr(value, "value", value))
        fields.append(f"{name}={value}")
    return type(action).__name__ + ("(" + " ".join(fields) + ")" if fields else "")
