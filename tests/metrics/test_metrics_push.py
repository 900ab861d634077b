"""Pushing to a Pushgateway: a tiny local HTTP receiver stands in for it."""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.metrics import MetricsActor
from actors.runtime.actor import ask
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from actors.runtime.timers import Scheduler
from messages.base import ActorName
from messages.config import MetricsSettings
from messages.metrics import MetricsText, RenderMetrics, Sample
from messages.runtime import Ping

METRICS = ActorName("metrics")


@dataclasses.dataclass(frozen=True)
class Push:
    method: str
    path: str
    content_type: str
    body: str

    def value(self, metric: str) -> float:
        for family in text_string_to_metric_families(self.body):
            for sample in family.samples:
                if sample.name == metric:
                    return sample.value
        raise KeyError(metric)


class Gateway(ThreadingHTTPServer):
    """Records every request; answers `status` after `delay_s`."""

    daemon_threads = True

    def __init__(self, status: int = 200, delay_s: float = 0.0) -> None:
        self.status, self.delay_s = status, delay_s
        self.pushes: queue.Queue[Push] = queue.Queue()
        super().__init__(("127.0.0.1", 0), _Receiver)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def next_push(self, timeout_s: float = 10.0) -> Push:
        return self.pushes.get(timeout=timeout_s)


class _Receiver(BaseHTTPRequestHandler):
    server: Gateway

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        push = Push(self.command, self.path, self.headers.get("Content-Type", ""), body.decode())
        self.server.pushes.put(push)
        time.sleep(self.server.delay_s)
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def gateway(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    server = Gateway(**getattr(request, "param", {}))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def start_metrics(registry: Registry, scheduler: Scheduler, gateway: Gateway) -> Any:
    settings = MetricsSettings(pushgateway=gateway.address, push_interval_s=0.2, job="pgactor")
    return MetricsActor.start(
        name=METRICS,
        runtime=Runtime(registry=registry, scheduler=scheduler),
        scope="demo",
        member="pg1",
        settings=settings,
    )


def render(registry: Registry) -> str:
    reply = ask(registry, METRICS, RenderMetrics(), timeout_s=5)
    assert isinstance(reply, MetricsText)
    return reply.text


def test_metrics_are_pushed_to_the_gateway_under_job_scope_and_member(
    registry: Registry, scheduler: Scheduler, gateway: Gateway
) -> None:
    start_metrics(registry, scheduler, gateway)
    registry.tell(METRICS, Sample(name="pgactor_gossip_peers_seen", value=5))
    ask(registry, METRICS, Ping(), timeout_s=5)
    deadline = time.monotonic() + 10
    push = gateway.next_push()
    while "pgactor_gossip_peers_seen" not in push.body and time.monotonic() < deadline:
        push = gateway.next_push()  # a push may have left before the sample arrived
    assert push.method == "PUT"  # the whole group is replaced: a series we dropped goes too
    assert push.path == "/metrics/job/pgactor/name/pg1/scope/demo"
    assert push.content_type.startswith("text/plain")
    assert push.value("pgactor_gossip_peers_seen") == 5
    assert push.value("pgactor_info") == 1
    gateway.next_push()  # and again, every interval


@pytest.mark.parametrize("gateway", [{"status": 500}], indirect=True)
def test_a_failing_gateway_is_counted_and_pushing_goes_on(
    registry: Registry, scheduler: Scheduler, gateway: Gateway
) -> None:
    start_metrics(registry, scheduler, gateway)
    gateway.next_push()
    gateway.next_push()
    deadline = time.monotonic() + 10
    while "pgactor_pushgateway_failures_total{" not in render(registry):
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize("gateway", [{"delay_s": 3.0}], indirect=True)
def test_a_hanging_gateway_never_blocks_the_actor(
    registry: Registry, scheduler: Scheduler, gateway: Gateway
) -> None:
    start_metrics(registry, scheduler, gateway)
    gateway.next_push()  # a push is now hanging on the gateway
    started = time.monotonic()
    for _ in range(5):
        assert "pgactor_info" in render(registry)
    assert time.monotonic() - started < 1.0
    time.sleep(0.5)  # several ticks pass while the push hangs: no second push piles up
    assert gateway.pushes.empty()
