"""The etcd session: the one lease a handle binds its member key and the lock to.

etcd deletes every key bound to a lease when the lease runs out, which is what
makes a dead holder's lock go.  The same deletion must never come *before* the
holder's own judgement of its lease ends (``last_renew_started_at + ttl``, the
ttl written in the record).  Every refresh starts before the write it serves,
so etcd keeps the key until at least that start plus the lease's TTL; hence the
rule this module keeps: **the session lease is exactly as long as the ttl the
next lock write will carry, rounded up to whole seconds.**

When the HA core's ttl changes, the session moves to a new lease of the new
length (Patroni, too, drops its lease on ``set_ttl``), and the lock write that
brought the change binds the leader key to it in the same request; the member
key follows at its next touch.  The old lease is *not* revoked, only left to
run out: revoking would delete the member key still bound to it (a member
vanishing for a moment reads as a member leaving, to the sync rules), and when
that lock write's outcome is unknown the leader key may still be on it, under a
running primary.  Nothing of ours stays bound to it after the next touch, and
it expires on its own within its TTL.

Keepalives run at most once per ``reuse_s``: a touch right after a renewal (or
the other way round) reuses the refresh, reporting the earlier start.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

from actors.leader_lock.contract import DcsError
from actors.leader_lock.etcd_client import EtcdClient

log = logging.getLogger(__name__)


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

    def refresh(self, ttl_s: float, reuse_s: float) -> float:
        """Keep (or get) a lease of ``ceil(ttl_s)`` seconds alive; ``clock()`` when it began.

        Anything bound to :attr:`lease_id` after this call lives at least until
        the returned time plus ``ttl_s``.  A refresh of a lease of the same
        length younger than ``reuse_s`` is reused instead of repeated.  Raises
        DcsUnreachable (nothing changed then), or DcsError if etcd granted a
        lease shorter than asked.
        """
        wanted = math.ceil(ttl_s)
        with self._lock:
            same_length = self._lease_id != 0 and self._ttl_s == wanted
            if same_length and self._clock() - self._refreshed_at < reuse_s:
                return self._refreshed_at
            started = self._clock()
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
