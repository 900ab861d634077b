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

It also tells the MetricsActor what the fence confirmed (FenceMetrics below):
``pgactor_fence_armed``, the armed deadline as a Unix time
(``pgactor_fence_fire_at_seconds``) and the firings (``pgactor_fence_fired_total``).
A fence fires exactly when this actor cannot watch (frozen, dead), so firings
are learnt from the fence's record (fence.json, see fence.py), read at start
and after every command: a restarted agent, or one that wakes from a freeze,
counts what happened meanwhile.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import subprocess
import sys
import time
from typing import Any, Unpack

from actors.postgres.fence import answer_for, read_record
from actors.postgres.oscommand import run_dir, scrubbed_environ
from actors.runtime.actor import ActorArgs, BaseActor, handles
from messages.base import ActorName
from messages.config import PostgresSettings
from messages.metrics import Sample, Samples
from messages.postgres import ArmWatchdog, DisarmWatchdog, WatchdogStatus

QUIT_WAIT_S = 2.0
ANSWER_WAIT_S = 3.0
"""How long a fence may take to answer a command (a fresh one starts Python first)."""
HUNG_WAIT_S = 0.5
"""The wait while the fence left the last command unanswered: a hung fence must not
let the HA actor's arms pile up in this mailbox, seconds each."""
COUNTED_FILE = "fence-counted.json"
"""Beside fence.json: how many of its firings an agent has counted already."""


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
class _Shown:
    """What the MetricsActor was last told, and which incarnation of it."""

    ref: Any
    armed: bool
    fire_at_wall: float | None


class FenceMetrics:
    """The fence's state as metrics: what it confirmed holding, and how often it fired.

    The fence keeps deadlines on CLOCK_MONOTONIC, which means nothing to Prometheus;
    the deadline is exported as a Unix time, converted with the wall/monotonic offset
    at the moment of arming (a wall-clock step later leaves it off by that step).

    ``pgactor_fence_fired_total`` counts the firings recorded in fence.json that no
    agent counted before.  Which were counted is kept on disk too (COUNTED_FILE):
    an agent that starts again shows 0 plus the firings since its predecessor's
    last look, so Prometheus's increase() (which takes the drop to a lower value
    as a restart) sees each firing once, whether it happened while the agent was
    frozen, dead or watching, and a restart of this actor alone adds nothing.
    """

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.armed = False
        self.fire_at_wall: float | None = None
        self.unsent = 0
        self.counted = _read_counted(state_dir)
        self.shown: _Shown | None = None

    def confirmed(self, fire_at: float | None) -> None:
        """A live fence answered that it holds `fire_at` (monotonic; None: disarmed)."""
        self.armed = fire_at is not None
        self.fire_at_wall = None if fire_at is None else fire_at + time.time() - time.monotonic()

    def gone(self) -> None:
        """No fence runs (it exited or cannot start): nothing is armed."""
        self.confirmed(None)

    def read_firings(self) -> tuple[int, float | None]:
        """Count the firings recorded since the last look; (new ones, last one's wall time)."""
        record = read_record(self.state_dir)
        if record is None or record.fired == self.counted:
            return 0, None
        # Fewer than counted: the record was lost and counting began again.
        new = record.fired - self.counted if record.fired > self.counted else record.fired
        self.counted = record.fired
        self.unsent += new
        _write_counted(self.state_dir, self.counted)
        return new, record.fired_at

    def samples(self, ref: Any) -> Samples | None:
        """What the MetricsActor `ref` has not been told yet; None when nothing."""
        shown = self.shown
        fresh = shown is None or shown.ref is not ref
        same = shown is not None and (shown.armed, shown.fire_at_wall) == (
            self.armed,
            self.fire_at_wall,
        )
        if not fresh and same and not self.unsent:
            return None
        items = [Sample(name="pgactor_fence_armed", value=float(self.armed))]
        if self.fire_at_wall is not None:
            items.append(Sample(name="pgactor_fence_fire_at_seconds", value=self.fire_at_wall))
        if fresh or self.unsent:  # the first sample makes the series, at 0 if need be
            items.append(Sample(name="pgactor_fence_fired_total", value=float(self.unsent)))
        replace = () if self.armed else ("pgactor_fence_fire_at_seconds",)
        return Samples(items=tuple(items), replace=replace)

    def sent(self, ref: Any) -> None:
        self.shown = _Shown(ref=ref, armed=self.armed, fire_at_wall=self.fire_at_wall)
        self.unsent = 0


def _read_counted(state_dir: str) -> int:
    try:
        with open(os.path.join(state_dir, COUNTED_FILE), encoding="utf-8") as fh:
            return max(0, int(json.load(fh)["fired"]))
    except (OSError, ValueError, KeyError, TypeError):
        return 0  # none counted yet (or unreadable: count what the record holds)


def _write_counted(state_dir: str, counted: int) -> None:
    path = os.path.join(state_dir, COUNTED_FILE)
    tmp = f"{path}.{os.getpid()}"
    with contextlib.suppress(OSError):  # best-effort: the worst is a firing counted twice
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"fired": counted}, fh)
        os.replace(tmp, path)


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
        metrics_actor: ActorName = ActorName("metrics"),
        python: str = sys.executable,
        **base: Unpack[ActorArgs],
    ) -> None:
        """`python` runs the fence: this interpreter unless a test says otherwise."""
        super().__init__(**base)
        self.settings = settings
        self.ha_actor = ha_actor
        self.metrics_actor = metrics_actor
        self.python = python
        self.metrics = FenceMetrics(run_dir(settings))
        self.fence: FenceProcess | None = None
        self.last = "disarm"
        self.told: _Told | None = None
        self.held: bool | None = None

    def started(self) -> None:
        """Start the fence (disarmed) and tell the HA actor whether it runs; actor thread."""
        status = self._deliver(self.last)
        self._report(status, arm=False)
        self._observe(status.ok, None)

    def stopping(self) -> None:
        """A clean stop: the postmaster actor stopped PostgreSQL before us; actor thread."""
        fence, self.fence = self.fence, None
        if fence is not None:
            fence.quit()
            self._observe(False, None)

    @handles(ArmWatchdog)
    def handle_arm(self, msg: ArmWatchdog) -> None:
        self._send(f"arm {msg.fire_at:.6f}", msg.fire_at)

    @handles(DisarmWatchdog)
    def handle_disarm(self, msg: DisarmWatchdog) -> None:
        self._send("disarm", None)

    def _send(self, command: str, fire_at: float | None) -> None:
        self.last = command
        status = self._deliver(command)
        self._report(status, arm=fire_at is not None)
        self._observe(status.ok, fire_at)

    def _observe(self, held: bool, fire_at: float | None) -> None:
        """Bring the fence metrics up to date after a command the fence did (not) hold."""
        if held:
            self.metrics.confirmed(fire_at)
        elif self.fence is None or not self.fence.alive():
            self.metrics.gone()
        # else: alive but silent (hung): what it last confirmed is the best we know
        new, fired_at = self.metrics.read_firings()
        if new:
            when = "an unknown time" if fired_at is None else time.ctime(fired_at)
            self.log.warning(
                "the fence fired %d time(s) since the last look, last at %s: it killed "
                "PostgreSQL because the agent did not re-arm it in time",
                new,
                when,
            )
        ref = self.registry.get(self.metrics_actor)
        samples = self.metrics.samples(ref)
        if samples is not None and self.send(self.metrics_actor, samples):
            self.metrics.sent(ref)

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
