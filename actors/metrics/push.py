"""Pushing to a Prometheus Pushgateway, off the actor's thread.

A push is an HTTP PUT that may hang on a dead gateway; the MetricsActor must
keep taking samples meanwhile, so each push runs in a daemon thread with a
timeout, and at most one is in flight: a tick that finds the last push still
running skips instead of piling threads up.  The outcome is handed to
`done` (the actor tells it to itself), never acted on in the worker.

The push is a PUT of the whole group (``job`` plus the scope and member
name), so a series the node no longer has disappears from the gateway too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, push_to_gateway

from messages.config import MetricsSettings
from messages.metrics import PushResult

MAX_PUSH_TIMEOUT_S = 10.0

PushFn = Callable[..., Any]


class Pusher:
    """At most one push in flight, in its own daemon thread."""

    def __init__(  # noqa: PLR0913 - what a push needs, keyword-only
        self,
        settings: MetricsSettings,
        *,
        registry: CollectorRegistry,
        grouping_key: Mapping[str, str],
        done: Callable[[PushResult], None],
        push: PushFn = push_to_gateway,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.pushgateway:
            raise ValueError("no pushgateway configured")
        self.gateway = settings.pushgateway
        self.job = settings.job
        self.timeout_s = min(MAX_PUSH_TIMEOUT_S, max(1.0, settings.push_interval_s))
        self._registry = registry
        self._grouping_key = dict(grouping_key)
        self._done = done
        self._push = push
        self._clock = clock
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Start a push; False (and nothing started) while the previous one still runs."""
        if self.busy:
            return False
        self._thread = threading.Thread(target=self._run, name="metrics-push", daemon=True)
        self._thread.start()
        return True

    def join(self, timeout_s: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        """Worker thread: one push, then report."""
        started = self._clock()
        try:
            self._push(
                self.gateway,
                job=self.job,
                registry=self._registry,
                grouping_key=self._grouping_key,
                timeout=self.timeout_s,
            )
        except Exception as exc:  # URLError, HTTPError, timeouts: all mean "not pushed"
            detail = f"{type(exc).__name__}: {exc}"[:300]
            result = PushResult(ok=False, duration_s=self._clock() - started, detail=detail)
        else:
            result = PushResult(ok=True, duration_s=self._clock() - started)
        self._done(result)
