"""``metrics.names: patroni``: the same numbers again under Patroni's names.

Patroni 4 serves ``/metrics`` as ``patroni_*`` series labelled ``scope`` and
``name``, and dashboards and alert rules are written against those names.
With ``names: patroni`` the store registers :class:`PatroniView`, which reads
pgactor's own series at every scrape (and push) and yields each one named
here again under its Patroni name, with only the ``scope`` and ``name``
labels, so a Patroni dashboard or rule works unchanged.

The Patroni names come *in addition to* pgactor's, never instead: about half
of what pgactor exports has no Patroni name (DCS latency and errors, the
lease, actor restarts, per-standby lag, base backup progress, the cluster's
maximum_lag_on_failover), pgactor's own dashboard and alert rules use those,
and a team moving its dashboards over needs both while it moves.  Being a
view over the same gauges, the two names can never disagree.

Every Patroni series is typed gauge.  Patroni declares its WAL positions and
timeline as counters; an exposition library writes a counter's samples with
a ``_total`` suffix, which would break the very queries this view exists for,
and PromQL does not look at the declared type.

Patroni series pgactor does not serve, and why, are in :data:`NOT_SERVED`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from actors.metrics.catalog import BY_NAME, CONSTANT_LABELS

Convert = Callable[[float, Mapping[str, str]], float]


def _same(value: float, labels: Mapping[str, str]) -> float:
    del labels
    return value


def _never(value: float, labels: Mapping[str, str]) -> float:
    del value, labels
    return 0.0


def padded_version(value: float, labels: Mapping[str, str]) -> float:
    """pgactor_info's version label as Patroni writes its own: 4.1.5 -> 040105."""
    del value
    parts = [*labels.get("version", "").split(".")[:3], "0", "0", "0"][:3]
    return float("".join(_leading_digits(part).zfill(2) for part in parts))


def _leading_digits(part: str) -> str:
    """The number a version part starts with: 1 of "1rc2", 0 of "dev" or "unknown"."""
    found = re.match(r"\d+", part)
    return found.group() if found else "0"


@dataclasses.dataclass(frozen=True, slots=True)
class PatroniName:
    name: str
    source: str
    """The pgactor metric whose series this one shows (one per member)."""
    help: str = ""
    convert: Convert = _same
    """The value from the source sample's value and labels."""

    def help_text(self) -> str:
        return self.help or f"As {self.source}: {BY_NAME[self.source].help}"


PATRONI_NAMES: tuple[PatroniName, ...] = (
    *(
        PatroniName(name=f"patroni_{suffix}", source=f"pgactor_{suffix}")
        for suffix in (
            "primary",
            "replica",
            "sync_standby",
            "postgres_running",
            "postgres_timeline",
            "postgres_streaming",
            "postgres_in_archive_recovery",
            "xlog_location",
            "xlog_received_location",
            "xlog_replayed_location",
            "is_paused",
            "pending_restart",
            "cluster_unlocked",
            "failsafe_mode_is_active",
            "dcs_last_seen",
        )
    ),
    PatroniName(
        name="patroni_standby_leader",
        source="pgactor_primary",
        help="Always 0: pgactor runs no standby cluster, so no member is a standby leader.",
        convert=_never,
    ),
    PatroniName(
        name="patroni_version",
        source="pgactor_info",
        help="pgactor's version, padded as Patroni pads its own (0.1.0 -> 000100).",
        convert=padded_version,
    ),
)
"""Every Patroni name served, and the pgactor series it shows."""

NOT_SERVED: Mapping[str, str] = {
    "patroni_postmaster_start_time": "the node status carries no postmaster start time",
    "patroni_postgres_server_version": "the node status carries no server version",
    "patroni_xlog_replayed_timestamp": "the node status carries no replay timestamp",
    "patroni_xlog_paused": "the node status does not say whether replay is paused",
    "patroni_quorum_standby": "pgactor publishes no quorum standbys",
    "patroni_postgres_state": "Patroni's numbering of states; pgactor_postgres_state names them",
}
"""Patroni 4 series without a Patroni-named counterpart here, and why."""


class PatroniView(Collector):
    """Yields the :data:`PATRONI_NAMES` series from pgactor's own metric objects."""

    def __init__(self, metrics: Mapping[str, Any]) -> None:
        missing = sorted({p.source for p in PATRONI_NAMES} - set(metrics))
        if missing:
            raise ValueError(f"the Patroni names need {missing}, which the store lacks")
        self._metrics = metrics

    def describe(self) -> list[GaugeMetricFamily]:
        """The families, empty: registering the view reads no metric."""
        return [_family(p) for p in PATRONI_NAMES]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Whichever thread renders or pushes; each source metric is read under its own lock."""
        for patroni in PATRONI_NAMES:
            family = _family(patroni)
            for metric in self._metrics[patroni.source].collect():
                for sample in metric.samples:
                    if sample.name == patroni.source:
                        labels = [sample.labels[label] for label in CONSTANT_LABELS]
                        family.add_metric(labels, patroni.convert(sample.value, sample.labels))
            yield family


def _family(patroni: PatroniName) -> GaugeMetricFamily:
    return GaugeMetricFamily(patroni.name, patroni.help_text(), labels=CONSTANT_LABELS)
