"""The open client connections and the threads serving them.

Kept outside the HTTP server object so that fault injection can cut every
connection (``drop_connections``, what clients see when an API server
restarts) and so that stopping the server can wake every thread blocked on
a socket, idle keep-alive connections included, and then join them all.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class ConnectionRegistry:
    """Thread-safe map of connection socket to the thread serving it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[socket.socket, threading.Thread] = {}

    def add(self, sock: socket.socket, thread: threading.Thread) -> None:
        with self._lock:
            self._open[sock] = thread

    def remove(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.pop(sock, None)

    def count(self) -> int:
        with self._lock:
            return len(self._open)

    def shutdown_all(self, spare: object | None = None) -> int:
        """Shut every connection but `spare` down; returns how many were shut."""
        with self._lock:
            sockets = [s for s in self._open if s is not spare]
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return len(sockets)

    def join(self, timeout: float) -> list[threading.Thread]:
        """Join the serving threads; returns those still alive after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._open.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t for t in threads if t.is_alive()]
