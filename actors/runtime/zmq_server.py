"""A CURVE server endpoint in one call: ZAP running, sockets bound, socket thread started.

The gossip and console transports differ only in their sockets and in which
client keys the ZAP handler admits.  What they share lives here once: the
order -- the authenticator runs before any socket exists, since a CURVE
server with no ZAP handler would admit any client key; the socket thread
starts only once every socket is bound -- and, when a step fails, releasing
what was made, so a failed bind leaves no context, ZAP thread or socket behind.
A bound socket is what anyone on the network reaches first, so
:func:`bind_curve_server` will not make one without a maximum message size,
and every bound CURVE server gets a monitor that logs clients refused for not
speaking CURVE (:class:`actors.runtime.zmq_guard.RefusalWatch`).
:func:`tcp_endpoint` is the one spelling of a host and port as an endpoint,
for binding here and for connecting to gossip peers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import zmq

from actors.runtime.zmq_guard import watch_refusals
from actors.runtime.zmq_io import (
    Alarm,
    Endpoint,
    KeyPair,
    Monitor,
    Receive,
    SocketLoop,
    curve_server,
    make_socket,
    open_endpoint,
)

MakeSockets = Callable[[zmq.Context[Any]], Mapping[str, zmq.Socket[bytes]]]
"""Makes (and binds) an endpoint's sockets in its context, keyed as the loop reports them."""


def start_endpoint(
    owner: str,
    allowed: frozenset[bytes],
    make_sockets: MakeSockets,
    on_receive: Receive,
    alarm: Alarm | None = None,
) -> Endpoint:
    """A running endpoint admitting exactly the `allowed` client keys; close() releases it.

    `alarm` is rung by the socket thread when due (see :class:`SocketLoop`)."""
    endpoint = open_endpoint(owner, allowed)
    try:
        sockets = make_sockets(endpoint.context)
        servers = [sock for sock in sockets.values() if sock.curve_server]
        monitors = [_monitor(endpoint, sock, owner) for sock in servers]
    except Exception:
        # destroying the context closes any socket made before the failure
        endpoint.close()
        raise
    endpoint.loop = SocketLoop(owner, sockets, on_receive, monitors, alarm)
    endpoint.loop.start()
    return endpoint


def _monitor(endpoint: Endpoint, sock: zmq.Socket[bytes], owner: str) -> Monitor:
    monitor, watch = watch_refusals(sock, owner)
    endpoint.refusals.append(watch)
    return Monitor(monitor, watch.on_event)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ServerSocket:
    """What a bound CURVE server socket is: its kind, address, size limit and options."""

    kind: int
    listen: tuple[str, int]
    """(host, port)"""
    max_message_bytes: int
    """Bounds every message and handshake frame it receives, from any client,
    authenticated or not: a bound socket is what anyone on the network reaches."""
    options: Mapping[zmq.SocketOption, int] = dataclasses.field(default_factory=dict)


def bind_curve_server(
    context: zmq.Context[Any], keys: KeyPair, spec: ServerSocket
) -> zmq.Socket[bytes]:
    """A socket serving CURVE with `keys`, made and bound as `spec` says.

    The size limit and the options are set before the bind, so they hold for
    the first connection too.  The socket is closed again if any step fails.
    """
    sock = make_socket(context, spec.kind)
    try:
        curve_server(sock, keys)
        sock.setsockopt(zmq.MAXMSGSIZE, spec.max_message_bytes)
        for option, value in spec.options.items():
            sock.setsockopt(option, value)
        sock.bind(tcp_endpoint(*spec.listen))
    except Exception:
        sock.close(linger=0)
        raise
    return sock


def tcp_endpoint(host: str, port: int) -> str:
    """The ZeroMQ TCP endpoint of `host` and `port`."""
    # brackets tell an IPv6 address's colons from the one before the port
    shown = f"[{host}]" if ":" in host else host
    return f"tcp://{shown}:{port}"
