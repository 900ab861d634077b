"""A ring buffer of what happened, rendered only when a run fails (or is replayed).

Entries are cheap tuples (true time, node, object); formatting happens once,
for the last seconds before a violation, so tracing costs little on the
millions of runs that pass.  Each line shows the true time and the node's
own clock reading (the one its rules judge by).
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from messages.dcs import LockResult
from messages.ha import Action, ActionDone, Decision

if TYPE_CHECKING:
    from .world import World

Entry = tuple[float, str, object]


class Trace:
    def __init__(self, world: World, keep: int = 1500) -> None:
        self.world = world
        self.entries: collections.deque[Entry] = collections.deque(maxlen=keep)

    def decision(self, node: str, decision: Decision) -> None:
        self.world.stats.decisions += 1
        self.entries.append((self.world.loop.t, node, decision))

    def event(self, node: str, event: object) -> None:
        self.entries.append((self.world.loop.t, node, event))

    def note(self, node: str, text: str) -> None:
        self.entries.append((self.world.loop.t, node, text))

    def render(self, seconds: float = 30.0, at_least: int = 60) -> str:
        """The entries of the last `seconds`, and never fewer than the last `at_least`."""
        last = self.world.loop.t
        entries = list(self.entries)
        recent = [e for e in entries if e[0] > last - seconds]
        if len(recent) < at_least:
            recent = entries[-at_least:]
        return "\n".join(self._line(e) for e in recent)

    def _line(self, entry: Entry) -> str:
        t, name, obj = entry
        node = self.world.by_name.get(name)
        clock = f"{node.clock.read_at(t):12.4f}" if node is not None else " " * 12
        return f"t={t:9.4f} {clock} {name:<3} {_text(obj)}"


def _text(obj: object) -> str:
    if isinstance(obj, Decision):
        actions = ", ".join(_action(a) for a in obj.actions)
        wake = f" wake {obj.wake_at:.4f}" if obj.wake_at is not None else ""
        return f"decide {obj.reason.name} -> {obj.goal.value}{wake}" + (
            f" [{actions}]" if actions else ""
        )
    if isinstance(obj, LockResult):
        outcome = "ok" if obj.ok else f"failed {obj.detail}".strip()
        return f"lock {obj.op.value} {outcome} (started {obj.started_at:.4f}, ttl {obj.ttl_s:g})"
    if isinstance(obj, ActionDone):
        return f"done {obj.kind.value} {'ok' if obj.ok else 'failed'} {obj.detail}".rstrip()
    if isinstance(obj, Action):
        return "sends " + _action(obj)
    return str(obj)


def _action(action: object) -> str:
    fields = []
    for name in ("role", "mode", "optime", "upstream", "source", "ttl_s", "clean"):
        value = getattr(action, name, None)
        if value is None:
            continue
        value = getattr(value, "name", getattr(value, "value", value))
        fields.append(f"{name}={value}")
    return type(action).__name__ + ("(" + " ".join(fields) + ")" if fields else "")
