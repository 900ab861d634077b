"""Stopping a postmaster by signal, with a safepoint and escalation.

PostgreSQL's shutdown modes are signals to the postmaster: SIGTERM (smart:
wait for sessions to end), SIGINT (fast: end them), SIGQUIT (immediate: no
shutdown checkpoint, crash recovery at next start).  The *safepoint* is the
moment no user backend is left, so none can still report a COMMIT to a
client; it comes before the postmaster exits (the shutdown checkpoint runs
after) and is what a switchover waits for.  Past the timeout the stop is
escalated to immediate, and if that does not end the server within a grace
period, the postmaster and its children are SIGKILLed.  The PID file is
removed only once no process of the server is left, so a stale file never
hides a live server and a live server is never orphaned.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import logging
import os
import signal
import time
from collections.abc import Callable

from actors.postgres import procfs
from actors.postgres.interrupt import INTERRUPTED, Interrupt
from actors.postgres.result import Result
from messages.config import StopMode

log = logging.getLogger(__name__)

POLL_S = 0.05
IMMEDIATE_GRACE_S = 7.0
"""PostgreSQL SIGKILLs children 5 s into an immediate shutdown; allow it that and a bit."""
KILL_GRACE_S = 5.0
LEFTOVER_GRACE_S = 5.0
ORPHAN_GRACE_S = 3.0
"""An orphaned server gets this long to obey SIGQUIT before it is SIGKILLed."""

SIGNALS = {
    StopMode.SMART: signal.SIGTERM,
    StopMode.FAST: signal.SIGINT,
    StopMode.IMMEDIATE: signal.SIGQUIT,
}


class _Once:
    def __init__(self, fn: Callable[[], None] | None) -> None:
        self._fn = fn
        self.done = fn is None

    def __call__(self) -> None:
        if self.done or self._fn is None:
            return
        self.done = True
        try:
            self._fn()
        except Exception:
            log.exception("the safepoint callback failed")


def _no_child() -> int | None:
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class Server:
    """Which server: its data dir, its cluster_name (in process titles), how to
    collect its postmaster if it is our child (a zombie still has a PID), the PID
    of our child postmaster if one runs (it may not have written its PID file or
    entered its data directory yet), and the interrupt of the action stopping it."""

    data_dir: str
    cluster_name: str
    reap: Callable[[], None]
    child: Callable[[], int | None] = _no_child
    interrupt: Interrupt = dataclasses.field(default_factory=Interrupt)

    def alive(self, pid: int) -> bool:
        self.reap()
        return pid == self.child() or procfs.works_in(pid, self.data_dir)


def stop_server(
    server: Server,
    pid: int,
    mode: StopMode,
    timeout_s: float,
    on_safepoint: Callable[[], None] | None,
) -> Result:
    """Stop the postmaster ``pid``; blocks until it is gone.

    ``on_safepoint`` is called exactly once, from this thread: when no user
    backend is left, or at the latest once the postmaster is gone.
    """
    safepoint = _Once(on_safepoint)
    log.info("stopping PostgreSQL (%s, pid %d, timeout %.1fs)", mode.value, pid, timeout_s)
    procfs.send_signal(pid, SIGNALS[mode])
    deadline = time.monotonic() + timeout_s
    escalated = False
    while server.alive(pid):
        if not safepoint.done and not procfs.user_backends(pid, server.cluster_name):
            safepoint()
        if time.monotonic() >= deadline:
            escalated = True
            _escalate(server, pid)
            break
        if server.interrupt.sleep(POLL_S):
            # a stronger stop took over: it owns the server now, this one only leaves
            return Result.failure(INTERRUPTED)
    safepoint()
    return _finish(server, pid, mode, escalated=escalated)


def stop_orphan(server: Server, pid: int) -> Result:
    """Stop a postmaster whose data directory was removed under it.

    Its PID file is gone with the directory, so only its PID is left to signal;
    a shutdown checkpoint has nowhere to go, so the stop is immediate whatever
    was asked, and SIGKILL follows soon: the port and shared memory it holds are
    what a new server on this path is waiting for.
    """
    log.warning("stopping PostgreSQL %d, whose data directory is gone (immediate)", pid)
    procfs.send_signal(pid, signal.SIGQUIT)
    escalated = False
    if not _wait_until(lambda: not server.alive(pid), ORPHAN_GRACE_S):
        escalated = True
        victims = {pid, *procfs.processes_in_dir(server.data_dir)}
        victims.update(p for p, _ in procfs.children_of(pid))
        for victim in victims:
            procfs.send_signal(victim, signal.SIGKILL)
        log.warning("PostgreSQL ignored the immediate shutdown: SIGKILLed %s", sorted(victims))
        _wait_until(lambda: not server.alive(pid), KILL_GRACE_S)
    if server.alive(pid):
        return Result.failure(f"postmaster {pid} survived SIGKILL", escalated=escalated)
    if not _wait_until(lambda: not procfs.processes_in_dir(server.data_dir), LEFTOVER_GRACE_S):
        procfs.kill_server(None, server.data_dir)
    how = "escalated to SIGKILL" if escalated else "immediate"
    return Result.success(f"stopped ({how}); the data directory is gone", escalated=escalated)


def _wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def _escalate(server: Server, pid: int) -> None:
    log.warning("PostgreSQL did not stop in time: escalating to an immediate shutdown")
    procfs.send_signal(pid, signal.SIGQUIT)
    if _wait_until(lambda: not server.alive(pid), IMMEDIATE_GRACE_S):
        return
    victims = procfs.kill_server(pid, server.data_dir)
    log.warning("PostgreSQL ignored the immediate shutdown: SIGKILLed %s", victims)
    _wait_until(lambda: not server.alive(pid), KILL_GRACE_S)


def _finish(server: Server, pid: int, mode: StopMode, *, escalated: bool) -> Result:
    if server.alive(pid):
        return Result.failure(f"postmaster {pid} survived SIGKILL", escalated=escalated)
    if not clear_leftovers(server.data_dir):
        return Result.failure("processes of the server survived SIGKILL", escalated=escalated)
    how = "escalated to immediate" if escalated else mode.value
    return Result.success(f"stopped ({how})", escalated=escalated)


def clear_leftovers(data_dir: str, socket_dir: str | None = None) -> bool:
    """No process of a dead postmaster remains and no stale PID or lock file; False if
    stuck.

    Backends notice their postmaster's death and exit by themselves; one that
    does not within a grace period is SIGKILLed (it would keep the old shared
    memory busy and the next start would refuse to run).
    """
    pid_file = procfs.read_pid_file(data_dir)
    if pid_file is not None and procfs.is_postmaster_of(pid_file.pid, data_dir):
        return False
    if not _wait_until(lambda: not procfs.processes_in_dir(data_dir), LEFTOVER_GRACE_S):
        log.warning("SIGKILLing leftover server processes %s", procfs.processes_in_dir(data_dir))
        procfs.kill_server(None, data_dir)
        if not _wait_until(lambda: not procfs.processes_in_dir(data_dir), KILL_GRACE_S):
            return False
    if pid_file is not None:
        log.info("removing the stale postmaster.pid of dead process %d", pid_file.pid)
        procfs.remove_pid_file(data_dir)
    if socket_dir is not None:
        _remove_stale_socket_locks(socket_dir)
    return True


def _remove_stale_socket_locks(socket_dir: str) -> None:
    """A killed postmaster's socket lock file names its PID; until the process is
    reaped PostgreSQL counts the zombie as alive and refuses to start ("lock file
    already exists").  The directory is this instance's own, and no live server
    uses a lock whose process is dead or a zombie."""
    for path in glob.glob(os.path.join(socket_dir, ".s.PGSQL.*.lock")):
        try:
            with open(path, encoding="ascii", errors="replace") as fh:
                pid = int(fh.readline().strip())
        except (OSError, ValueError):
            continue
        if not procfs.pid_alive(pid):
            log.info("removing the stale socket lock %s of dead process %d", path, pid)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
