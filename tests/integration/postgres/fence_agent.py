"""A stand-in agent for the fence tests: a WatchdogActor in a process of its own.

The tests start it as the leader of its own process group, so they can stop or
signal "the agent's whole group" as Ctrl-Z, a frozen terminal or a hangup
would.  argv[1] is the instance's PostgresSettings (msgpack, as hex); stdin
takes ``arm <fire_at>`` lines, and ``quit`` (or end of input) stops the actor
cleanly, as a clean agent stop does.

It catches SIGHUP and SIGINT and does nothing: it stands in for an agent too
stuck to act on them, so a test observes only what the signal did to the
fence.  (Caught, not ignored: an ignored signal stays ignored in the children,
which would hide what the fence itself does with it.)
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from actors.postgres.watchdog import WatchdogActor
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from messages.base import ActorName
from messages.codec import decode
from messages.config import PostgresSettings
from messages.postgres import ArmWatchdog

WATCHDOG = ActorName("watchdog")


def _stuck(signum: int, frame: FrameType | None) -> None:
    """An agent too stuck to act on the signal."""


def main() -> int:
    for sig in (signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _stuck)
    settings = decode(bytes.fromhex(sys.argv[1]))
    assert isinstance(settings, PostgresSettings)
    registry = Registry()
    ref = WatchdogActor.start(name=WATCHDOG, runtime=Runtime(registry=registry), settings=settings)
    try:
        for line in sys.stdin:
            word, _, arg = line.strip().partition(" ")
            if word == "arm":
                registry.tell(WATCHDOG, ArmWatchdog(fire_at=float(arg)))
            elif word == "quit":
                break
    finally:
        ref.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
