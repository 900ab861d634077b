"""Repeated heartbeats, noted in the socket thread instead of waking the gossip actor.

An idle peer resends the very same frame every heartbeat: it says nothing new,
only "still alive".  Waking the actor for each (two peers: two wake-ups a
second, every second) was most of an idle agent's gossip cost.  The actor
admits each peer's latest frame here once it has decoded and applied it; the
socket thread then notes when that frame is heard again (on the node's
monotonic clock, as the actor would have) without telling the actor, and the
actor takes those times in on its next tick, before it judges who fell
silent -- so liveness is judged on the same arrival times as before.

Only a frame from a peer the actor holds alive is admitted: when a peer turns
suspect or down the actor forgets its frame, and the next one wakes it at
once (PeerUp is not delayed).  Anything else -- a new frame, a foreign or
malformed one -- reaches the actor as before.

An admitted peer's silence is watched here too.  The actor cannot know when
one falls silent without taking its repeats in, and a timer for that woke it
every couple of seconds for peers that were fine; the socket thread, which
sees every repeat, raises the alarm instead, once an admitted peer has not
been heard for ``silent_after_s`` (the suspect threshold).  The actor then
takes the repeats in and judges as before; it keeps timers of its own only
for peers not admitted here (see :meth:`QuietFrames.members`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from messages.base import MemberName
from messages.gossip import PeerStatus

Clock = Callable[[], float]


class QuietFrames:
    """Each alive peer's latest frame, and when it was last heard again; thread-safe."""

    def __init__(self, clock: Clock, silent_after_s: float = math.inf) -> None:
        self._clock = clock
        self._silent_after_s = silent_after_s
        self._alarms: dict[MemberName, float] = {}
        """admitted peer -> when its silence is news for the actor (on the clock)"""
        self._lock = threading.Lock()
        self._by_frame: dict[bytes, PeerStatus] = {}
        self._by_member: dict[MemberName, bytes] = {}
        self._heard: dict[bytes, tuple[PeerStatus, float, int]] = {}
        """frame -> (its status, when last heard, how many times) since the last drain"""

    def heard(self, frame: bytes) -> bool:
        """Socket thread: note a known frame heard again; False when the actor must see it."""
        with self._lock:
            status = self._by_frame.get(frame)
            if status is None:
                return False
            _, _, count = self._heard.get(frame, (status, 0.0, 0))
            now = self._clock()
            self._heard[frame] = (status, now, count + 1)
            self._alarms[status.member.name] = now + self._silent_after_s
            return True

    def admit(self, frame: bytes, status: PeerStatus) -> None:
        """Actor: `status` (decoded from `frame`) is its peer's latest; repeats may stay quiet."""
        name = status.member.name
        with self._lock:
            old = self._by_member.get(name)
            if old == frame:
                return
            if old is not None:
                self._by_frame.pop(old, None)
            self._by_member[name] = frame
            self._by_frame[frame] = status

    def forget(self, name: MemberName) -> None:
        """Actor: `name` is no longer alive; its next frame must wake the actor."""
        with self._lock:
            self._alarms.pop(name, None)
            frame = self._by_member.pop(name, None)
            if frame is not None:
                self._by_frame.pop(frame, None)

    def watch(self, name: MemberName, heard_at: float) -> None:
        """Actor: admitted `name` was last heard at `heard_at` by its table; ring no later
        than its silence would make it suspect there (a later repeat only moves it on)."""
        with self._lock:
            if name in self._by_member:
                due = heard_at + self._silent_after_s
                self._alarms[name] = max(due, self._alarms.get(name, due))

    def members(self) -> frozenset[MemberName]:
        """Actor: the peers whose silence is watched here, not by the actor's timers."""
        with self._lock:
            return frozenset(self._by_member)

    def seconds_to_silence(self) -> float | None:
        """Socket thread: how long until an admitted peer's silence is news (None: none)."""
        with self._lock:
            if not self._alarms:
                return None
            return min(self._alarms.values()) - self._clock()

    def silenced(self) -> bool:
        """Socket thread: whether an admitted peer has been silent long enough; each such
        peer rings once, until it is heard or admitted again."""
        with self._lock:
            now = self._clock()
            due = [name for name, at in self._alarms.items() if at <= now]
            for name in due:
                del self._alarms[name]
            return bool(due)

    def drain(self) -> list[tuple[PeerStatus, float, int]]:
        """Actor: each repeat heard since the last drain: (status, when last heard, count).

        A repeat heard before its peer was forgotten, or before a newer frame
        was admitted, is still returned: it was heard, and the actor judges
        what it means (membership takes an older snapshot as proof of life only).
        """
        with self._lock:
            heard, self._heard = self._heard, {}
        return list(heard.values())
