"""Logging for a node process: who said it (node and actor), in text or JSON.

pykka names each actor's thread after the actor, so ``threadName`` is the
actor; a filter stamps every record with the node name as well, which is what
tells interleaved logs of several nodes apart (the local demo, a shared log
pipeline).  JSON output is one object per line for log collectors.  SIGUSR1
writes every thread's stack to the log: the first thing to ask a node that
seems stuck.
"""

from __future__ import annotations

import datetime
import json
import logging
import signal
import sys
import threading
import traceback
from types import FrameType
from typing import Literal, TextIO

log = logging.getLogger(__name__)

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(node)s] %(threadName)s %(name)s: %(message)s"


class _NodeStamp(logging.Filter):
    """Adds ``record.node``; a handler filter, so records of every logger get it."""

    def __init__(self, node_name: str) -> None:
        super().__init__()
        self.node_name = node_name

    def filter(self, record: logging.LogRecord) -> bool:
        record.node = self.node_name
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, node, actor, logger, msg, exc."""

    def format(self, record: logging.LogRecord) -> str:
        exc = None
        if record.exc_info:
            exc = self.formatException(record.exc_info)
        elif record.stack_info:
            exc = self.formatStack(record.stack_info)
        ts = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        return json.dumps(
            {
                "ts": ts.isoformat(timespec="milliseconds"),
                "level": record.levelname,
                "node": getattr(record, "node", None),
                "actor": record.threadName,
                "logger": record.name,
                "msg": record.getMessage(),
                "exc": exc,
            },
            default=str,
        )


def setup_logging(
    level: str, fmt: LogFormat, node_name: str, *, stream: TextIO | None = None
) -> logging.Handler:
    """Send every logger's records to ``stream`` (stderr) and install the SIGUSR1 dump.

    Replaces the handlers of the root logger, so calling it again (a test, a
    reload) does not duplicate lines.  Returns the installed handler.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(_NodeStamp(node_name))
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    install_stack_dump()
    return handler


def install_stack_dump(signum: int = signal.SIGUSR1) -> bool:
    """Log all thread stacks on ``signum``; False off the main thread, where it cannot."""
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signum, _dump_stacks)
    return True


def _dump_stacks(signum: int, frame: FrameType | None) -> None:
    # Runs in the main thread between bytecodes; logging's locks are reentrant,
    # so this is safe even if the main thread was inside a logging call.
    log_thread_stacks()


def log_thread_stacks() -> None:
    """One WARNING record per live thread with its current stack."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        stack = "".join(traceback.format_stack(frame))
        log.warning("stack of thread %s (%s):\n%s", names.get(ident, "?"), ident, stack)
