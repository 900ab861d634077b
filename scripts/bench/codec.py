"""The codec's cost per message against plain msgpack of the same map.

Usage: .venv/bin/python scripts/bench/codec.py [--rounds 2000]
Prints one JSON line per message kind: bytes, encode and decode in
microseconds (best of five runs of `rounds` each), and msgpack's own
packb/unpackb of the same wire map for comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from messages.admin import NodeStatus
from messages.base import MemberName, Message
from messages.cluster import ClusterView, LeaderRecord, MemberStatus, PgState, Role
from messages.codec import decode, encode
from messages.config import DynamicConfig
from messages.dcs import DcsView
from messages.gossip import PeerStatus
from messages.ha import Reason
from messages.runtime import Tick


def samples() -> dict[str, Message]:
    members = tuple(
        MemberStatus(
            name=MemberName(f"node{i}"),
            role=Role.REPLICA,
            state=PgState.RUNNING,
            conn_host="10.0.0.1",
            conn_port=5432,
            api_url=f"http://10.0.0.{i}:8008",
        )
        for i in range(1, 4)
    )
    config = DynamicConfig(postgresql_parameters={"max_connections": "100", "work_mem": "8MB"})
    view = ClusterView(members=members, config=config, leader=LeaderRecord(name=members[0].name))
    status = NodeStatus(
        name=members[0].name,
        scope="demo",
        role=Role.PRIMARY,
        state=PgState.RUNNING,
        reason=Reason.LEADER_RENEW,
        cluster=view,
    )
    peer = PeerStatus(member=members[1], scope="demo", incarnation=7, seq=3)
    return {"tick": Tick(timer="beat"), "peer_status": peer, "dcs_view": DcsView(view=view),
            "node_status": status}  # fmt: skip


def best(fn: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        times.append((time.perf_counter() - start) / rounds)
    return min(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds
    for kind, msg in samples().items():
        data = encode(msg)
        wire = msgpack.unpackb(data)
        row = {
            "message": kind,
            "bytes": len(data),
            "encode_us": round(best(lambda m=msg: encode(m), rounds), 1),
            "decode_us": round(best(lambda d=data: decode(d), rounds), 1),
            "msgpack_pack_us": round(best(lambda w=wire: msgpack.packb(w), rounds), 1),
            "msgpack_unpack_us": round(best(lambda d=data: msgpack.unpackb(d), rounds), 1),
        }
        print(json.dumps(row))


if __name__ == "__main__":
    main()
