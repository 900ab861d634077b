"""Metric samples: how every actor reports numbers without sharing a registry.

An actor never touches a Prometheus registry: it *tells* the MetricsActor a
:class:`Sample` (or a batch, :class:`Samples`) and goes on.  What a sample's
value means follows from the metric's type in the MetricsActor's catalog:

- gauge: the current value (``pgactor_primary`` 1);
- counter: an increment (``pgactor_actor_restarts_total`` +1);
- histogram: one observation (a DCS request took 0.004 s).

Names and label names are plain text on the wire, so a sample for a metric
the catalog does not know is dropped there with a warning rather than refused
here: a newer peer's metric never breaks an older node.
"""

from __future__ import annotations

from messages.base import Message, message


@message("metrics.sample")
class Sample(Message):
    """One observation of one metric; `labels` are (name, value) pairs in any order."""

    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


@message("metrics.samples")
class Samples(Message):
    """Several observations taken together, applied in order."""

    items: tuple[Sample, ...] = ()
    replace: tuple[str, ...] = ()
    """Metrics whose every labelled series is dropped before `items` apply.

    For a family whose label values come and go (one series per standby),
    the sender states the whole family each time, so a standby that left
    disappears instead of showing its last lag for ever.
    """


@message("metrics.render")
class RenderMetrics(Message):
    """Asked by the REST API for ``GET /metrics``; answered with :class:`MetricsText`."""


@message("metrics.text")
class MetricsText(Message):
    """The Prometheus text exposition of every metric, and the content type to serve it as."""

    text: str
    content_type: str


@message("metrics.push_result")
class PushResult(Message):
    """How one push to the Pushgateway ended (told by the push worker to its actor)."""

    ok: bool
    duration_s: float
    detail: str = ""
