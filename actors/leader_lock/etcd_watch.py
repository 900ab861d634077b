"""The etcd watch thread: one ``/v3/watch`` stream on the cluster prefix.

It reads every key once, then follows the stream from the next revision, so no
change between the read and the watch is missed.  The revision it would resume
from is kept across errors: after a dropped stream or a restarted server it
resumes exactly there and the cache catches up on what it missed.  Only when
etcd has compacted that revision away (the watch is cancelled with a
``compact_revision``) does it read everything again.

All its I/O goes over a connection it owns (not the shared pool), so
:meth:`EtcdWatcher.stop` can shut that socket down and the thread ends at once,
even in the middle of a read.  Idle streams are ended by a read timeout and
simply re-created; TCP keepalive notices a dead peer sooner.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from actors.leader_lock.cache import Entry, RecordCache
from actors.leader_lock.contract import DcsError, DcsUnreachable
from actors.leader_lock.etcd_client import EtcdClient, KeyValue, b64, prefix_end
from actors.leader_lock.watch_thread import WatchThread, json_lines

log = logging.getLogger(__name__)

_HTTP_OK = 200
_HTTP_UNAUTHORIZED = 401


@dataclasses.dataclass(frozen=True, slots=True)
class WatchEvent:
    kv: KeyValue
    """For a deletion only ``key`` and ``mod_revision`` (the deletion's) are set."""
    deleted: bool


class _Stopped(Exception):
    pass


class WatchSink(Protocol):
    """Where the watch thread puts what it reads; both say whether anything changed."""

    prefix: bytes

    def install_read(self, kvs: list[KeyValue], revision: int) -> bool: ...

    def apply_events(self, events: Sequence[WatchEvent]) -> bool: ...


class CacheFeed:
    """Turns etcd key-values and watch events into changes of a :class:`RecordCache`.

    Keys become relative to the cluster prefix, versions are mod_revisions.
    """

    def __init__(self, cache: RecordCache, prefix: bytes) -> None:
        self.cache = cache
        self.prefix = prefix

    def install_read(self, kvs: list[KeyValue], revision: int) -> bool:
        return self.cache.replace_all({self.relative(kv.key): entry_of(kv) for kv in kvs}, revision)

    def apply_events(self, events: Sequence[WatchEvent]) -> bool:
        changed = False
        for event in events:
            entry = None if event.deleted else entry_of(event.kv)
            changed |= self.cache.apply(self.relative(event.kv.key), entry, event.kv.mod_revision)
        return changed

    def relative(self, key: bytes) -> str:
        return key.removeprefix(self.prefix).decode(errors="replace")


def entry_of(kv: KeyValue) -> Entry:
    return Entry(kv.value, kv.mod_revision, kv.lease)


class EtcdWatcher(WatchThread):
    """Keeps a cache current from the watch stream; see the module docstring.

    The sink's methods and ``on_change()`` (called after each change) run on
    the watch thread.
    """

    def __init__(
        self,
        client: EtcdClient,
        sink: WatchSink,
        *,
        on_change: Callable[[], None],
        idle_timeout_s: float = 60.0,
    ) -> None:
        super().__init__(thread_name="dcs-watch", on_change=on_change)
        self._client = client
        self._prefix = sink.prefix
        self._sink = sink
        self._idle_timeout_s = idle_timeout_s
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._socket: socket.socket | None = None
        """The connection's socket, kept apart: http.client lets go of it on "Connection: close"."""
        self.next_revision: int | None = None
        """Where the stream resumes; None: read everything first."""

    def stop(self, timeout_s: float = 2.0) -> None:
        """Any thread: end the stream and wait for the watch thread; idempotent."""
        self.request_stop()
        self.join(timeout_s)

    # -- the watch thread ----------------------------------------------------------

    def _serve_once(self) -> bool:
        ended_cleanly = False
        try:
            if self.next_revision is None:
                self._read_all()
            self._follow()
            ended_cleanly = True  # idle, or compacted: go on at once
        except _Stopped:
            pass
        except (DcsError, http.client.HTTPException, OSError, ValueError) as e:
            if not self._stopped.is_set():
                log.info("watch interrupted (%s); resuming from revision %s", e, self.next_revision)
                self._client.rotate_host()
        except Exception:  # a watch thread must never die of a surprise
            log.exception("watch failed unexpectedly; starting over")
            self.next_revision = None
        finally:
            self._drop_connection()
        return ended_cleanly

    def _read_all(self) -> None:
        end = prefix_end(self._prefix)
        response = self._exchange("/v3/kv/range", {"key": b64(self._prefix), "range_end": b64(end)})
        body = json.loads(response.read())
        kvs = [KeyValue.from_json(kv) for kv in body.get("kvs", [])]
        revision = int(body.get("header", {}).get("revision", 0))
        changed = self._sink.install_read(kvs, revision)
        self.next_revision = revision + 1
        self._drop_connection()
        if changed:
            self._notify()

    def _follow(self) -> None:
        """Follow one stream until it ends (raises) or needs a full read (returns)."""
        assert self.next_revision is not None
        request = {
            "create_request": {
                "key": b64(self._prefix),
                "range_end": b64(prefix_end(self._prefix)),
                "start_revision": str(self.next_revision),
                "progress_notify": True,
            }
        }
        response = self._exchange("/v3/watch", request, {"Grpc-Metadata-hasleader": "true"})
        self._set_read_timeout(self._idle_timeout_s)
        try:
            for message in json_lines(response, "watch message"):
                if not self._handle(message):
                    return
        except TimeoutError:
            # Quiet for idle_timeout_s: most likely just an idle cluster, so
            # re-create the stream on the same host; a dead one fails there.
            log.debug("watch idle for %.0fs; re-creating it", self._idle_timeout_s)
            return
        raise DcsUnreachable("watch stream ended")

    def _handle(self, message: dict[str, Any]) -> bool:
        """Apply one stream message; False when the stream can no longer be used."""
        if "error" in message:
            self._client.forget_token()  # in case it was an expired token
            raise DcsUnreachable(f"watch error: {message['error']}")
        result = message.get("result", {})
        if result.get("canceled"):
            if int(result.get("compact_revision", 0)):
                log.info("watch revision %s compacted away; reading everything", self.next_revision)
                self.next_revision = None
                return False
            raise DcsUnreachable(f"watch cancelled: {result.get('cancel_reason', '')}")
        events = [_event(raw) for raw in result.get("events", [])]
        if events:
            changed = self._sink.apply_events(events)
            self.next_revision = max(event.kv.mod_revision for event in events) + 1
            if changed:
                self._notify()
        elif not result.get("created") and self.next_revision is not None:
            # A progress notification: nothing happened up to this revision.
            header_revision = int(result.get("header", {}).get("revision", 0))
            self.next_revision = max(self.next_revision, header_revision + 1)
        return True

    # -- the connection this thread owns ------------------------------------------------

    def _exchange(
        self, path: str, body: dict[str, Any], extra: dict[str, str] | None = None
    ) -> http.client.HTTPResponse:
        timeout_s = self._client.request_timeout_s
        headers = {**self._client.headers(timeout_s), **(extra or {})}
        connection = self._client.connect(timeout_s)
        with self._lock:
            if self._stopped.is_set():
                connection.close()
                raise _Stopped
            self._connection, self._socket = connection, connection.sock
        connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        response = connection.getresponse()
        if response.status != _HTTP_OK:
            if response.status == _HTTP_UNAUTHORIZED:
                self._client.forget_token()
            raise DcsUnreachable(f"etcd {path}: HTTP {response.status}: {response.read()[:200]!r}")
        return response

    def _set_read_timeout(self, timeout_s: float) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.settimeout(timeout_s)

    def _interrupt(self) -> None:
        """Any thread: wake a read blocked on the connection; the watch thread closes it."""
        with self._lock:
            if self._socket is not None:
                with contextlib.suppress(OSError):  # already closed by the peer
                    self._socket.shutdown(socket.SHUT_RDWR)

    def _drop_connection(self) -> None:
        """Watch thread: close the connection it owns."""
        with self._lock:
            connection, self._connection = self._connection, None
            sock, self._socket = self._socket, None
        if connection is not None:
            connection.close()
        if sock is not None:
            sock.close()


def _event(raw: dict[str, Any]) -> WatchEvent:
    return WatchEvent(kv=KeyValue.from_json(raw.get("kv", {})), deleted=raw.get("type") == "DELETE")
