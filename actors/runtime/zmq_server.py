"""A CURVE server endpoint in one call: ZAP running, sockets bound, socket thread started.

The gossip and console transports differ only in their sockets and in which
client keys the ZAP handler admits.  What they share lives here once: the
order -- the authenticator runs before any socket exists, since a CURVE
server with no ZAP handler would admit any client key; the socket thread
starts only once every socket is bound -- and, when a step fails, releasing
what was made, so a failed bind leaves no context, ZAP thread or socket behind.
:func:`tcp_endpoint` is the one spelling of a host and port as an endpoint,
for binding here and for connecting to gossip peers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import zmq

from actors.runtime.zmq_io import (
    Endpoint,
    KeyPair,
    Receive,
    SocketLoop,
    curve_server,
    make_socket,
    open_endpoint,
)

MakeSockets = Callable[[zmq.Context[Any]], Mapping[str, zmq.Socket[bytes]]]
"""Makes (and binds) an endpoint's sockets in its context, keyed as the loop reports them."""


def start_endpoint(
    owner: str, allowed: frozenset[bytes], make_sockets: MakeSockets, on_receive: Receive
) -> Endpoint:
    """A running endpoint admitting exactly the `allowed` client keys; close() releases it."""
    endpoint = open_endpoint(owner, allowed)
    try:
        sockets = make_sockets(endpoint.context)
    except Exception:
        # destroying the context closes any socket made before the failure
        endpoint.close()
        raise
    endpoint.loop = SocketLoop(owner, sockets, on_receive)
    endpoint.loop.start()
    return endpoint


def bind_curve_server(
    context: zmq.Context[Any],
    kind: int,
    keys: KeyPair,
    *,
    listen: tuple[str, int],
    options: Mapping[zmq.SocketOption, int],
) -> zmq.Socket[bytes]:
    """A socket of `kind` serving CURVE with `keys`, bound on `listen` (host, port).

    `options` are set in their order before the bind, so they hold for the
    first connection too.  The socket is closed again if any step fails.
    """
    sock = make_socket(context, kind)
    try:
        curve_server(sock, keys)
        for option, value in options.items():
            sock.setsockopt(option, value)
        sock.bind(tcp_endpoint(*listen))
    except Exception:
        sock.close(linger=0)
        raise
    return sock


def tcp_endpoint(host: str, port: int) -> str:
    """The ZeroMQ TCP endpoint of `host` and `port`."""
    # brackets tell an IPv6 address's colons from the one before the port
    shown = f"[{host}]" if ":" in host else host
    return f"tcp://{shown}:{port}"
