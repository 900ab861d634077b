"""The member record's lease never runs out between the touches of a live member.

The HA core touches its record at least every loop_wait, checked at its cycles,
so two touches may be nearly 2 x loop_wait apart, and loop_wait may be as long
as ttl - 2 x retry_timeout.  A refresh that a touch skips because the lease was
refreshed "recently" (once: within ttl / 2) leaves the lease to the touch after,
which may come too late: etcd deleted the record of a healthy member (seen in
an idle cluster: both replicas' records vanished together, and the sync rules
read a vanished member as one that left).  Real etcd, real time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from actors.leader_lock.contract import DcsParams
from actors.leader_lock.etcd import EtcdDcs
from actors.leader_lock.etcd_client import EtcdClient
from messages.base import MemberName
from messages.cluster import MemberStatus, PgState
from messages.config import EtcdSettings

from .etcd_server import EtcdServer

pytestmark = pytest.mark.integration

TTL_S = 3.0


@pytest.fixture
def member(etcd_server: EtcdServer, scope: str) -> Iterator[EtcdDcs]:
    params = DcsParams(
        scope=scope, name=MemberName("a"), namespace="/service/", ttl_s=TTL_S, retry_timeout_s=1
    )
    dcs = EtcdDcs(params, settings=EtcdSettings(hosts=(etcd_server.host,)))
    yield dcs
    dcs.close()


def _created(raw: EtcdClient, key: bytes) -> int | None:
    kvs, _ = raw.range_prefix(key)
    return kvs[0].create_revision if kvs else None


def test_a_member_touched_at_its_loop_cadence_never_loses_its_record(
    etcd_server: EtcdServer, scope: str, member: EtcdDcs
) -> None:
    raw = EtcdClient(EtcdSettings(hosts=(etcd_server.host,)), retry_timeout_s=3)
    key = f"/service/{scope}/members/a".encode()
    status = MemberStatus(name=MemberName("a"), state=PgState.RUNNING)
    try:
        began = time.monotonic()
        assert member.touch_member(status)
        created = _created(raw, key)
        assert created is not None
        # The touch schedule is the subject (a loop_wait of 1 s for this ttl: the touch
        # just before ttl / 2, then one nearly 2 x loop_wait later); sleeps pace it.
        for at in (0.45 * TTL_S, 0.45 * TTL_S + 1.9):
            time.sleep(max(0.0, began + at - time.monotonic()))
            assert member.touch_member(status)
            assert _created(raw, key) == created, f"the record was deleted before {at:.1f} s"
    finally:
        raw.close()
