"""One host's clocks: monotonic and wall, at the host's own rate, maybe coarse.

A host's monotonic clock reads ``origin + rate * t`` for true time t: its
origin is arbitrary (no two hosts agree on a monotonic reading) and its rate
differs from 1 by up to about 1% (a crystal's drift, bounded): each member
judges leases on its own clock, so the rules must hold although a second is
not the same length everywhere.  The wall clock runs at the same rate from
an offset of its own (NTP-less hosts disagree by seconds).

A coarse clock reads in steps of `quantum` (a power of two: 1/64 s, as a
Windows-style tick, or 1/1024 s), so readings are exact binary fractions and
sums of whole-second timings stay exact: ties between a deadline and a clock
reading really happen, as they do on a coarse clock, and a `>` where a `>=`
belongs becomes visible.

Timers are relative, as the actors' are (``Timers.once(delay)``): armed at a
reading r for `delay`, a timer fires after `delay` of real time, when the
coarse reading may still lag behind ``r + delay``.
"""

from __future__ import annotations

import math

from .loop import Loop


class Clock:
    __slots__ = ("inv_quantum", "loop", "origin", "rate", "wall_origin")

    def __init__(
        self, loop: Loop, *, origin: float, rate: float, wall_origin: float, quantum: float = 0.0
    ) -> None:
        self.loop = loop
        self.origin = origin
        self.rate = rate
        self.wall_origin = wall_origin
        self.inv_quantum = 1.0 / quantum if quantum else 0.0

    def read_at(self, t: float) -> float:
        x = self.origin + self.rate * t
        iq = self.inv_quantum
        return math.floor(x * iq) / iq if iq else x

    def now(self) -> float:
        """The monotonic reading now."""
        return self.read_at(self.loop.t)

    def wall(self) -> float:
        """The wall clock now (epoch seconds of this host)."""
        return self.wall_origin + self.rate * self.loop.t

    def after(self, delay: float) -> float:
        """The true time at which a timer armed now for `delay` (this clock's seconds) fires."""
        return self.loop.t + max(0.0, delay) / self.rate

    def when_reads(self, reading: float) -> float:
        """The first true time at which this clock reads at least `reading` (an absolute deadline,
        as the fence waits for one)."""
        target = reading
        iq = self.inv_quantum
        if iq:
            target = math.ceil(reading * iq) / iq
        t = (target - self.origin) / self.rate
        while self.read_at(t) < reading:
            t = math.nextafter(t, math.inf)
        return max(t, self.loop.t)
