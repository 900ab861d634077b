"""The supervisor: starts children in order, restarts them, escalates.

pykka has none; this one follows Erlang/OTP's one_for_one strategy.  It runs
in the thread that calls :meth:`Supervisor.run` (the node's main thread): a
failed child is restarted alone after a backoff; past the restart intensity
every child is stopped in reverse order and `run` returns ESCALATED, so the
node exits non-zero and its own supervisor (systemd, Kubernetes) takes over.
What to do about an exit is decided by the pure :func:`decide_restart`.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import queue
import random
from collections.abc import Callable, Mapping
from typing import Any

from actors.runtime.context import Runtime
from actors.runtime.restart_policy import Backoff, Intensity, Restart, Verdict, decide_restart
from messages.base import ActorName
from messages.codec import encode
from messages.runtime import ChildExit, ExitKind, Ping

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ChildSpec:
    name: ActorName
    actor_class: Any
    """A BaseActor subclass; started as actor_class.start(name=, runtime=, on_exit=, **kwargs)."""
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    restart: Restart = Restart.PERMANENT
    shutdown_s: float = 10.0
    start_timeout_s: float = 30.0


_IDLE = ChildExit(name=ActorName(""), kind=ExitKind.NORMAL)
_DEFAULT_INTENSITY = Intensity()
_DEFAULT_BACKOFF = Backoff()
CHECK_INTERVAL_S = 5.0
"""How often the supervisor looks for a child whose thread ended without reporting.
Every exit pykka sees is reported at once (on_stop, on_failure); this only backstops a
thread gone some other way, so it need not wake an idle node every second (issue 16)."""


class Outcome(enum.Enum):
    STOPPED = "stopped"
    ESCALATED = "escalated"


@dataclasses.dataclass(slots=True)
class _Child:
    spec: ChildSpec
    ref: Any = None
    history: tuple[float, ...] = ()
    restarts: int = 0
    restart_due: float | None = None


class Supervisor:
    """One-for-one supervision of an ordered list of children.

    Every child gets the same `runtime`; restart history and backoff are
    measured on its clock, as everything else in the node is.
    """

    def __init__(  # noqa: PLR0913 - supervision knobs, all keyword-only
        self,
        specs: list[ChildSpec],
        runtime: Runtime,
        *,
        intensity: Intensity = _DEFAULT_INTENSITY,
        backoff: Backoff = _DEFAULT_BACKOFF,
        check_interval_s: float = CHECK_INTERVAL_S,
        on_restart: Callable[[ActorName, int], None] | None = None,
    ) -> None:
        self._children = [_Child(spec) for spec in specs]
        self._runtime = runtime
        self._registry = runtime.registry
        self._intensity = intensity
        self._backoff = backoff
        self._check_interval_s = check_interval_s
        self._clock = runtime.clock
        self._on_restart = on_restart
        self._events: queue.SimpleQueue[ChildExit | None] = queue.SimpleQueue()
        """Exits and stop requests.  A SimpleQueue, whose put is reentrant: request_stop
        runs in a signal handler, and a second SIGTERM's handler may run inside the
        first one's put.  queue.Queue's put holds a plain lock there, so the second put
        waited forever on its own thread, and the supervisor's get with it: the node
        never stopped (found in the demo: two SIGTERMs 1 ms apart)."""
        self._stopping = False

    # -- thread-safe -------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask `run` to stop every child in reverse order and return (any thread, and
        a signal handler, even one that interrupts another request_stop)."""
        self._events.put(None)

    def restarts(self, name: ActorName) -> int:
        return next((c.restarts for c in self._children if c.spec.name == name), 0)

    # -- the supervisor's own thread -----------------------------------------------

    def run(self) -> Outcome:
        """Start all children in order, supervise until stopped or escalated."""
        try:
            for child in self._children:
                self._start(child)
            return self._loop()
        finally:
            self._stop_all()

    def _loop(self) -> Outcome:
        while True:
            try:
                event = self._events.get(timeout=self._wait_s())
            except queue.Empty:
                event = _IDLE
            if event is None:
                return Outcome.STOPPED
            if event is not _IDLE and not self._handle_exit(event):
                return Outcome.ESCALATED
            self._restart_due_children()
            if not self._check_alive():
                return Outcome.ESCALATED

    def _wait_s(self) -> float:
        due = [c.restart_due for c in self._children if c.restart_due is not None]
        wait = self._check_interval_s
        if due:
            wait = min(wait, max(0.0, min(due) - self._clock()))
        return wait

    def _handle_exit(self, event: ChildExit) -> bool:
        child = next((c for c in self._children if c.spec.name == event.name), None)
        if child is None or self._stopping or child.restart_due is not None:
            return True
        if event.kind is ExitKind.FAILED:
            log.error("child %s failed: %s", event.name, event.error)
        self._registry.unregister(child.spec.name, child.ref)
        decision = decide_restart(
            restart=child.spec.restart,
            exit_kind=event.kind,
            history=child.history,
            now=self._clock(),
            intensity=self._intensity,
            backoff=self._backoff,
            rand=random.random(),
        )
        child.history = decision.history
        if decision.verdict is Verdict.ESCALATE:
            log.critical(
                "child %s restarted %d times within %.0f s: escalating",
                event.name,
                len(decision.history) - 1,
                self._intensity.period_s,
            )
            return False
        if decision.verdict is Verdict.RESTART:
            log.info("restarting %s in %.2f s", event.name, decision.delay_s)
            child.restart_due = self._clock() + decision.delay_s
        return True

    def _restart_due_children(self) -> None:
        now = self._clock()
        for child in self._children:
            if child.restart_due is not None and child.restart_due <= now:
                child.restart_due = None
                child.restarts += 1
                if self._on_restart is not None:
                    self._on_restart(child.spec.name, child.restarts)
                self._start(child)

    def _check_alive(self) -> bool:
        """Catch a child that died without reporting (its thread gone)."""
        for child in self._children:
            if child.restart_due is None and child.ref is not None and not child.ref.is_alive():
                ok = self._handle_exit(
                    ChildExit(name=child.spec.name, kind=ExitKind.FAILED, error="found dead")
                )
                if not ok:
                    return False
        return True

    def _start(self, child: _Child) -> None:
        spec = child.spec
        child.ref = spec.actor_class.start(
            name=spec.name, runtime=self._runtime, on_exit=self._events.put, **spec.kwargs
        )
        self._registry.register(spec.name, child.ref)
        try:
            child.ref.ask(encode(Ping()), timeout=spec.start_timeout_s)
        except Exception as exc:  # it died in start(); its exit report is queued
            log.warning("child %s did not start: %s", spec.name, exc)

    def _stop_all(self) -> None:
        self._stopping = True
        for child in reversed(self._children):
            ref, child.ref = child.ref, None
            if ref is None:
                continue
            self._registry.unregister(child.spec.name, ref)
            try:
                ref.stop(block=True, timeout=child.spec.shutdown_s)
            except Exception as exc:
                log.error(
                    "child %s did not stop within %.0f s: %s",
                    child.spec.name,
                    child.spec.shutdown_s,
                    exc,
                )
