"""The TCP options every DCS connection uses, etcd's and the Kubernetes API's alike."""

from __future__ import annotations

import socket


def socket_options() -> list[tuple[int, int, int]]:
    """No Nagle delay; TCP keepalive, so a dead peer breaks an idle watch within seconds."""
    options = [
        (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
    ]
    for name, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return options
