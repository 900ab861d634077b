"""The gossip transport: one XPUB to publish our snapshot, one SUB to hear everyone.

Each member binds an XPUB socket as a CURVE server and connects its SUB
socket, as a CURVE client, to every peer's XPUB; all members serve and connect
with the one cluster keypair, and the ZAP handler accepts only that key.  A
member with another key therefore neither hears us (our ZAP refuses it) nor is
heard (its XPUB cannot complete a handshake that expects the cluster key).

PUB/SUB never blocks the publisher: a subscriber that is slow or gone simply
misses snapshots, which the next heartbeat repeats.  The XPUB tells us when a
peer subscribes, so a member that (re)joins gets our snapshot at once instead
of at the next beat.

Frames are screened in the socket thread: one that is larger than the limit is
counted and dropped there; a peer's repeated heartbeat that the actor already
knows is only noted there (:mod:`actors.gossip.quiet`); everything else goes
to the actor undecoded.  The socket thread also tells the actor when a peer
whose repeats it notes has fallen silent (a ``Tick`` named :data:`SILENCE`).

Message sizes.  The XPUB is bound, so it is what anyone on the network
reaches: it only ever receives CURVE handshake commands (the largest, a
client's INITIATE, is a few hundred bytes) and subscriptions (one byte), so
it takes nothing over :data:`PUB_MAX_INBOUND_BYTES`.  libzmq applies the
limit to handshake frames too, so a client without keys that announces a
4 GiB frame is dropped at once (without it, the node allocated whatever such a
client sent).  The SUB receives snapshots from peers it connects to: the
largest legitimate one, a PeerStatus of a 16-member cluster with 253-character
names, every tag and 16 failsafe acknowledgements, encodes to 7.3 KB, so the
default ``max_frame_bytes`` (64 KiB) leaves a margin of about nine; ZeroMQ
itself refuses anything over :data:`HARD_LIMIT_FACTOR` times that.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import zmq

from actors.gossip.quiet import QuietFrames
from actors.runtime import zmq_io
from actors.runtime.registry import Registry
from actors.runtime.zmq_server import ServerSocket, bind_curve_server, start_endpoint
from messages.base import ActorName
from messages.config import GossipSettings
from messages.gossip import DropReason, FrameDropped, InboundFrame, NewSubscriber
from messages.runtime import Tick

PUB, SUB = "pub", "sub"
HARD_LIMIT_FACTOR = 4
"""Messages over this many times max_frame_bytes are refused by ZeroMQ itself (memory);
between the two, they arrive, and are counted and dropped (a peer's bug shows in stats)."""
PUB_MAX_INBOUND_BYTES = 4096
"""What the bound XPUB accepts: handshake commands and subscriptions, never snapshots."""
SEND_HWM = 16
SILENCE = "silence"
"""The Tick the socket thread tells the actor when an admitted peer fell silent."""


def open_gossip(
    settings: GossipSettings,
    registry: Registry,
    owner: ActorName,
    quiet: QuietFrames | None = None,
) -> tuple[zmq_io.Endpoint, zmq_io.KeyPair]:
    """Bind the XPUB and make the SUB; returns the running endpoint and the cluster keys.

    Frames `quiet` knows are noted there instead of told to `owner`.
    """
    keys = zmq_io.server_keypair(settings.curve)

    def make_sockets(context: zmq.Context[Any]) -> dict[str, zmq.Socket[bytes]]:
        return {PUB: _publisher(context, keys, settings), SUB: _subscriber(context, keys, settings)}

    receive = _receiver(registry, owner, settings.max_frame_bytes, quiet)
    alarm = None if quiet is None else _SilenceAlarm(quiet, registry, owner)
    # the cluster key is the only client key: members connect with the keypair they serve with
    endpoint = start_endpoint(str(owner), frozenset({keys.public}), make_sockets, receive, alarm)
    return endpoint, keys


@dataclasses.dataclass(frozen=True, slots=True)
class _SilenceAlarm:
    quiet: QuietFrames
    registry: Registry
    owner: ActorName

    def seconds_left(self) -> float | None:
        return self.quiet.seconds_to_silence()

    def ring(self) -> None:
        if self.quiet.silenced():
            self.registry.tell(self.owner, Tick(timer=SILENCE))


def _publisher(
    context: zmq.Context[Any], keys: zmq_io.KeyPair, settings: GossipSettings
) -> zmq.Socket[bytes]:
    spec = ServerSocket(
        kind=zmq.XPUB,
        listen=(settings.listen_host, settings.listen_port),
        max_message_bytes=PUB_MAX_INBOUND_BYTES,
        options={
            zmq.SNDHWM: SEND_HWM,
            zmq.XPUB_VERBOSE: 1,  # every (re)subscription, not only the first
        },
    )
    return bind_curve_server(context, keys, spec)


def _subscriber(
    context: zmq.Context[Any], keys: zmq_io.KeyPair, settings: GossipSettings
) -> zmq.Socket[bytes]:
    sub = zmq_io.make_socket(context, zmq.SUB)
    zmq_io.curve_client(sub, keys, keys.public)
    sub.setsockopt(zmq.MAXMSGSIZE, settings.max_frame_bytes * HARD_LIMIT_FACTOR)
    sub.setsockopt(zmq.RCVHWM, 1000)
    sub.subscribe(b"")
    return sub


def _receiver(
    registry: Registry, owner: ActorName, max_frame_bytes: int, quiet: QuietFrames | None
) -> zmq_io.Receive:
    def receive(key: str, frames: list[bytes], user: str) -> None:
        if key == PUB:
            if frames and frames[0][:1] == b"\x01":  # a subscription, not an unsubscription
                registry.tell(owner, NewSubscriber())
            return
        size = sum(len(f) for f in frames)
        if size > max_frame_bytes:
            registry.tell(owner, FrameDropped(reason=DropReason.OVERSIZED, size_bytes=size))
            return
        if quiet is not None and len(frames) == 1 and quiet.heard(frames[0]):
            return
        registry.tell(owner, InboundFrame(frames=tuple(frames)))

    return receive
