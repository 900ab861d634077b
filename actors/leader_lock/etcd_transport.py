"""The etcd client's connections: keep-alive reuse, socket options and TLS, on http.client.

A request takes the calling thread's idle connection to the host, or opens a
new one; only a connection whose answer was read whole goes back, so the
next request never meets the leftovers of a failed one.  A connection the
server closed while idle is noticed before reuse (it has an EOF to read) and
replaced, so a request is not failed, and counted as maybe applied, just
because the server dropped an idle connection.

Opening a connection is a separate step from sending on it: an error there
means nothing was sent, which is what lets the client retry a write safely.

The ``ssl`` context is made only when an https host is configured.  (Note
that ``http.client`` itself imports the ``ssl`` module when it is available.)
"""

from __future__ import annotations

import dataclasses
import http.client
import select
import threading
import urllib.parse
from typing import TYPE_CHECKING

from actors.leader_lock.tcp import socket_options

if TYPE_CHECKING:
    import ssl


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one configured host answers."""

    url: str
    tls: bool
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError as e:
            raise ValueError(f"etcd host {url!r}: {e}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"etcd host {url!r} is not an http:// or https:// address")
        tls = parts.scheme == "https"
        return cls(url, tls, parts.hostname, port or (443 if tls else 2379))


def tls_context() -> ssl.SSLContext:
    """Verify the server against the system's CAs (or SSL_CERT_FILE), as urllib3 did."""
    import ssl  # only an https host pays for it

    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive connection has nothing to read; anything (EOF) means it is done."""
    if connection.sock is None:
        return False
    poller = select.poll()
    poller.register(connection.sock, select.POLLIN)
    return not poller.poll(0)


class Connections:
    """Idle keep-alive connections, at most one per host and thread (thread-safe).

    A connection is taken out while a request uses it and put back only after
    a whole answer was read on it; one that failed is closed, never put back.
    """

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        self._tls = tls
        self._lock = threading.Lock()
        self._idle: dict[tuple[int, Endpoint], http.client.HTTPConnection] = {}

    def open(self, endpoint: Endpoint, timeout_s: float) -> http.client.HTTPConnection:
        """A new connection, connected; OSError when it could not be made (nothing sent)."""
        connection: http.client.HTTPConnection
        if endpoint.tls:
            assert self._tls is not None
            connection = http.client.HTTPSConnection(
                endpoint.host, endpoint.port, timeout=timeout_s, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout_s)
        try:
            connection.connect()
            assert connection.sock is not None
            for level, option, value in socket_options():
                connection.sock.setsockopt(level, option, value)
        except BaseException:
            connection.close()
            raise
        return connection

    def take(self, endpoint: Endpoint, timeout_s: float) -> http.client.HTTPConnection:
        """This thread's idle connection to ``endpoint`` if still open, else a new one."""
        with self._lock:
            connection = self._idle.pop((threading.get_ident(), endpoint), None)
        if connection is not None and _still_open(connection):
            assert connection.sock is not None
            connection.timeout = timeout_s
            connection.sock.settimeout(timeout_s)
            return connection
        if connection is not None:
            connection.close()
        return self.open(endpoint, timeout_s)

    def put_back(self, endpoint: Endpoint, connection: http.client.HTTPConnection) -> None:
        """Keep a connection whose answer was read whole, unless the server closes it."""
        if connection.sock is None:  # the answer said "Connection: close"
            return
        with self._lock:
            replaced = self._idle.pop((threading.get_ident(), endpoint), None)
            self._idle[threading.get_ident(), endpoint] = connection
        if replaced is not None:
            replaced.close()

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = list(self._idle.values()), {}
        for connection in idle:
            connection.close()
