"""One HTTP request on one connection, treated as hostile: bounded in time, size and outcome.

- one request per connection (HTTP/1.0 semantics);
- the head (request line and headers) must arrive within the header timeout
  of the connection's accept -- time spent waiting for a thread and the TLS
  handshake included -- and within HEAD_MAX_BYTES; the body then within a
  time proportional to its length, with a floor (:mod:`actors.api.deadline`);
- a body is at most MAX_BODY_BYTES (64 KiB): a larger one is answered 413 at
  once, and then read and dropped for a short while, so that a client still
  sending it reads the answer instead of a connection reset;
- routing is an exact table lookup (:mod:`actors.api.routes`); actions pass
  the :mod:`actors.api.auth` gate;
- every bad input has a 4xx answer; a 500 means a bug and is logged with its
  traceback.  The stdlib's stderr request log goes to this module's logger at
  DEBUG.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import ssl
import time
import urllib.parse
from email.message import Message as HeaderMap
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from actors.api.auth import ACTION_METHODS, authorize
from actors.api.deadline import HEAD_MAX_BYTES, DeadlineReader, body_time_s
from actors.api.responses import TEXT, Request, Response, text_response
from actors.api.routes import resolve
from messages.version import VERSION

if TYPE_CHECKING:
    from actors.api.server import ApiServer

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
LINGER_S = 2.0
"""After a 413, how long the rest of the body is read and dropped."""
LINGER_MAX_BYTES = 256 * 1024 * 1024
WRITE_TIMEOUT_S = 10.0
"""Sending the answer: a client that does not read it is left after this long."""

_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)


def content_length(headers: HeaderMap) -> int | Response:
    """The body's announced length, or the 400 when it is not one number."""
    if headers.get("Transfer-Encoding") is not None:
        return text_response(400, "chunked request bodies are not supported: send Content-Length")
    lengths = [str(v).strip() for v in headers.get_all("Content-Length") or ()]
    if not lengths:
        return 0
    if len(set(lengths)) > 1 or not _DIGITS.fullmatch(lengths[0]):
        return text_response(400, "invalid Content-Length")
    return int(lengths[0])


class ApiRequestHandler(BaseHTTPRequestHandler):
    """One request on one connection; runs in the thread the server gave the connection."""

    server: ApiServer
    server_version = f"pgactor/{VERSION}"
    sys_version = ""
    timeout = None  # DeadlineReader bounds every read instead of a timeout per recv
    # nobody speaks HTTP/0.9: without this, a garbled request line is answered without a
    # status line, which a load balancer cannot read as an error
    default_request_version = "HTTP/1.0"
    error_content_type = TEXT
    error_message_format = "%(code)d %(message)s\n"

    def __init__(
        self, request: Any, client_address: Any, server: Any, accepted_at: float | None = None
    ) -> None:
        self.accepted_at = time.monotonic() if accepted_at is None else accepted_at
        self._linger_bytes = 0
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        deadline = self.accepted_at + self.server.settings.header_timeout_s
        # the handshake is bounded by the same deadline as the head it precedes
        self.connection.settimeout(max(deadline - time.monotonic(), 0.001))
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()
        self.rfile.close()  # the stdlib's reader, replaced by one that keeps the deadline
        self._reader = DeadlineReader(self.connection, deadline, HEAD_MAX_BYTES)
        self.rfile = io.BufferedReader(self._reader)

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
        if self._linger_bytes:
            self._linger()

    def _respond(self) -> Response:
        body = self._read_body()
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

    def _read_body(self) -> bytes | Response:
        """The request body, or the 4xx answer when it is unacceptable."""
        length = content_length(self.headers)
        if isinstance(length, Response):
            return length
        if length > MAX_BODY_BYTES:
            self._linger_bytes = length
            return text_response(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        floor_s = self.server.settings.header_timeout_s
        self._reader.expect_body(time.monotonic() + body_time_s(length, floor_s), length)
        try:
            body = self.rfile.read(length)
        except OSError as exc:  # the deadline, or a reset while reading
            return text_response(408, f"could not read the request body: {type(exc).__name__}")
        if len(body) < length:
            return text_response(400, "request body shorter than its Content-Length")
        return body

    def _linger(self) -> None:
        """Read and drop what the client still sends of a refused body, for a short while."""
        budget = min(self._linger_bytes, LINGER_MAX_BYTES)
        self._reader.expect_body(time.monotonic() + LINGER_S, budget)
        with contextlib.suppress(OSError, ValueError):
            self.connection.shutdown(socket.SHUT_WR)  # the answer is complete
            while self.rfile.read1(MAX_BODY_BYTES):
                pass

    def _has_client_cert(self) -> bool:
        if not isinstance(self.connection, ssl.SSLSocket):
            return False
        return bool(self.connection.getpeercert())

    def _send(self, response: Response) -> None:
        try:
            self.connection.settimeout(WRITE_TIMEOUT_S)
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
