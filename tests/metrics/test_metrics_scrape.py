"""GET /metrics of a running ApiActor and MetricsActor over real HTTP, parsed as Prometheus does."""

from __future__ import annotations

import dataclasses
import http.client
import logging
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families
from statuses import primary  # type: ignore[import-not-found]

from actors.api import ApiActor
from actors.metrics import MetricsActor
from actors.runtime.actor import ask
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from messages.base import ActorName
from messages.config import RestApiSettings
from messages.metrics import Sample, Samples
from messages.runtime import Ping
from node.run import restart_reporter

API, METRICS = ActorName("api"), ActorName("metrics")
STATUS = primary()


@dataclasses.dataclass
class Scrape:
    code: int
    content_type: str
    body: str

    def value(self, metric: str, **labels: str) -> float:
        for family in text_string_to_metric_families(self.body):
            for sample in family.samples:
                if sample.name == metric and labels.items() <= sample.labels.items():
                    return sample.value
        raise KeyError(f"{metric}{labels} not in the scrape")


@pytest.fixture
def scrape(registry: Registry) -> Callable[[], Scrape]:
    ref = ApiActor.start(
        name=API,
        runtime=Runtime(registry=registry),
        settings=RestApiSettings(listen_port=0),
        scope="demo",
    )
    port = ref.proxy().port.get(timeout=10)

    def get() -> Scrape:
        if registry.get(METRICS) is not None:
            ask(registry, METRICS, Ping(), timeout_s=5)  # every sample told so far is applied
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            return Scrape(resp.status, resp.headers["Content-Type"], resp.read().decode())
        finally:
            conn.close()

    return get


@pytest.fixture
def metrics(registry: Registry) -> None:
    MetricsActor.start(name=METRICS, runtime=Runtime(registry=registry), scope="demo", member="pg1")


@pytest.mark.usefixtures("metrics")
def test_pushed_samples_and_the_ha_status_appear_in_a_scrape(
    registry: Registry, scrape: Callable[[], Scrape]
) -> None:
    dcs = Sample(
        name="pgactor_dcs_request_duration_seconds", value=0.003, labels=(("op", "renew"),)
    )
    registry.tell(METRICS, Samples(items=(dcs, dcs)))
    registry.tell(METRICS, Sample(name="pgactor_gossip_peers_seen", value=2))
    registry.tell(METRICS, STATUS)
    got = scrape()
    assert got.code == 200
    assert got.content_type.startswith("text/plain")
    assert got.value("pgactor_dcs_request_duration_seconds_count", op="renew") == 2
    assert got.value("pgactor_gossip_peers_seen", scope="demo", name="pg1") == 2
    assert got.value("pgactor_primary") == 1
    assert got.value("pgactor_postgres_timeline") == 4
    assert got.value("pgactor_xlog_location") == 123456
    assert got.value("pgactor_info") == 1


@pytest.mark.usefixtures("metrics")
def test_supervisor_restarts_are_counted_by_actor(
    registry: Registry, scrape: Callable[[], Scrape]
) -> None:
    report = restart_reporter(registry)  # what node/run.py hands the Supervisor as on_restart
    report(ActorName("ha"), 1)
    report(ActorName("ha"), 2)
    report(ActorName("postmaster"), 1)
    got = scrape()
    assert got.value("pgactor_actor_restarts_total", actor="ha") == 2
    assert got.value("pgactor_actor_restarts_total", actor="postmaster") == 1


@pytest.mark.usefixtures("metrics")
def test_a_sample_of_an_unknown_metric_is_dropped_with_one_warning(
    registry: Registry, scrape: Callable[[], Scrape], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            registry.tell(METRICS, Sample(name="pgactor_no_such_thing", value=1))
        got = scrape()
    assert got.code == 200
    assert "pgactor_no_such_thing" not in got.body
    assert caplog.text.count("pgactor_no_such_thing") == 1


def test_without_a_metrics_actor_the_scrape_is_unavailable(scrape: Callable[[], Scrape]) -> None:
    got = scrape()
    assert (got.code, got.body) == (503, "the metrics actor is not running\n")


def test_the_lease_left_is_aged_at_each_scrape(
    registry: Registry, scrape: Callable[[], Scrape]
) -> None:
    """The HA core publishes its status only when it changed (or every loop_wait), so
    the lease's remaining time must count down between publications."""
    now = [1000.0]
    runtime = Runtime(registry=registry, clock=lambda: now[0])
    MetricsActor.start(name=METRICS, runtime=runtime, scope="demo", member="pg1")
    registry.tell(METRICS, dataclasses.replace(STATUS, lease_remaining_s=25.0))
    assert scrape().value("pgactor_lease_remaining_seconds") == 25
    now[0] += 10
    assert scrape().value("pgactor_lease_remaining_seconds") == 15
    now[0] += 30
    assert scrape().value("pgactor_lease_remaining_seconds") == 0
