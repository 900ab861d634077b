"""The session lease has slack (1.5 x ttl): a renewal sends a keepalive only when
less than ttl would be left, yet etcd never deletes the lock before the holder's
own judgement of it ends (safety rule 1; rule 16: the etcd lease is never shorter
than the record's ttl).  Real etcd, real time: renewals every 0.8 s on a ttl of 6 s
(a 9 s lease: two renewals in three fall well inside the slack, so the count of
requests does not hang on a loop that ran a few milliseconds late)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest

from actors.leader_lock.contract import DcsParams
from actors.leader_lock.etcd import EtcdDcs
from actors.leader_lock.etcd_client import EtcdClient
from messages.base import Lsn, MemberName
from messages.config import EtcdSettings

from .etcd_server import EtcdServer

pytestmark = pytest.mark.integration

TTL_S = 6.0
LOOP_S = 0.8
TIMING = {"ttl_s": TTL_S, "retry_timeout_s": 1.0}


@pytest.fixture
def holder(etcd_server: EtcdServer, scope: str) -> Iterator[EtcdDcs]:
    params = DcsParams(
        scope=scope, name=MemberName("a"), namespace="/service/", ttl_s=TTL_S, retry_timeout_s=1
    )
    dcs = EtcdDcs(params, settings=EtcdSettings(hosts=(etcd_server.host,)))
    yield dcs
    dcs.close()


def test_every_renewal_leaves_the_lock_in_etcd_past_the_holders_judgement_with_fewer_requests(
    etcd_server: EtcdServer, scope: str, holder: EtcdDcs
) -> None:
    raw = EtcdClient(EtcdSettings(hosts=(etcd_server.host,)), retry_timeout_s=3)
    key = f"/service/{scope}/leader".encode()
    try:
        assert holder.attempt_to_acquire_leader(Lsn(1), ("127.0.0.1", 5432), **TIMING)
        before, renewals = holder.requests_made, 8
        began = time.monotonic()
        for n in range(1, renewals + 1):
            time.sleep(max(0.0, began + n * LOOP_S - time.monotonic()))  # the loop's cadence
            assert holder.update_leader(Lsn(1 + n), None, ("127.0.0.1", 5432), **TIMING)
            started = holder.last_renew_started_at
            assert started is not None
            kvs, _ = raw.range_prefix(key)
            (kv,) = kvs
            _, remaining = raw.lease_time_to_live(kv.lease)
            # The holder may act as leader until started + ttl; etcd (whole seconds,
            # rounded down) must keep the key at least that long.
            left = started + TTL_S - time.monotonic()
            assert remaining >= math.floor(left), f"renewal {n}: {remaining} s < {left:.2f} s"
        # One Txn per renewal, and a keepalive for at most every other one.
        assert holder.requests_made - before <= renewals + renewals // 2 + 1
    finally:
        raw.close()
