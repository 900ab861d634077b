"""User callbacks on lifecycle events: ``command ACTION ROLE SCOPE``, never blocking.

Each run happens in a daemon thread, so the actor that reports the event goes
on at once.  A callback still running past ``timeout_s`` is killed with its
process group.  Callbacks run as pgactor's own OS user (they may need rights
the PostgreSQL user lacks, a virtual IP say), as Patroni runs them, but
without pgactor's configuration variables (passwords among them) in their
environment.  The
outcome is only logged: a failed callback changes no decision.
"""

from __future__ import annotations

import enum
import logging
import shlex
import subprocess
import threading

from actors.postgres.oscommand import kill_group, scrubbed_environ
from messages.cluster import Role
from messages.config import Callbacks
from messages.ha import ActionKind

log = logging.getLogger(__name__)


class CallbackAction(enum.Enum):
    ON_START = "on_start"
    ON_STOP = "on_stop"
    ON_RESTART = "on_restart"
    ON_RELOAD = "on_reload"
    ON_ROLE_CHANGE = "on_role_change"


class CallbackRunner:
    """Runs the configured callbacks.  ``run`` may be called from any thread."""

    def __init__(self, callbacks: Callbacks, scope: str) -> None:
        self._callbacks = callbacks
        self._scope = scope
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def command_for(self, action: CallbackAction) -> str | None:
        command: str | None = getattr(self._callbacks, action.value)
        return command

    def run(self, action: CallbackAction, role: Role) -> threading.Thread | None:
        """Start the callback for ``action`` if one is configured; its thread, or None."""
        command = self.command_for(action)
        if not command:
            return None
        args = [*shlex.split(command), action.value, role.value, self._scope]
        thread = threading.Thread(
            target=self._execute, args=(args,), name=f"callback-{action.value}", daemon=True
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def join(self, timeout_s: float) -> bool:
        """Wait for running callbacks (shutdown, tests); True when none is left."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout_s)
        return not any(t.is_alive() for t in threads)

    def _execute(self, args: list[str]) -> None:
        """Runs in the callback's own thread."""
        timeout_s = self._callbacks.timeout_s
        try:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=scrubbed_environ(),  # the agent's passwords stay with the agent
                start_new_session=True,
            )
        except OSError as exc:
            log.warning("callback %s could not start: %s", args[-3], exc)
            return
        try:
            output, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc.communicate()
            log.warning("callback %s killed after %.1fs", args[-3], timeout_s)
            return
        if proc.returncode != 0:
            tail = output.decode("utf-8", "replace").strip()[-500:]
            log.warning("callback %s exited with %d: %s", args[-3], proc.returncode, tail)
        else:
            log.info("callback %s done", args[-3])


def callback_for(kind: ActionKind, before: Role, after: Role) -> CallbackAction | None:
    """Which callback a finished action fires (Patroni's on_* hooks), if any."""
    if kind in (ActionKind.PROMOTE, ActionKind.FOLLOW):
        return CallbackAction.ON_ROLE_CHANGE if before is not after else None
    return _BY_KIND.get(kind)


_BY_KIND = {
    ActionKind.START: CallbackAction.ON_START,
    ActionKind.STOP: CallbackAction.ON_STOP,
    ActionKind.RESTART: CallbackAction.ON_RESTART,
}
