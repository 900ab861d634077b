"""The console's socket: one ROUTER, a CURVE server that only authorised clients reach.

Clients connect DEALER sockets with their own keypairs; the ZAP handler
admits exactly the public keys in ``<keys_dir>/clients/*.key`` and the
configured ``client_keys``.  Requests and answers are single msgpack frames;
the ROUTER's routing frames (the envelope) go to the actor with each request
so the answer -- and, for a watcher, the live feed -- can be addressed back.
A message over the size limit never arrives: ZeroMQ drops its connection.
"""

from __future__ import annotations

import zmq

from actors.runtime import zmq_io
from actors.runtime.registry import Registry
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
        raise zmq_io.KeysError("console: no authorised client keys (clients/*.key, client_keys)")
    endpoint = zmq_io.open_endpoint(str(owner), allowed)
    try:
        router = zmq_io.make_socket(endpoint.context, zmq.ROUTER)
        endpoint.loop = zmq_io.SocketLoop(str(owner), {ROUTER: router}, _receiver(registry, owner))
        zmq_io.curve_server(router, keys)
        router.setsockopt(zmq.MAXMSGSIZE, settings.max_frame_bytes)
        router.setsockopt(zmq.SNDHWM, 1000)
        host = f"[{settings.listen_host}]" if ":" in settings.listen_host else settings.listen_host
        router.bind(f"tcp://{host}:{settings.listen_port}")
    except Exception:
        endpoint.close()
        raise
    endpoint.loop.start()
    return endpoint


def _receiver(registry: Registry, owner: ActorName) -> zmq_io.Receive:
    def receive(key: str, frames: list[bytes], user: str) -> None:
        # ROUTER frames: identity, (an empty delimiter from a REQ client), the request
        envelope = tuple(frames[:-1])
        registry.tell(owner, ConsoleFrame(envelope=envelope, frames=(frames[-1],), client_key=user))

    return receive
