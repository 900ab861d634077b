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
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from messages.base import MemberName
from messages.gossip import PeerStatus

Clock = Callable[[], float]


class QuietFrames:
    """Each alive peer's latest frame, and when it was last heard again; thread-safe."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
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
            self._heard[frame] = (status, self._clock(), count + 1)
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
            frame = self._by_member.pop(name, None)
            if frame is not None:
                self._by_frame.pop(frame, None)

    def drain(self) -> list[tuple[PeerStatus, float, int]]:
        """Actor: each repeat heard since the last drain: (status, when last heard, count).

        A repeat heard before its peer was forgotten, or before a newer frame
        was admitted, is still returned: it was heard, and the actor judges
        what it means (membership takes an older snapshot as proof of life only).
        """
        with self._lock:
            heard, self._heard = self._heard, {}
        return list(heard.values())
