"""Fixtures for the gossip tests; the helpers live in gossip_support."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pykka
import pytest
from gossip_support import GOSSIP, HA, HEARTBEAT_S, Member, RecordingHa, StartMember

from actors.gossip import GossipActor
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from actors.runtime.timers import Scheduler
from actors.runtime.zmq_io import generate_keys
from messages.base import MemberName
from messages.config import CurveKeys, GossipSettings

# the tests here import tests/loopback_support.py; pytest puts only this folder on the path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return generate_keys(tmp_path / "curve")


@pytest.fixture
def start_member(keys: Path) -> Iterator[StartMember]:
    members: list[Member] = []

    def start(
        name: str,
        port: int,
        peers: list[int],
        *,
        keys_dir: Path = keys,
        max_frame_bytes: int = 4096,
        peer_names: tuple[str, ...] = (),
    ) -> Member:
        settings = GossipSettings(
            listen_host="127.0.0.1",
            listen_port=port,
            connect_address=f"127.0.0.1:{port}",
            peers=tuple(f"127.0.0.1:{p}" for p in peers) + peer_names,
            heartbeat_s=HEARTBEAT_S,
            suspect_after=2,
            dead_after=4,
            max_frame_bytes=max_frame_bytes,
            curve=CurveKeys(keys_dir=str(keys_dir)),
        )
        registry, scheduler = Registry(), Scheduler()
        scheduler.start()
        runtime = Runtime(registry=registry, scheduler=scheduler)
        ha = RecordingHa.start(name=HA, runtime=runtime, member=name)
        member = Member(name, port, registry, scheduler, ha)
        member.ref = GossipActor.start(
            name=GOSSIP,
            runtime=runtime,
            settings=settings,
            member=MemberName(name),
            scope="demo",
        )
        members.append(member)
        return member

    yield start
    pykka.ActorRegistry.stop_all()
    for member in members:
        member.scheduler.stop()
