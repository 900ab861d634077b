"""A fake Kubernetes core/v1 API server for tests, in-process or as a process.

No real kube-apiserver can run in the test environment; this one speaks
enough of the real protocol for the official ``kubernetes`` client to drive
it over real HTTP on 127.0.0.1: Endpoints, ConfigMaps, Pods and Services
with get/list/create/replace/patch/delete, optimistic concurrency on a global
resourceVersion, selectors, chunked watches with bounded history, and fault
injection.  The machinery lives in the ``k8s_api`` package next to this file
(see its docstring); this module is the front door.

In-process::

    with K8sApiServer(port=0) as server:
        config = kubernetes.client.Configuration(host=server.url)
        ...
        server.faults.fail_next(1, 500, method="PATCH", path="endpoints")
        server.faults.drop_connections()  # as if the API server restarted
        server.request_log  # [RequestRecord(method, path, content_type, query), ...]

As a process (prints ``listening on http://127.0.0.1:PORT`` once ready, and
exits cleanly on SIGTERM or SIGINT)::

    python tests/k8s_api_server.py --port 0

and then drive its faults over HTTP: ``POST /_test/faults``,
``GET /_test/requests`` (see ``k8s_api.handler``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType, TracebackType

from k8s_api.connections import ConnectionRegistry
from k8s_api.faults import Faults
from k8s_api.handler import ApiHTTPServer, ServerContext, reset
from k8s_api.request_log import RequestLog, RequestRecord
from k8s_api.store import Store
from k8s_api.watch import WatchRegistry

HOST = "127.0.0.1"  # loopback only, by design: this server has no authentication
_JOIN_SECONDS = 5.0


class K8sApiServer:
    """The fake API server: ``start()`` binds 127.0.0.1:`port` (0 picks a free one)."""

    def __init__(
        self, port: int = 0, *, history_size: int = 1000, bookmark_interval: float = 1.0
    ) -> None:
        self._requested_port = port
        self.store = Store(history_size)
        stopping = threading.Event()
        watches = WatchRegistry(self.store)
        connections = ConnectionRegistry()
        self.faults = Faults(
            drop_watches=watches.drop_all,
            drop_connections=connections.shutdown_all,
            stopping=stopping,
        )
        self._ctx = ServerContext(
            store=self.store,
            faults=self.faults,
            watches=watches,
            connections=connections,
            request_log=RequestLog(),
            stopping=stopping,
            bookmark_interval=bookmark_interval,
        )
        self._httpd: ApiHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> K8sApiServer:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._httpd = ApiHTTPServer((HOST, self._requested_port), self._ctx)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},  # how long stop() waits for the accept loop
            name=f"k8s-api-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end every watch and connection, join every thread.  Idempotent."""
        httpd, thread, ctx = self._httpd, self._thread, self._ctx
        if httpd is None or thread is None or ctx.stopping.is_set():
            return
        ctx.stopping.set()  # stalls and watches see it and return
        httpd.shutdown()
        thread.join()
        self.store.wake_all()
        # Let woken watches send their terminating chunk before the sockets go.
        ctx.watches.wait_closed(_JOIN_SECONDS / 5)
        ctx.connections.shutdown_all()
        stuck = ctx.connections.join(_JOIN_SECONDS)
        httpd.server_close()
        if stuck:
            print(f"k8s_api_server: {len(stuck)} connection threads did not end", file=sys.stderr)

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def request_log(self) -> list[RequestRecord]:
        """Every non-test request received so far, oldest first (a copy)."""
        return self._ctx.request_log.records()

    def clear_request_log(self) -> None:
        self._ctx.request_log.clear()

    def reset(self) -> None:
        """Empty the server for the next test: objects, history, faults, log, watches.

        Versions keep counting up, so a watch resuming from before gets 410.
        """
        reset(self._ctx)

    @property
    def open_watches(self) -> int:
        """How many watch streams are open right now (tests poll it to sync)."""
        return self._ctx.watches.count()

    def __enter__(self) -> K8sApiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument(
        "--history-size",
        type=_at_least_one,
        default=1000,
        help="watch events kept; a watch from an older version gets 410 Gone (default 1000)",
    )
    parser.add_argument("--bookmark-interval", type=float, default=1.0, help="seconds")
    args = parser.parse_args(argv)
    stop_requested = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = K8sApiServer(
        args.port, history_size=args.history_size, bookmark_interval=args.bookmark_interval
    )
    server.start()
    print(f"listening on {server.url}", flush=True)
    try:
        while not stop_requested.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
