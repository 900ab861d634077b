"""The console's socket: one ROUTER, a CURVE server that only authorised clients reach.

Clients connect DEALER sockets with their own keypairs; the ZAP handler
admits exactly the public keys in ``<keys_dir>/clients/*.key`` and the
configured ``client_keys``.  Requests and answers are single msgpack frames;
the ROUTER's routing frames (the envelope) go to the actor with each request
so the answer -- and, for a watcher, the live feed -- can be addressed back.
A message over the size limit never arrives: ZeroMQ drops its connection,
before authentication too (a handshake frame over the limit is refused, never
allocated).  Requests are small: the largest, an edit-config carrying the new
config and the one it was made from, is about 20 KB with a hundred
parameters, within the default ``max_frame_bytes`` of 64 KiB.
"""

from __future__ import annotations

from typing import Any

import zmq

from actors.runtime import zmq_io
from actors.runtime.registry import Registry
from actors.runtime.zmq_server import ServerSocket, bind_curve_server, start_endpoint
from messages.base import ActorName
from messages.config import ConsoleSettings
from messages.console import ConsoleFrame

ROUTER = "router"


def open_console(
    settings: ConsoleSettings, registry: Registry, owner: ActorName
) -> zmq_io.Endpoint:
    keys = zmq_io.server_keypair(settings.curve)
    allowed = zmq_io.client_public_keys(settings.curve, settings.client_keys)
    if not allowed:
        # an empty set would make a console no one can reach; say why instead
        raise zmq_io.KeysError("console: no authorised client keys (clients/*.key, client_keys)")

    def make_sockets(context: zmq.Context[Any]) -> dict[str, zmq.Socket[bytes]]:
        spec = ServerSocket(
            kind=zmq.ROUTER,
            listen=(settings.listen_host, settings.listen_port),
            max_message_bytes=settings.max_frame_bytes,
            options={zmq.SNDHWM: 1000},
        )
        router = bind_curve_server(context, keys, spec)
        return {ROUTER: router}

    return start_endpoint(str(owner), allowed, make_sockets, _receiver(registry, owner))


def _receiver(registry: Registry, owner: ActorName) -> zmq_io.Receive:
    def receive(key: str, frames: list[bytes], user: str) -> None:
        # ROUTER frames: identity, (an empty delimiter from a REQ client), the request
        envelope = tuple(frames[:-1])
        registry.tell(owner, ConsoleFrame(envelope=envelope, frames=(frames[-1],), client_key=user))

    return receive
