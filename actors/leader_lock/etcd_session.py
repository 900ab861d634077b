"""The etcd session: the one lease a handle binds its member key and the lock to.

etcd deletes every key bound to a lease when the lease runs out, which is what
makes a dead holder's lock go.  The same deletion must never come *before* the
holder's own judgement of its lease ends (``last_renew_started_at + ttl``, the
ttl written in the record), nor before a live member's next touch.  Hence the
rule this module keeps: **after every refresh, anything bound to the lease
lives at least ttl (and a margin) longer**, where ttl is the one the next lock
write will carry.

The lease is granted :data:`LEASE_FACTOR` times that ttl (rounded up to whole
seconds), so a refresh need not be a keepalive every time: while the lease has
more than ttl and the margin left, a refresh only reports the moment it was
asked (which is before the write it serves).  A keepalive every other loop
instead of every loop keeps the rule with half the requests (Patroni's etcd3
sends one per member per loop; pgactor's leader also rewrites its key every
renewal, which observers' clocks need, safety rule 2).  What that costs: the
records of a member that died stay up to 1.5 x ttl after its last refresh, not
ttl; observers take a dead holder's lock on their own clocks after ttl all the
same (the record stops changing), so failover is no slower.

When the HA core's ttl changes, the session moves to a new lease of the new
length (Patroni, too, drops its lease on ``set_ttl``), and the lock write that
brought the change binds the leader key to it in the same request; the member
key follows at its next touch.  The old lease is *not* revoked, only left to
run out: revoking would delete the member key still bound to it (a member
vanishing for a moment reads as a member leaving, to the sync rules), and when
that lock write's outcome is unknown the leader key may still be on it, under a
running primary.  Nothing of ours stays bound to it after the next touch, and
it expires on its own within its TTL.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

from actors.leader_lock.contract import DcsError
from actors.leader_lock.etcd_client import EtcdClient

log = logging.getLogger(__name__)

LEASE_FACTOR = 1.5
"""The lease's TTL over the record's ttl: the slack that spares every other keepalive."""
MARGIN_S = 1.0
"""More than ttl must be left by at least this much for a refresh to skip its keepalive."""


def lease_ttl(ttl_s: float) -> int:
    """The TTL, in whole seconds, of the lease behind records of ``ttl_s``."""
    return math.ceil(ttl_s * LEASE_FACTOR)


def keepalive_needed(refreshed_at: float, lease_s: int, now: float, ttl_s: float) -> bool:
    """Must a refresh at ``now`` reach etcd, the lease (``lease_s`` long) last refreshed at
    ``refreshed_at``?  Yes when it has ttl and the margin left no longer (the rule above).

    The simulator's session model calls this very function (tests/sim/lockactor.py).
    """
    return refreshed_at + lease_s - now < ttl_s + MARGIN_S


class EtcdSession:
    """The session lease of one handle; thread-safe."""

    def __init__(self, client: EtcdClient, clock: Callable[[], float]) -> None:
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._lease_id = 0
        self._ttl_s = 0
        """The TTL the current lease was granted (0: no lease)."""
        self._refreshed_at = 0.0

    @property
    def lease_id(self) -> int:
        """The current lease (0: none yet, or it was found gone)."""
        with self._lock:
            return self._lease_id

    def refresh(self, ttl_s: float) -> float:
        """Make sure the lease lives ``ttl_s`` (and a margin) past the returned time.

        Returns ``clock()`` when the refresh began: anything bound to
        :attr:`lease_id` after this call lives at least until that time plus
        ``ttl_s``.  A keepalive is sent only when the lease has less than that
        left; otherwise nothing is sent.  Raises DcsUnreachable (nothing changed
        then), or DcsError if etcd granted a lease shorter than asked.
        """
        wanted = lease_ttl(ttl_s)
        with self._lock:
            started = self._clock()
            same_length = self._lease_id != 0 and self._ttl_s == wanted
            if same_length and not keepalive_needed(self._refreshed_at, wanted, started, ttl_s):
                return started
            if not (same_length and self._client.lease_keepalive(self._lease_id) > 0):
                self._grant(wanted)
            self._refreshed_at = started
            return started

    def lost(self, lease_id: int) -> None:
        """etcd said ``lease_id`` is gone: the next refresh grants a new one."""
        with self._lock:
            if self._lease_id == lease_id:
                log.warning("session lease %x is gone; the next write gets a new one", lease_id)
                self._lease_id = 0

    def _grant(self, wanted: int) -> None:
        """Under the lock: a new lease of ``wanted`` seconds replaces the current one."""
        lease_id, granted = self._client.lease_grant(wanted)
        if granted < wanted:  # etcd only ever raises a TTL to its minimum; never trust it less
            self._client.lease_revoke(lease_id)  # ours alone, nothing is bound to it yet
            raise DcsError(f"etcd granted a {granted}s lease for a {wanted}s ttl")
        if self._lease_id and self._ttl_s != wanted:
            log.info(
                "ttl %ds: session lease %x replaces %x (left to expire in %ds)",
                wanted,
                lease_id,
                self._lease_id,
                self._ttl_s,
            )
        elif self._lease_id:
            log.warning("session lease %x expired; granted %x", self._lease_id, lease_id)
        self._lease_id, self._ttl_s = lease_id, wanted
