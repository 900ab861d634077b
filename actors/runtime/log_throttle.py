"""Rate-limiting log lines about hostile or broken clients: one line per key per window.

A public port's refusals are worth a log line, but a client that retries in a
loop (cycling CURVE keys, reconnecting with the wrong protocol, flooding the
REST API) must not be able to fill the disk or drown every other line.
:class:`LogThrottle` lets the first refusal for a key (a peer address) through,
holds back the rest of that key's window and tells, with the next line let
through, how many it held back.  It is pure: the caller passes the time, so it
is tested without clocks or threads.
"""

from __future__ import annotations

import dataclasses

DEFAULT_WINDOW_S = 60.0
DEFAULT_MAX_KEYS = 4096


@dataclasses.dataclass(slots=True)
class _Entry:
    reported_at: float
    held_back: int = 0


class LogThrottle:
    """At most one line per key per `window_s`; memory bounded to `max_keys` keys.

    Not thread-safe: each user calls it from one thread (a ZAP handler, a socket
    thread) or under its own lock.
    """

    def __init__(
        self, window_s: float = DEFAULT_WINDOW_S, max_keys: int = DEFAULT_MAX_KEYS
    ) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self._entries: dict[str, _Entry] = {}
        """Keyed in the order lines were let through, oldest first."""

    def admit(self, key: str, now: float) -> int | None:
        """None: stay quiet.  A count: log a line now, saying that many were held back."""
        entry = self._entries.get(key)
        if entry is not None and now - entry.reported_at < self.window_s:
            entry.held_back += 1
            return None
        held_back = entry.held_back if entry is not None else 0
        self._entries.pop(key, None)
        self._make_room(now)
        self._entries[key] = _Entry(reported_at=now)
        return held_back

    def _make_room(self, now: float) -> None:
        # A client rotating addresses would otherwise grow this without bound: forget
        # the keys whose window is over, then (still full) the oldest reported ones.
        if len(self._entries) < self.max_keys:
            return
        for key in [k for k, e in self._entries.items() if now - e.reported_at >= self.window_s]:
            del self._entries[key]
        while len(self._entries) >= self.max_keys:
            del self._entries[next(iter(self._entries))]


def held_back_note(count: int) -> str:
    """The tail of a log line let through after `count` were held back ("" for none)."""
    if not count:
        return ""
    return f" ({count} more since the last line about it, not logged)"
