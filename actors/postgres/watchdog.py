"""WatchdogActor: keeps the fence process (fence.py) armed as the HA actor asks.

An actor of its own, not a duty of the PostmasterActor: that one spends
seconds in a start or a stop, and a re-arm queued behind such an action
would let the fence fire under a healthy leader.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable

from actors.postgres.oscommand import run_dir
from actors.runtime.actor import BaseActor, handles
from actors.runtime.registry import Registry
from messages.base import ActorName
from messages.config import PostgresSettings
from messages.postgres import ArmWatchdog, DisarmWatchdog
from messages.runtime import ChildExit

QUIT_WAIT_S = 2.0


class WatchdogActor(BaseActor):
    def __init__(
        self,
        *,
        name: ActorName,
        registry: Registry,
        on_exit: Callable[[ChildExit], None] | None = None,
        settings: PostgresSettings,
    ) -> None:
        super().__init__(name=name, registry=registry, on_exit=on_exit)
        self.settings = settings
        self.fence: subprocess.Popen[bytes] | None = None
        self.last = "disarm"

    def started(self) -> None:
        self._spawn()

    def stopping(self) -> None:
        """A clean stop: the postmaster actor stopped PostgreSQL before us."""
        fence, self.fence = self.fence, None
        if fence is None:
            return
        with contextlib.suppress(OSError):
            self._write(fence, "quit")
        try:
            fence.wait(QUIT_WAIT_S)
        except subprocess.TimeoutExpired:
            fence.kill()
            fence.wait()

    @handles(ArmWatchdog)
    def handle_arm(self, msg: ArmWatchdog) -> None:
        self._send(f"arm {msg.fire_at:.6f}")

    @handles(DisarmWatchdog)
    def handle_disarm(self, msg: DisarmWatchdog) -> None:
        self._send("disarm")

    def _send(self, command: str) -> None:
        self.last = command
        if self.fence is not None and self.fence.poll() is None:
            try:
                self._write(self.fence, command)
                return
            except OSError:
                pass
        self.log.warning("the fence process is gone; starting another")
        self._spawn()

    def _spawn(self) -> None:
        if self.fence is not None:
            self.fence.wait()
        self.fence = subprocess.Popen(
            [
                sys.executable,
                "-m",
                __package__ + ".fence",
                self.settings.data_dir,
                run_dir(self.settings),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            # Its own session: a SIGSTOP or SIGHUP of the agent's process group
            # (Ctrl-Z, a frozen terminal, a hangup) must not reach the one
            # process that guards against a stopped agent.
            start_new_session=True,
        )
        self.log.info("fence process %d guards %s", self.fence.pid, self.settings.data_dir)
        self._write(self.fence, self.last)

    @staticmethod
    def _write(fence: subprocess.Popen[bytes], command: str) -> None:
        assert fence.stdin is not None
        fence.stdin.write(command.encode("ascii") + b"\n")
        fence.stdin.flush()
