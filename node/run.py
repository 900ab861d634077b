"""Run one pgactor node: the supervision tree until a signal or an escalation.

The supervisor runs in its own thread so that the main thread is free to take
signals: SIGTERM and SIGINT ask the supervisor to stop every actor in reverse
order; the process exits 0 after a clean stop and 1 after an escalation, so
Kubernetes (or systemd) restarts a node whose actors keep failing.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from actors.runtime.registry import Registry
from actors.runtime.supervisor import Outcome, Supervisor
from actors.runtime.timers import Scheduler
from messages.config import NodeConfig
from node.tree import build_specs

log = logging.getLogger(__name__)


def run_node(config: NodeConfig) -> int:
    scheduler = Scheduler()
    scheduler.start()
    supervisor = Supervisor(build_specs(config, scheduler), Registry())
    outcome: list[Outcome] = []
    thread = threading.Thread(
        target=lambda: outcome.append(supervisor.run()), name="supervisor", daemon=True
    )

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
