"""What both backends' watch threads share: the reconnect loop and the stream's lines.

A watch thread serves one stream after another until it is stopped: each
stream is set up (a full read first when it cannot resume), followed until it
ends or breaks, and then replaced.  A stream that broke soon after it began
is retried after a backoff, so a server that refuses every stream is not
hammered; one that served a while, or ended the normal way, is replaced at
once, so no change waits for a backoff.  Both etcd and the Kubernetes API send
one JSON document per line on such a stream.
"""

from __future__ import annotations

import abc
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from actors.leader_lock.backoff import Backoff
from actors.leader_lock.contract import DcsUnreachable
from actors.runtime.thread_name import name_os_thread

log = logging.getLogger(__name__)

_HEALTHY_STREAM_S = 1.0
"""A stream that served this long before it ended is resumed at once, without backoff."""
_MAX_LINE_BYTES = 64 * 1024 * 1024


class WatchThread(abc.ABC):
    """A daemon thread that serves watch streams until stopped; see the module docstring.

    ``on_change()`` runs on the thread, after each change a stream applied;
    an exception it raises is logged and does not end the thread.
    """

    def __init__(self, *, thread_name: str, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Any thread: ask the thread to end and cut its open stream; does not wait."""
        self._stopped.set()
        self._interrupt()

    def join(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the thread to end (no-op on the thread itself)."""
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("%s still running %.1fs after stop", self._thread.name, timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @abc.abstractmethod
    def _serve_once(self) -> bool:
        """Set up and follow one stream until it ends or breaks; never raises.

        True when it ended the normal way and the next one should start at
        once, whatever the time it served.
        """

    @abc.abstractmethod
    def _interrupt(self) -> None:
        """Any thread: wake a read blocked on the open stream, if there is one."""

    def _notify(self) -> None:
        try:
            self._on_change()
        except Exception:
            log.exception("on_change callback failed")

    def _run(self) -> None:
        name_os_thread()
        backoff = Backoff(initial_s=0.1, maximum_s=2.0)
        while not self._stopped.is_set():
            began = time.monotonic()
            ended_normally = self._serve_once()
            if self._stopped.is_set():
                break
            if ended_normally or time.monotonic() - began >= _HEALTHY_STREAM_S:
                backoff.reset()
                continue
            self._stopped.wait(backoff.next_delay())
        log.debug("%s ends", self._thread.name)


class Stream(Protocol):
    """An HTTP response read as it arrives (http.client's and urllib3's both are)."""

    def read1(self, size: int, /) -> bytes: ...


def json_lines(response: Stream, what: str) -> Iterator[Any]:
    """The stream's JSON documents, one per line, each as soon as it arrives.

    ``what`` names a document in the error raised when a line grows too long.
    """
    buffer = b""
    while chunk := response.read1(65536):
        buffer += chunk
        if len(buffer) > _MAX_LINE_BYTES:
            raise DcsUnreachable(f"{what} too large")
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)
