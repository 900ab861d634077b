"""Run one pgactor node: the supervision tree until a signal or an escalation.

The supervisor runs in its own thread so that the main thread is free to take
signals: SIGTERM and SIGINT ask the supervisor to stop every actor in reverse
order; the process exits 0 after a clean stop and 1 after an escalation, so
Kubernetes (or systemd) restarts a node whose actors keep failing.

Before any actor starts, the node takes the ownership lock of its data
directory (node.ownership): a second agent for the same instance exits with
status 2 at once, having started nothing, written nothing to the DCS and
signalled no PostgreSQL.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from actors.runtime.supervisor import Outcome, Supervisor
from actors.runtime.thread_name import name_os_thread
from actors.runtime.timers import Scheduler
from messages.base import ActorName
from messages.config import NodeConfig
from messages.metrics import Sample, Samples
from node.cli import EXIT_USAGE
from node.ownership import OwnershipError, take
from node.tree import build_specs, new_registry

log = logging.getLogger(__name__)

METRICS = ActorName("metrics")


def restart_reporter(registry: Registry) -> Callable[[ActorName, int], None]:
    """The supervisor's on_restart: count each restart in the metrics actor.

    A restart of the metrics actor itself is not counted: it is down when the
    supervisor reports it, and its counters start again from zero anyway.
    """

    def report(name: ActorName, count: int) -> None:
        sample = Sample(name="pgactor_actor_restarts_total", value=1.0, labels=(("actor", name),))
        registry.tell(METRICS, Samples(items=(sample,)))

    return report


def run_node(config: NodeConfig) -> int:
    try:
        ownership = take(config.postgresql.data_dir)
    except OwnershipError as exc:
        log.error("pgactor node %s refuses to start: %s", config.name, exc)
        return EXIT_USAGE
    try:
        return _run_tree(config)
    finally:
        ownership.release()  # only now: every actor, PostgreSQL's included, has stopped


def _run_tree(config: NodeConfig) -> int:
    scheduler = Scheduler()
    scheduler.start()
    runtime = Runtime(registry=new_registry(), scheduler=scheduler)
    supervisor = Supervisor(
        build_specs(config, runtime), runtime, on_restart=restart_reporter(runtime.registry)
    )
    outcome: list[Outcome] = []

    def supervise() -> None:
        name_os_thread()  # "supervisor" in /proc, not the process's name (scripts/bench)
        outcome.append(supervisor.run())

    thread = threading.Thread(target=supervise, name="supervisor", daemon=True)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        supervisor.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("pgactor node %s of cluster %s starting", config.name, config.scope)
    thread.start()
    while thread.is_alive():
        thread.join()  # a signal interrupts the wait, runs its handler, and we wait again
    scheduler.stop()
    result = outcome[0] if outcome else Outcome.ESCALATED
    log.info("pgactor node %s stopped: %s", config.name, result.value)
    return 0 if result is Outcome.STOPPED else 1
