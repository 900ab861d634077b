"""Metrics: every actor's numbers in one Prometheus registry, served and pushed.

:class:`MetricsActor` is the shell; beside it ``catalog`` (every metric's
name, type, help and labels), ``store`` (the private registry), ``status``
(the HA status as gauges), ``push`` (the Pushgateway worker) and ``patroni``
(the same gauges under Patroni's names, with ``metrics.names: patroni``).
"""

from __future__ import annotations

from actors.metrics.actor import MetricsActor

__all__ = ["MetricsActor"]
