"""MetricsActor: the one owner of this node's Prometheus metrics.

Other actors *tell* it :class:`Sample` and :class:`Samples` messages and the
HA actor its :class:`NodeStatus`; nobody else touches a metric object, so no
actor ever waits on a lock another holds, and a metric name lives in one
table (:mod:`actors.metrics.catalog`).  It answers :class:`RenderMetrics`
(the REST API's ``GET /metrics``) with the text exposition and, when a
Pushgateway is configured, pushes every interval from a worker thread.

Counters and histograms start from zero when this actor restarts, as they
would when a process restarts; Prometheus's ``rate()`` handles such resets.
"""

from __future__ import annotations

import contextlib
from typing import Unpack

import pykka
from prometheus_client import CONTENT_TYPE_LATEST

from actors.metrics.push import Pusher, PushFn
from actors.metrics.status import status_samples
from actors.metrics.store import MetricStore
from actors.runtime.actor import ActorArgs, BaseActor, handles
from messages.admin import NodeStatus
from messages.config import MetricsSettings
from messages.metrics import MetricsText, PushResult, RenderMetrics, Sample, Samples
from messages.runtime import Tick
from messages.version import VERSION

_PUSH = Tick(timer="push")
MAX_WARNED = 1000
"""Distinct dropped-sample warnings remembered; past this they are logged at DEBUG only."""


class MetricsActor(BaseActor):
    """Keeps the metrics, serves them on request, pushes them on a timer."""

    def __init__(
        self,
        *,
        scope: str,
        member: str,
        settings: MetricsSettings | None = None,
        push: PushFn | None = None,
        **base: Unpack[ActorArgs],
    ) -> None:
        super().__init__(**base)
        self.settings = settings or MetricsSettings()
        # Only pushing needs a timer: without a scheduler the runtime refuses it here.
        self.timers = self.runtime.timers(self.name) if self.settings.pushgateway else None
        self.store = MetricStore(scope=scope, member=member, names=self.settings.names)
        self.warned: set[tuple[str, str]] = set()
        self.push_failing = False
        self.lease: tuple[float, float] | None = None
        """(Seconds of lease left, our clock) as the last NodeStatus said: aged at each
        render, since the HA core publishes only when its status changed."""
        self.pusher: Pusher | None = None
        if self.settings.pushgateway:
            kwargs = {} if push is None else {"push": push}
            self.pusher = Pusher(
                self.settings,
                registry=self.store.registry,
                grouping_key={"scope": scope, "name": member},
                done=self._push_done,
                clock=self.runtime.clock,
                **kwargs,
            )

    def started(self) -> None:
        """Actor thread: publish the version, start the push timer."""
        self._apply(Sample(name="pgactor_info", value=1.0, labels=(("version", VERSION),)))
        if self.pusher is not None and self.timers is not None:
            interval = self.settings.push_interval_s
            self.timers.every(_PUSH.timer, interval, _PUSH)
            self.log.info(
                "pushing metrics to %s every %.0f s as job %s",
                self.pusher.gateway,
                interval,
                self.settings.job,
            )

    def stopping(self) -> None:
        """Actor thread: stop the timer; a push in flight ends on its own timeout."""
        if self.timers is not None:
            self.timers.cancel_all()

    # -- samples in ------------------------------------------------------------------

    @handles(Sample)
    def handle_sample(self, msg: Sample) -> None:
        self._apply(msg)

    @handles(Samples)
    def handle_samples(self, msg: Samples) -> None:
        for name in msg.replace:
            if not self.store.clear(name):
                self._warn(name, "not in the metric catalog")
        for sample in msg.items:
            self._apply(sample)

    @handles(NodeStatus)
    def handle_status(self, msg: NodeStatus) -> None:
        self.handle_samples(status_samples(msg, wall_time=self.runtime.wall()))
        left = msg.lease_remaining_s
        self.lease = None if left is None else (left, self.runtime.clock())

    def _age_lease(self) -> None:
        if self.lease is not None:
            left, at = self.lease
            aged = max(0.0, left - (self.runtime.clock() - at))
            self._apply(Sample(name="pgactor_lease_remaining_seconds", value=aged))

    def _apply(self, sample: Sample) -> None:
        problem = self.store.apply(sample)
        if problem is not None:
            self._warn(sample.name, problem)

    def _warn(self, metric: str, problem: str) -> None:
        key = (metric[:100], problem)
        if key in self.warned or len(self.warned) >= MAX_WARNED:
            self.log.debug("dropped a sample of %r: %s", metric[:100], problem)
            return
        self.warned.add(key)
        self.log.warning("dropped a sample of %r: %s", metric[:100], problem)

    # -- metrics out -----------------------------------------------------------------

    @handles(RenderMetrics)
    def handle_render(self, msg: RenderMetrics) -> MetricsText:
        self._age_lease()
        text = self.store.render().decode("utf-8", errors="replace")
        return MetricsText(text=text, content_type=CONTENT_TYPE_LATEST)

    @handles(Tick)
    def handle_tick(self, msg: Tick) -> None:
        if msg.timer != _PUSH.timer or self.pusher is None:
            return
        self._age_lease()
        if not self.pusher.start():
            self.log.debug("previous push still running: skipped this one")

    def _push_done(self, result: PushResult) -> None:
        """Push worker thread: hand the outcome to the actor's own thread."""
        with contextlib.suppress(pykka.ActorDeadError):  # stopped while the push ran
            self.tell_self(result)

    @handles(PushResult)
    def handle_push_result(self, msg: PushResult) -> None:
        if msg.ok:
            if self.push_failing:
                self.log.info("pushing metrics works again")
            self.push_failing = False
            return
        self._apply(Sample(name="pgactor_pushgateway_failures_total", value=1.0))
        if not self.push_failing:
            self.log.warning("pushing metrics failed: %s", msg.detail)
        self.push_failing = True
