"""The HTTP layer: the stdlib threading server, hardened for hostile clients.

Each connection gets its own short-lived thread (``ThreadingHTTPServer``), so
a health check never queues behind a slow switchover request.  This module
owns every byte of I/O and every defence a public port needs:

- one request per connection (HTTP/1.0 semantics), a socket timeout, a cap on
  connections in flight, and a 64 KiB cap on request bodies (413);
- a body is always read (or, when too large, drained up to a limit) *before*
  answering, so the client sees the answer instead of a connection reset;
- routing is an exact table lookup (:mod:`actors.api.routes`); actions pass
  the :mod:`actors.api.auth` gate; the TLS handshake runs in the request's
  own thread;
- every bad input has a 4xx answer; a 500 means a bug and is logged with its
  traceback.  The stdlib's stderr request log goes to this module's logger at
  DEBUG.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import socket
import socketserver
import ssl
import threading
import urllib.parse
from email.message import Message as HeaderMap
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from actors.api.auth import ACTION_METHODS, authorize
from actors.api.context import ApiContext
from actors.api.responses import TEXT, Request, Response, text_response
from actors.api.routes import resolve
from actors.api.tls import server_context
from actors.api.views import VERSION
from messages.config import RestApiSettings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
DRAIN_LIMIT_BYTES = 1024 * 1024
"""An oversized body up to this size is read and dropped so the 413 reaches the client."""
REQUEST_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 64
"""Connections served at once, so a flood cannot exhaust threads."""
SLOT_WAIT_S = 1.0
"""How long a connection over the limit waits for a slot before it is closed unanswered."""
POLL_INTERVAL_S = 0.2
"""How often the accept loop checks for shutdown: bounds how long a stop takes."""

_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)


def _drain(rfile: io.BufferedIOBase, length: int) -> None:
    left = min(length, DRAIN_LIMIT_BYTES)
    while left > 0:
        chunk = rfile.read(min(left, MAX_BODY_BYTES))
        if not chunk:
            return
        left -= len(chunk)


def _content_length(headers: HeaderMap) -> int | Response:
    if headers.get("Transfer-Encoding") is not None:
        return text_response(400, "chunked request bodies are not supported: send Content-Length")
    lengths = [str(v).strip() for v in headers.get_all("Content-Length") or ()]
    if not lengths:
        return 0
    if len(set(lengths)) > 1 or not _DIGITS.fullmatch(lengths[0]):
        return text_response(400, "invalid Content-Length")
    return int(lengths[0])


def read_body(headers: HeaderMap, rfile: io.BufferedIOBase) -> bytes | Response:
    """The request body, or the 4xx answer when it is unacceptable."""
    length = _content_length(headers)
    if isinstance(length, Response):
        return length
    try:
        if length > MAX_BODY_BYTES:
            _drain(rfile, length)
            return text_response(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        body = rfile.read(length)
    except OSError as exc:  # a timeout or a reset while reading
        return text_response(408, f"could not read the request body: {type(exc).__name__}")
    if len(body) < length:
        return text_response(400, "request body shorter than its Content-Length")
    return body


class ApiRequestHandler(BaseHTTPRequestHandler):
    """One request on one connection; runs in that connection's own thread."""

    server: ApiServer
    server_version = f"pgactor/{VERSION}"
    sys_version = ""
    timeout = REQUEST_TIMEOUT_S
    # nobody speaks HTTP/0.9: without this, a garbled request line is answered without a
    # status line, which a load balancer cannot read as an error
    default_request_version = "HTTP/1.0"
    error_content_type = TEXT
    error_message_format = "%(code)d %(message)s\n"

    def setup(self) -> None:
        super().setup()  # applies the socket timeout first: the handshake is bounded too
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def do_GET(self) -> None:
        self._handle()

    # every standard method is routed, so one a path does not take is a 405, not a 501
    do_HEAD = do_OPTIONS = do_POST = do_PUT = do_PATCH = do_DELETE = do_TRACE = do_CONNECT = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - " + format, self.address_string(), *args)

    def _handle(self) -> None:
        try:
            response = self._respond()
        except Exception:
            # every bad input has its own answer; reaching this is a bug in pgactor
            log.exception("unexpected error answering %s %r", self.command, self.path[:200])
            response = text_response(500, "internal error")
        self._send(response)

    def _respond(self) -> Response:
        body = read_body(self.headers, self.rfile)
        if isinstance(body, Response):
            return body
        try:
            target = urllib.parse.urlsplit(self.path)
        except ValueError:
            return text_response(400, "malformed request target")
        found = resolve(self.command, target.path)
        if isinstance(found, Response):
            return found
        if self.command in ACTION_METHODS:
            refusal = authorize(
                self.server.settings,
                authorization=self.headers.get("Authorization"),
                client_cert=self._has_client_cert(),
            )
            if refusal is not None:
                return refusal
        request = Request(method=self.command, path=target.path, query=target.query, body=body)
        return found(self.server.context, request)

    def _has_client_cert(self) -> bool:
        if not isinstance(self.connection, ssl.SSLSocket):
            return False
        return bool(self.connection.getpeercert())

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.code)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Cache-Control", "no-store")  # a health answer is never reusable
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except OSError as exc:
            log.debug("could not answer %s: %s", self.client_address, exc)


class ApiServer(ThreadingHTTPServer):
    """The listening socket and the accept loop; one thread per connection."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog: a burst of probes queues in the kernel

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
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
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
        # waiting here holds back accept(): a burst queues in the backlog instead of failing
        if not self._slots.acquire(timeout=SLOT_WAIT_S):
            log.warning(
                "closed a connection from %s: all %d slots busy", client_address, MAX_CONNECTIONS
            )
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

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

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, close the socket, wait for the loop (requests in flight may finish)."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout_s)


def serve(settings: RestApiSettings, context: ApiContext) -> HttpService:
    """Bind, listen and start the accept loop in a daemon thread."""
    tls = server_context(settings)  # first: a bad certificate leaves no socket behind
    server_class = _ApiServer6 if ":" in settings.listen_host else ApiServer
    server = server_class(
        (settings.listen_host, settings.listen_port), context=context, settings=settings, tls=tls
    )
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": POLL_INTERVAL_S},
        name=f"api-http-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return HttpService(server, thread)
