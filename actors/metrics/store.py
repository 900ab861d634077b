"""The MetricsActor's own Prometheus registry, filled from samples.

The store is the only code that touches prometheus_client objects, and only
the MetricsActor's thread writes to it (the Pushgateway worker only reads,
which prometheus_client's own locks make safe).  It keeps a private
:class:`CollectorRegistry`, never the library's global one, so two nodes in
one process (tests, the simulator) never mix their numbers.

A sample that does not fit -- an unknown name, the wrong label names, a
counter going down, a value that is not finite, one label combination too
many -- is refused with the reason; the caller logs it.
"""

from __future__ import annotations

import math
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from actors.metrics.catalog import BY_NAME, CATALOG, CONSTANT_LABELS, Kind, MetricDef
from actors.metrics.patroni import PatroniView
from messages.metrics import Sample

MAX_SERIES_PER_METRIC = 256
"""Label combinations one metric may hold; more means a sender labels by something unbounded."""


def _make(definition: MetricDef, registry: CollectorRegistry) -> Any:
    labels = (*CONSTANT_LABELS, *definition.labels)
    if definition.kind is Kind.GAUGE:
        return Gauge(definition.name, definition.help, labels, registry=registry)
    if definition.kind is Kind.COUNTER:
        return Counter(definition.name, definition.help, labels, registry=registry)
    return Histogram(
        definition.name, definition.help, labels, registry=registry, buckets=definition.buckets
    )


NAMES = ("pgactor", "patroni")
"""``metrics.names``: pgactor's names alone, or Patroni's beside them (actors.metrics.patroni)."""


class MetricStore:
    """Every catalog metric, for one member of one cluster."""

    def __init__(self, *, scope: str, member: str, names: str = "pgactor") -> None:
        if names not in NAMES:
            raise ValueError(f"metric names {names!r}: expected one of {', '.join(NAMES)}")
        self.registry = CollectorRegistry(auto_describe=True)
        self._constant = (scope, member)
        self._metrics = {d.name: _make(d, self.registry) for d in CATALOG}
        self._series: dict[str, set[tuple[str, ...]]] = {d.name: set() for d in CATALOG}
        if names == "patroni":
            self.registry.register(PatroniView(self._metrics))

    def apply(self, sample: Sample) -> str | None:
        """Record one sample; None when recorded, else why it was dropped."""
        definition = BY_NAME.get(sample.name)
        if definition is None:
            return "not in the metric catalog"
        values = self._label_values(definition, sample)
        if isinstance(values, str):
            return values
        if not math.isfinite(sample.value):
            return f"value {sample.value!r} is not finite"
        if definition.kind is Kind.COUNTER and sample.value < 0:
            return "a counter cannot go down"
        series = self._series[definition.name]
        if values not in series and len(series) >= MAX_SERIES_PER_METRIC:
            return f"more than {MAX_SERIES_PER_METRIC} label combinations"
        series.add(values)
        child = self._metrics[definition.name].labels(*self._constant, *values)
        if definition.kind is Kind.GAUGE:
            child.set(sample.value)
        elif definition.kind is Kind.COUNTER:
            child.inc(sample.value)
        else:
            child.observe(sample.value)
        return None

    def clear(self, name: str) -> bool:
        """Drop every series of one metric; False for a name not in the catalog."""
        if name not in self._metrics:
            return False
        self._metrics[name].clear()
        self._series[name].clear()
        return True

    def render(self) -> bytes:
        """The text exposition of every metric (safe from any thread)."""
        return generate_latest(self.registry)

    @staticmethod
    def _label_values(definition: MetricDef, sample: Sample) -> tuple[str, ...] | str:
        given = dict(sample.labels)
        if len(given) != len(sample.labels) or set(given) != set(definition.labels):
            names = sorted(name for name, _ in sample.labels)
            return f"labels {names} given, {sorted(definition.labels)} expected"
        return tuple(given[name] for name in definition.labels)
