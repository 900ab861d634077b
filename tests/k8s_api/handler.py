"""The HTTP side: a threading HTTP/1.1 server and its request handler.

Each connection gets a thread (keep-alive, as the official client's urllib3
pool expects).  A request goes: read the body, record it in the request log,
apply faults (refuse, stall, forced failure), route it, run the verb, answer
JSON or stream a watch.  Every ApiError becomes a Status body.

The server remembers its connections and threads so that stopping it can
shut every socket (idle keep-alive ones included) and join every thread,
and it ignores the connection resets that clients closing watches
mid-stream produce instead of printing tracebacks.

Test-only endpoints, never logged and never subject to faults::

    GET  /_test/faults     the active fault rules
    POST /_test/faults     apply a fault spec (see faults.Faults.configure)
    GET  /_test/requests   {"requests": [{method, path, content_type, query}, ...]}
    DELETE /_test/requests clear that log
    GET  /_test/watches    {"open": number of open watch streams}
    POST /_test/reset      forget all objects, history, faults and log entries;
                           drop open watches
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, urlsplit

from . import errors, resources
from .connections import ConnectionRegistry
from .errors import ApiError
from .faults import Faults
from .request_log import RequestLog, RequestRecord
from .routing import Query, Route, is_watch, parse_path
from .store import Store
from .watch import WatchOptions, WatchRegistry, WatchStream, event_line, write_chunk

_VERSION_INFO = {"major": "1", "minor": "31", "gitVersion": "v1.31.0-pgactor-test"}
_HEALTH_PATHS = ("/healthz", "/livez", "/readyz")


@dataclass
class ServerContext:
    """Everything the request handlers share."""

    store: Store
    faults: Faults
    watches: WatchRegistry
    connections: ConnectionRegistry
    request_log: RequestLog
    stopping: threading.Event
    bookmark_interval: float


class ApiHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer whose connections are tracked in ``ctx.connections``."""

    daemon_threads = True
    block_on_close = False  # stop() joins the threads itself, with a deadline

    def __init__(self, address: tuple[str, int], ctx: ServerContext) -> None:
        self.ctx = ctx
        super().__init__(address, ApiRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"k8s-api-conn-{client_address[1]}",
            daemon=True,
        )
        self.ctx.connections.add(request, thread)
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except (ConnectionError, TimeoutError):
            pass  # clients hang up mid-request or mid-watch; nothing to report
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.ctx.connections.remove(request)
            self.shutdown_request(request)


class ApiRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # needed for keep-alive and chunked watch streams
    # Headers and body go out in separate writes; with Nagle on, the client's
    # delayed ACK would add ~40 ms to every response.
    disable_nagle_algorithm = True
    server_version = "k8s-api-test"
    server: ApiHTTPServer

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is the record; stderr lines would drown test output."""

    def _handle(self) -> None:
        url = urlsplit(self.path)
        try:
            body = self._read_body()
        except ValueError:  # a Content-Length or chunk size that is no number
            self.close_connection = True  # the framing is lost: cannot keep the connection
            self._send_json(400, errors.bad_request("malformed request framing").status())
            return
        if url.path.startswith("/_test/"):
            self._test_api(url.path, body)
            return
        ctx = self.server.ctx
        content_type = self.headers.get("Content-Type", "")
        ctx.request_log.append(RequestRecord(self.command, url.path, content_type, url.query))
        if ctx.faults.refusing:
            self.close_connection = True  # no answer at all, the connection just closes
            return
        ctx.faults.hold(self.command, url.path)
        route = parse_path(url.path)
        if route is None:
            self._serve_other(url.path)
        else:
            self._serve_resource(route, url, body)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        return b""

    def _read_chunked(self) -> bytes:
        data = bytearray()
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            data += self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline().strip():
            pass  # trailers
        return bytes(data)

    def _serve_resource(self, route: Route, url: SplitResult, body: bytes) -> None:
        ctx = self.server.ctx
        query = Query(url.query)
        content_type = resources.media_type(self.headers.get("Content-Type"))
        request = resources.Request(self.command, route, query, content_type, body)
        try:
            self._raise_injected(route, query, url.path)
            result = resources.handle(ctx.store, request)
        except ApiError as exc:
            exc.with_context(route.name or "", route.kind.plural)
            if exc.code == 410 and _wants_watch(route, query):
                self._stream_error(exc)
            else:
                self._send_json(exc.code, exc.status())
            return
        except Exception:
            traceback.print_exc(file=sys.stderr)  # a server bug: show it, answer 500
            self._send_json(500, errors.status_body(500, "InternalError", "server bug", "", ""))
            return
        if isinstance(result, WatchOptions):
            self._stream_watch(result)
        else:
            self._send_json(result.code, result.body)

    def _raise_injected(self, route: Route, query: Query, path: str) -> None:
        code = self.server.ctx.faults.failure_for(self.command, path)
        if code is None:
            return
        if code == 410:
            store = self.server.ctx.store
            requested = query.get("resourceVersion") or "0"
            raise errors.expired(
                f"too old resource version: {requested} ({store.resource_version})"
            )
        raise errors.injected(code, route.name or "", route.kind.plural)

    def _serve_other(self, path: str) -> None:
        if self.command == "GET" and path == "/version":
            self._send_json(200, _VERSION_INFO)
        elif self.command == "GET" and path in _HEALTH_PATHS:
            self._send_bytes(200, b"ok", "text/plain")
        else:
            message = "the server could not find the requested resource"
            self._send_json(404, errors.status_body(404, "NotFound", message, "", ""))

    def _stream_watch(self, options: WatchOptions) -> None:
        ctx = self.server.ctx
        self._start_chunked()
        stream = WatchStream(
            self.connection,
            self.wfile,
            ctx.store,
            options,
            bookmark_interval=ctx.bookmark_interval,
            stopping=ctx.stopping,
        )
        ctx.watches.add(stream)
        try:
            clean = stream.run()
        finally:
            ctx.watches.remove(stream)
        if not clean:
            self.close_connection = True

    def _stream_error(self, exc: ApiError) -> None:
        """A watch that fails after starting: 200, one ERROR event, end of stream."""
        self._start_chunked()
        write_chunk(self.wfile, event_line("ERROR", exc.status()))
        write_chunk(self.wfile, b"")

    def _start_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

    def _send_json(self, code: int, body: dict[str, Any]) -> None:
        self._send_bytes(code, json.dumps(body).encode(), "application/json")

    def _send_bytes(self, code: int, data: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _test_api(self, path: str, body: bytes) -> None:
        ctx = self.server.ctx
        endpoint = (self.command, path.rstrip("/"))
        try:
            if endpoint == ("POST", "/_test/faults"):
                spec = json.loads(body or b"{}")
                self._send_json(200, ctx.faults.configure(spec, spare=self.connection))
            elif endpoint == ("GET", "/_test/faults"):
                self._send_json(200, ctx.faults.describe())
            elif endpoint == ("GET", "/_test/requests"):
                records = [r.as_dict() for r in ctx.request_log.records()]
                self._send_json(200, {"requests": records})
            elif endpoint == ("DELETE", "/_test/requests"):
                ctx.request_log.clear()
                self._send_json(200, {"requests": []})
            elif endpoint == ("GET", "/_test/watches"):
                self._send_json(200, {"open": ctx.watches.count()})
            elif endpoint == ("POST", "/_test/reset"):
                self._send_json(200, {"dropped_watches": reset(ctx)})
            else:
                self._send_json(
                    404, errors.status_body(404, "NotFound", "no such test endpoint", "", "")
                )
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            self._send_json(400, errors.bad_request(str(exc)).status())


def reset(ctx: ServerContext) -> int:
    """Back to an empty server: no objects, faults, log entries or open watches."""
    ctx.faults.clear()
    ctx.store.reset()
    ctx.request_log.clear()
    return ctx.faults.drop_watches()


def _wants_watch(route: Route, query: Query) -> bool:
    try:
        return is_watch(route, query)
    except ApiError:
        return False
