"""WatchdogActor: keeps the fence process (fence.py) armed as the HA actor asks.

An actor of its own, not a duty of the PostmasterActor: that one spends
seconds in a start or a stop, and a re-arm queued behind such an action
would let the fence fire under a healthy leader.

Every command must be held by a live fence, one that answered with the arming
asked for.  Whether it is goes to the HA actor as WatchdogStatus (with
``watchdog.mode: required`` a member whose fence does not hold must not lead):
once at start, then whenever it changes, to a restarted HA actor, and after
every arm while the fence fails.  The HA actor arms on every renewal, so
telling it every time would only flood it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import subprocess
import sys
import time
from typing import Any, Unpack

from actors.postgres.fence import answer_for
from actors.postgres.oscommand import run_dir, scrubbed_environ
from actors.runtime.actor import ActorArgs, BaseActor, handles
from messages.base import ActorName
from messages.config import PostgresSettings
from messages.postgres import ArmWatchdog, DisarmWatchdog, WatchdogStatus

QUIT_WAIT_S = 2.0
ANSWER_WAIT_S = 3.0
"""How long a fence may take to answer a command (a fresh one starts Python first)."""
HUNG_WAIT_S = 0.5
"""The wait while the fence left the last command unanswered: a hung fence must not
let the HA actor's arms pile up in this mailbox, seconds each."""


class FenceGone(Exception):
    """The fence's pipe is closed: the process exited or is exiting."""


class FenceProcess:
    """One fence process: commands go down its stdin, the arming it holds comes back."""

    def __init__(self, argv: list[str]) -> None:
        """Raises OSError when the program cannot be started."""
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Its own session: a SIGSTOP or SIGHUP of the agent's process group
            # (Ctrl-Z, a frozen terminal, a hangup) must not reach the one
            # process that guards against a stopped agent.
            start_new_session=True,
            env=scrubbed_environ(),  # no password of ours in a child's environment
        )
        self.answers = b""
        self.answered = True

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tell(self, command: str) -> str | None:
        """Send `command`; None once the fence answered that it holds it, else why not.

        Raises FenceGone when the command cannot even be written.
        """
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command.encode("ascii") + b"\n")
            self.proc.stdin.flush()
        except (OSError, ValueError) as exc:
            raise FenceGone(str(exc)) from None
        want = _answer_expected(command)
        self.answered = self._await(want, ANSWER_WAIT_S if self.answered else HUNG_WAIT_S)
        if self.answered:
            return None
        if not self.alive():
            return f"the fence {self.pid} exited with status {self.proc.returncode}"
        return f"the fence {self.pid} did not answer {command!r}"

    def _await(self, want: bytes, wait_s: float) -> bool:
        """Read answers until `want` arrives; earlier commands' late answers are skipped."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + wait_s
        while True:
            *lines, self.answers = self.answers.split(b"\n")
            if want in lines:
                return True
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return False
            chunk = os.read(fd, 4096)
            if not chunk:
                return False
            self.answers += chunk

    def quit(self) -> None:
        """Tell the fence to disarm and exit; kill it when it does not in time."""
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"quit\n")
            self.proc.stdin.close()
        self.reap()

    def reap(self) -> None:
        try:
            self.proc.wait(QUIT_WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError, ValueError):
                if pipe is not None:
                    pipe.close()


def _answer_expected(command: str) -> bytes:
    word, _, arg = command.partition(" ")
    return answer_for(float(arg) if word == "arm" else None).encode("ascii")


@dataclasses.dataclass(frozen=True, slots=True)
class _Told:
    """The status the HA actor last received, and which incarnation of it received it."""

    ok: bool
    ha_ref: Any


class WatchdogActor(BaseActor):
    def __init__(
        self,
        *,
        settings: PostgresSettings,
        ha_actor: ActorName = ActorName("ha"),
        python: str = sys.executable,
        **base: Unpack[ActorArgs],
    ) -> None:
        """`python` runs the fence: this interpreter unless a test says otherwise."""
        super().__init__(**base)
        self.settings = settings
        self.ha_actor = ha_actor
        self.python = python
        self.fence: FenceProcess | None = None
        self.last = "disarm"
        self.told: _Told | None = None
        self.held: bool | None = None

    def started(self) -> None:
        """Start the fence (disarmed) and tell the HA actor whether it runs; actor thread."""
        self._report(self._deliver(self.last), arm=False)

    def stopping(self) -> None:
        """A clean stop: the postmaster actor stopped PostgreSQL before us; actor thread."""
        fence, self.fence = self.fence, None
        if fence is not None:
            fence.quit()

    @handles(ArmWatchdog)
    def handle_arm(self, msg: ArmWatchdog) -> None:
        self._send(f"arm {msg.fire_at:.6f}")

    @handles(DisarmWatchdog)
    def handle_disarm(self, msg: DisarmWatchdog) -> None:
        self._send("disarm")

    def _send(self, command: str) -> None:
        self.last = command
        self._report(self._deliver(command), arm=command.startswith("arm "))

    def _deliver(self, command: str) -> WatchdogStatus:
        """Have a live fence hold `command`, starting another when it is gone."""
        if self.fence is not None and self.fence.alive():
            try:
                return self._status(self.fence, self.fence.tell(command))
            except FenceGone:
                pass
        if self.fence is not None:
            self.log.warning("the fence process %d is gone; starting another", self.fence.pid)
            self.fence.reap()
            self.fence = None
        try:
            self.fence = FenceProcess(self._argv())
        except OSError as exc:
            return WatchdogStatus(ok=False, detail=f"cannot start the fence: {exc}")
        self.log.info("fence process %d guards %s", self.fence.pid, self.settings.data_dir)
        try:
            return self._status(self.fence, self.fence.tell(command))
        except FenceGone as exc:
            return WatchdogStatus(ok=False, detail=f"the fence {self.fence.pid} is gone: {exc}")

    def _argv(self) -> list[str]:
        module = (__package__ or "actors.postgres") + ".fence"
        return [self.python, "-m", module, self.settings.data_dir, run_dir(self.settings)]

    @staticmethod
    def _status(fence: FenceProcess, problem: str | None) -> WatchdogStatus:
        if problem is not None:
            return WatchdogStatus(ok=False, detail=problem)
        return WatchdogStatus(ok=True, detail=f"the fence {fence.pid} answered")

    def _report(self, status: WatchdogStatus, *, arm: bool) -> None:
        """Tell the HA actor when the news is new to it (see the module docstring)."""
        if status.ok != self.held:
            log = self.log.info if status.ok else self.log.warning
            log("the fence %s: %s", "holds" if status.ok else "does NOT hold", status.detail)
            self.held = status.ok
        ha_ref = self.registry.get(self.ha_actor)
        told = self.told
        known = told is not None and told.ha_ref is ha_ref and told.ok == status.ok
        if known and (status.ok or not arm):
            return
        if self.send(self.ha_actor, status):
            self.told = _Told(ok=status.ok, ha_ref=ha_ref)
