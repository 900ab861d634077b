"""One watch thread per resource: LIST, then WATCH from the list's resourceVersion.

The thread lists the resource once (label selector = the cluster's labels),
installs the list in the feed and then follows a watch from the list's
version, with bookmarks, so nothing between the two is missed.  Each watch
call is ended by the server after ``timeout_s``; the thread resumes at once
from the last version it saw (an event's or a bookmark's).  After an error it
reconnects with backoff and resumes from the same version; only when the
server answers 410 Expired (that version is no longer in its history) does it
list again.

:meth:`ResourceWatch.request_stop` shuts down the socket of the open stream,
so the thread ends at once even in the middle of a read; a request still
waiting for its answer's headers ends within the client's request timeout.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError

from actors.leader_lock import k8s_records as kr
from actors.leader_lock.contract import DcsError, DcsUnreachable
from actors.leader_lock.k8s_client import ApiRejected, Expired, K8sClient
from actors.leader_lock.k8s_feed import Family, Feed
from actors.leader_lock.watch_thread import WatchThread, json_lines

log = logging.getLogger(__name__)

_CHANGES = frozenset({"ADDED", "MODIFIED", "DELETED"})
_EXPIRED = 410


class _Stopped(Exception):
    pass


class ResourceWatch(WatchThread):
    """Keeps one family of the feed current; ``on_change()`` runs on its thread."""

    def __init__(  # noqa: PLR0913 - what one watch needs, keyword-only
        self,
        client: K8sClient,
        feed: Feed,
        *,
        family: Family,
        resource: str,
        selector: str,
        on_change: Callable[[], None],
        timeout_s: int = 10,
    ) -> None:
        super().__init__(thread_name=f"dcs-watch-{resource}", on_change=on_change)
        self._client = client
        self._feed = feed
        self._family = family
        self._resource = resource
        self._selector = selector
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._response: urllib3.BaseHTTPResponse | None = None
        self.version: int | None = None
        """Where the watch resumes; None: list first."""

    def _interrupt(self) -> None:
        with self._lock:
            response = self._response
        sock = None if response is None else getattr(response.connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # -- the watch thread ---------------------------------------------------------------

    def _serve_once(self) -> bool:
        """List if needed, then follow one stream until it ends or breaks.

        Never asks to skip the backoff: a stream the server ended the normal
        way served ``timeout_s``, long enough to be resumed at once anyway.
        """
        try:
            if self.version is None:
                self._list()
            self._follow()
        except _Stopped:
            pass
        except Expired:
            log.info("%s: version %s expired; listing again", self._resource, self.version)
            self.version = None
        except ApiRejected as e:  # e.g. 403: the Role lacks list or watch; an operator must act
            log.warning("%s watch refused: %s", self._resource, e)
        except (DcsError, HTTPError, OSError, ValueError) as e:
            if not self._stopped.is_set():
                log.info(
                    "%s watch interrupted (%s); resuming from %s", self._resource, e, self.version
                )
        except Exception:  # a watch thread must never die of a surprise
            log.exception("%s watch failed unexpectedly; listing again", self._resource)
            self.version = None
        finally:
            self._drop_response()
        return False

    def _list(self) -> None:
        items, version = self._client.list_once(self._resource, self._selector)
        changed = self._feed.install(self._family, items, version)
        self.version = version
        if changed:
            self._notify()

    def _follow(self) -> None:
        """Follow one stream until the server ends it (returns) or it breaks (raises)."""
        assert self.version is not None
        response = self._client.open_watch(
            self._resource, self._selector, self.version, self._timeout_s
        )
        with self._lock:
            self._response = response
        if self._stopped.is_set():
            raise _Stopped
        for event in json_lines(response, "watch event"):
            if isinstance(event, dict):
                self._handle(event)

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            raise ValueError(f"watch event without an object: {event!r:.200}")
        if kind == "ERROR":
            if obj.get("code") == _EXPIRED:
                raise Expired(str(obj.get("message")))
            raise DcsUnreachable(f"watch error {obj.get('code')}: {obj.get('message')}")
        if kind == "BOOKMARK":
            self.version = kr.version_of(obj)
        elif kind in _CHANGES:
            deleted = kind == "DELETED"
            changed = self._feed.apply(self._family, obj, deleted=deleted, from_watch=True)
            self.version = kr.version_of(obj)
            if changed:
                self._notify()

    def _drop_response(self) -> None:
        with self._lock:
            response, self._response = self._response, None
        if response is not None:
            with contextlib.suppress(Exception):
                response.close()
