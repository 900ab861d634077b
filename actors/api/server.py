"""The HTTP server: a listening socket, an accept loop that never waits, a thread per connection.

Health checks must answer while hostile or broken clients hold connections
open: Kubernetes restarts a pod whose liveness probe times out, and HAProxy
stops routing to a primary whose check does.  The design, the smallest that
keeps checks answering:

- The accept loop never blocks on a client.  Each accepted connection is
  handed to :class:`actors.api.admission.Admission`, which says at once
  whether it runs now in a thread of its own, waits (without a thread) for
  its address's share, or is closed.  One address has at most
  ``restapi.max_connections_per_address`` (20) connections in progress, so
  clients trickling bytes from one address hold only that address's share;
  a probe from any other address gets a thread at once, up to MAX_ACTIVE
  connections in progress in all (a blocked thread costs about 22 KiB).
- Every read is bounded by a deadline, not a timeout per recv: the head
  within ``restapi.header_timeout`` (10 s) of the accept, the body within a
  time proportional to its length (:mod:`actors.api.handler`).  A trickling
  client is cut off at the deadline and its slot goes to the next.
- The TLS handshake runs in the connection's thread, never in the loop.

What each request may do, and how it is answered, is :mod:`actors.api.handler`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import selectors
import socket
import socketserver
import ssl
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any

from actors.api.admission import Admission, Verdict
from actors.api.context import ApiContext
from actors.api.handler import ApiRequestHandler
from actors.api.tls import server_context
from actors.runtime.log_throttle import LogThrottle, held_back_note
from messages.config import RestApiSettings

log = logging.getLogger(__name__)

MAX_ACTIVE = 384
"""Connections in progress (one thread each) at once, all addresses together."""
MAX_WAITING = 128
MAX_WAITING_PER_ADDRESS = 100
"""Connections waiting for their address's share: a burst of checks from one address
queues here instead of being refused (file descriptors: MAX_ACTIVE + MAX_WAITING)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Pending:
    """An accepted connection and when it was accepted (its deadlines count from then)."""

    sock: Any
    client_address: Any
    accepted_at: float

    @property
    def address(self) -> str:
        return str(self.client_address[0])


class ApiServer(ThreadingHTTPServer):
    """The listening socket and the accept loop; connections run in threads of their own."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog: a burst of probes queues in the kernel
    timeout = 1.0  # handle_request's bound, should a connection vanish before its accept

    def __init__(
        self,
        address: tuple[str, int],
        *,
        context: ApiContext,
        settings: RestApiSettings,
        tls: ssl.SSLContext | None,
    ) -> None:
        self.context = context
        self.settings = settings
        self._gate: Admission[Pending] = Admission(
            per_address=settings.max_connections_per_address,
            max_active=MAX_ACTIVE,
            max_waiting=MAX_WAITING,
            max_waiting_per_address=MAX_WAITING_PER_ADDRESS,
        )
        self._gate_lock = threading.Lock()
        self._refusals = LogThrottle()
        super().__init__(address, ApiRequestHandler)
        if tls is not None:
            try:
                self.socket = tls.wrap_socket(
                    self.socket, server_side=True, do_handshake_on_connect=False
                )
            except BaseException:
                self.server_close()
                raise

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS lookup we do not need
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Runs in the accept loop: decides at once, never waits for a client or a thread."""
        pending = Pending(request, client_address, time.monotonic())
        with self._gate_lock:
            verdict = self._gate.arrive(pending.address, pending)
        if verdict is Verdict.RUN:
            self._start(pending)
        elif verdict is Verdict.REFUSE:
            self._refused(pending, "the queue of connections waiting for their turn is full")

    def _start(self, first: Pending) -> None:
        pending: Pending | None = first
        while pending is not None:
            thread = threading.Thread(
                target=self._serve_from, args=(pending,), name="api-conn", daemon=True
            )
            try:
                thread.start()
                return
            except RuntimeError:  # no thread to be had: close it, give its slot on
                self._refused(pending, "no thread could be started")
                pending = self._next_after(pending)

    def _serve_from(self, pending: Pending | None) -> None:
        # one thread serves its connection, then whichever waiting one the gate hands it
        while pending is not None:
            self._serve(pending)
            pending = self._next_after(pending)

    def _next_after(self, done: Pending) -> Pending | None:
        with self._gate_lock:
            following = self._gate.finish(done.address)
        return following[1] if following is not None else None

    def _serve(self, pending: Pending) -> None:
        try:
            waited_too_long = time.monotonic() - pending.accepted_at
            if waited_too_long < self.settings.header_timeout_s:
                ApiRequestHandler(
                    pending.sock, pending.client_address, self, accepted_at=pending.accepted_at
                )
        except Exception:
            self.handle_error(pending.sock, pending.client_address)
        finally:
            self.shutdown_request(pending.sock)

    def _refused(self, pending: Pending, why: str) -> None:
        held_back = self._refusals.admit(pending.address, time.monotonic())
        if held_back is not None:
            log.warning(
                "closed a connection from %s unanswered (%d of its connections in progress): %s%s",
                pending.address,
                self._gate.in_progress(pending.address),
                why,
                held_back_note(held_back),
            )
        self.shutdown_request(pending.sock)

    def server_close(self) -> None:
        super().server_close()
        with self._gate_lock:
            waiting = self._gate.drain()
        for pending in waiting:
            self.shutdown_request(pending.sock)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a failed TLS handshake or a vanished client: the stdlib would print to stderr
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _ApiServer6(ApiServer):
    address_family = socket.AF_INET6


@dataclasses.dataclass(slots=True)
class HttpService:
    """A running server and the thread of its accept loop."""

    server: ApiServer
    thread: threading.Thread
    wake: socket.socket
    """Written by close(): ends the accept loop's wait."""

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, close the socket, wait for the loop (requests in flight may finish)."""
        with contextlib.suppress(OSError):
            self.wake.send(b"\0")
        self.thread.join(timeout_s)
        self.server.server_close()
        self.wake.close()


def _accept_loop(server: ApiServer, wake: socket.socket) -> None:
    """socketserver's serve_forever without its poll interval: it sleeps until a
    connection or the wake-up from close() arrives, so an idle API costs no CPU."""
    with selectors.DefaultSelector() as selector:
        selector.register(server, selectors.EVENT_READ)
        selector.register(wake, selectors.EVENT_READ)
        while True:
            ready = [key.fileobj for key, _ in selector.select()]
            if wake in ready:
                wake.close()
                return
            server.handle_request()  # readable: accepts at once, never waits


def serve(settings: RestApiSettings, context: ApiContext) -> HttpService:
    """Bind, listen and start the accept loop in a daemon thread."""
    tls = server_context(settings)  # first: a bad certificate leaves no socket behind
    server_class = _ApiServer6 if ":" in settings.listen_host else ApiServer
    server = server_class(
        (settings.listen_host, settings.listen_port), context=context, settings=settings, tls=tls
    )
    wake_r, wake_w = socket.socketpair()
    thread = threading.Thread(
        target=_accept_loop,
        args=(server, wake_r),
        name=f"api-http-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return HttpService(server, thread, wake_w)
