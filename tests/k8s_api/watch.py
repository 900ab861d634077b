"""Watch streams: store events turned into a chunked stream of JSON lines.

A watch answers 200 at once with ``Transfer-Encoding: chunked``; then every
event is one chunk holding one ``{"type": ..., "object": ...}`` line.  Where
it starts from:

- no resourceVersion, or "0": a synthetic ADDED for every matching object,
  then live events;
- resourceVersion N: every change after N from the history, then live ones;
  if the history no longer reaches back to N, one ERROR event carrying a 410
  Expired Status, then the end of the stream (what the official client turns
  into ``ApiException(410)``).

Selectors are applied to both sides of a change, so an object that starts
matching arrives as ADDED and one that stops matching as DELETED.  BOOKMARK
events (only kind, apiVersion and metadata.resourceVersion) are sent every
``bookmark_interval`` seconds and once more just before ``timeoutSeconds``
ends the stream with the terminating zero-length chunk.

A stream ends early, without that terminating chunk, when the client goes
away (noticed by polling the socket, so the thread does not linger) or when
``drop()`` shuts its socket down (the ``drop_watches`` fault).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import ApiError
from .kinds import Kind
from .selectors import ObjectFilter
from .store import Event, Object, Store

# How often a waiting stream checks whether its client hung up or it was dropped.
_POLL_SECONDS = 0.1


class Writer(Protocol):
    """Where a stream goes: the handler's unbuffered socket writer."""

    def write(self, data: bytes, /) -> int | None: ...

    def flush(self) -> None: ...


@dataclass(frozen=True)
class WatchOptions:
    kind: Kind
    selection: ObjectFilter
    resource_version: int | None  # None: begin with the current state as ADDED events
    timeout: float
    bookmarks: bool


def translate(event: Event, selection: ObjectFilter) -> tuple[str, Object] | None:
    """What a watcher with `selection` sees of `event`, if anything."""
    was = event.old is not None and selection.matches(event.plural, event.old)
    if event.type == "DELETED":
        return ("DELETED", event.new) if was else None
    now = selection.matches(event.plural, event.new)
    if was and now:
        return ("MODIFIED", event.new)
    if now:
        return ("ADDED", event.new)
    if was:
        return ("DELETED", event.new)
    return None


def write_chunk(wfile: Writer, data: bytes) -> None:
    """One HTTP chunk in one write, so a client sees each event as its own chunk."""
    wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    wfile.flush()


def event_line(event_type: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


class WatchStream:
    """One open watch on one connection; the handler has already sent the headers."""

    def __init__(
        self,
        sock: socket.socket,
        wfile: Writer,
        store: Store,
        options: WatchOptions,
        *,
        bookmark_interval: float,
        stopping: threading.Event,
    ) -> None:
        self._sock = sock
        self._wfile = wfile
        self._store = store
        self._options = options
        self._bookmark_interval = bookmark_interval
        self._stopping = stopping
        self._dropped = False

    def run(self) -> bool:
        """Stream until done; True when it ended cleanly and the connection is reusable."""
        try:
            self._stream()
            if self._dropped:
                return False
            write_chunk(self._wfile, b"")
            return True
        except OSError:  # the client hung up, or drop() shut the socket
            return False

    def drop(self) -> None:
        """Close the stream abruptly: no terminating chunk, the socket shut down."""
        self._dropped = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def _stream(self) -> None:
        try:
            self._follow(self._start())
        except ApiError as exc:  # history too short: reported in-stream, like the real server
            self._send("ERROR", exc.status())

    def _start(self) -> int:
        version = self._options.resource_version
        if version is not None:
            self._store.events_after(version)  # raises 410 if the history is too short
            return version
        items, version = self._store.list_objects(self._options.selection)
        for obj in items:
            self._send("ADDED", obj)
        return version

    def _follow(self, version: int) -> None:
        now = time.monotonic()
        deadline = now + self._options.timeout
        next_bookmark = now + self._bookmark_interval
        while not (self._dropped or self._stopping.is_set()):
            now = time.monotonic()
            if now >= deadline:
                if self._options.bookmarks:
                    self._send_bookmark(version)  # clients resume from it after the timeout
                return
            if self._options.bookmarks and now >= next_bookmark:
                self._send_bookmark(version)
                next_bookmark = now + self._bookmark_interval
            wake = min(deadline, next_bookmark if self._options.bookmarks else deadline)
            events = self._store.wait_for_events(version, min(wake - now, _POLL_SECONDS))
            for event in events:
                version = event.version
                seen = translate(event, self._options.selection)
                if seen is not None:
                    self._send(*seen)
            if not events and self._peer_closed():
                raise ConnectionResetError("watch client went away")

    def _send(self, event_type: str, obj: dict[str, Any]) -> None:
        write_chunk(self._wfile, event_line(event_type, obj))

    def _send_bookmark(self, version: int) -> None:
        kind = self._options.kind.kind
        marker = {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": str(version)}}
        self._send("BOOKMARK", marker)

    def _peer_closed(self) -> bool:
        """True once the client has closed its end (readable, but nothing to read)."""
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
            return bool(readable) and self._sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


class WatchRegistry:
    """The open watches, so faults can drop them all and stop() can end them."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Condition()
        self._open: set[WatchStream] = set()

    def add(self, stream: WatchStream) -> None:
        with self._lock:
            self._open.add(stream)

    def remove(self, stream: WatchStream) -> None:
        with self._lock:
            self._open.discard(stream)
            self._lock.notify_all()

    def wait_closed(self, timeout: float) -> bool:
        """Wait until no watch is open; False if some still are after `timeout`."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._open, timeout)

    def count(self) -> int:
        with self._lock:
            return len(self._open)

    def drop_all(self) -> int:
        """Abruptly close every open watch; returns how many there were."""
        with self._lock:
            streams = list(self._open)
        for stream in streams:
            stream.drop()
        self._store.wake_all()
        return len(streams)
