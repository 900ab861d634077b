"""The Kubernetes API as the DCS needs it: a few core/v1 verbs, retried until a deadline.

This and k8s_rest are the only pgactor modules that use the official
``kubernetes`` client, of which they load only the configuration, the REST
client and the config loaders (see k8s_rest: the rest of the library costs
about 40 MB); the backend is itself imported only when configured, so an etcd
node never loads any of it.  Bodies and answers are plain JSON dicts: answers are read
with ``_preload_content=False`` and parsed here, so unknown fields survive and
no model classes are built on the hot path.

Every call is retried with backoff until the caller's deadline (one per DCS
call, ``retry_timeout_s`` long) and then raises :class:`DcsUnreachable`; each
attempt has a short timeout of its own.  What is *not* retried, because the
answer is final: 404 (:class:`NotFound`), 409 (:class:`Conflict`: a
compare-and-set lost, or :class:`AlreadyExists` for a create), 410
(:class:`Expired`) and other 4xx (:class:`ApiRejected`).  A 409 after a
retried attempt may be the echo of our own earlier attempt that did reach the
server, so the error says so (``repeated``) and the caller reads back.

Requests of the DCS calls that got a final answer (a success, or a refusal
such as 404 or 409) are counted, as ``answered_requests``: the only proof the
API is reachable.  The watch threads' lists and streams are not counted.
Reads name no resourceVersion, so the API server serves them from etcd with a
quorum read (Kubernetes' "most recent" semantics), never from a stale cache.

``OPERATIONS`` lists every (resource, verb) this module can send; it is what a
Role for pgactor must grant (see ``REQUIRED_PERMISSIONS`` in the backend).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError

from actors.leader_lock import k8s_rest
from actors.leader_lock.backoff import Backoff, Deadline
from actors.leader_lock.contract import DcsError, DcsUnreachable
from actors.leader_lock.k8s_rest import ApiException, ConfigException, CoreV1
from actors.leader_lock.tcp import socket_options
from messages.config import KubernetesSettings

log = logging.getLogger(__name__)

_VERBS = ("get", "list", "watch", "create", "patch")
Json = dict[str, Any]
Items = list[Json]
MERGE_PATCH = "application/merge-patch+json"

OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    {
        *((kind, verb) for kind in ("endpoints", "configmaps") for verb in _VERBS),
        ("pods", "list"),
        ("pods", "watch"),
        ("pods", "patch"),
        ("services", "create"),
    }
)
"""Every (resource, verb) this client may send, in RBAC terms."""

_NOT_FOUND, _CONFLICT, _GONE = 404, 409, 410
_UNAUTHORIZED, _TOO_MANY = 401, 429
_SERVER_ERROR = 500


class NotFound(DcsError):
    """404: the object does not exist."""


class Conflict(DcsError):
    """409 on a write naming a resourceVersion: someone changed the object first."""

    def __init__(self, message: str, *, repeated: bool = False) -> None:
        super().__init__(message)
        self.repeated = repeated
        """An earlier attempt of this very request may have been applied."""


class AlreadyExists(Conflict):
    """409 on a create: the object exists (possibly created by our own earlier attempt)."""


class Expired(DcsError):
    """410: a watch's resourceVersion is too old; list again."""


class ApiRejected(DcsError):
    """The API refused the request for good (403 Forbidden, 422 Invalid...)."""


class _Retryable(Exception):
    def __init__(self, reason: str, *, maybe_applied: bool) -> None:
        super().__init__(reason)
        self.maybe_applied = maybe_applied


class K8sClient:
    """core/v1 in one namespace; thread-safe.  Watches get a connection pool of their own."""

    def __init__(
        self,
        settings: KubernetesSettings,
        *,
        namespace: str,
        retry_timeout_s: float,
        request_timeout_s: float | None = None,
    ) -> None:
        configuration = _configuration(settings)
        self.namespace = namespace
        self._fixed_request_timeout = request_timeout_s is not None
        self.retry_timeout_s = retry_timeout_s
        self.request_timeout_s = request_timeout_s or max(0.5, retry_timeout_s / 3)
        self._api = CoreV1(configuration)
        self._watch_api = CoreV1(configuration)
        self._lock = threading.Lock()
        self._requests = 0
        self._answered = 0

    @property
    def requests_made(self) -> int:
        with self._lock:
            return self._requests

    @property
    def answered_requests(self) -> int:
        """Requests of the verbs (not the watches') that got a final answer."""
        with self._lock:
            return self._answered

    def set_retry_timeout(self, retry_timeout_s: float) -> None:
        """The budget of the deadlines made from now on (the attempt timeout follows it)."""
        self.retry_timeout_s = retry_timeout_s
        if not self._fixed_request_timeout:
            self.request_timeout_s = max(0.5, retry_timeout_s / 3)

    def deadline(self) -> Deadline:
        """The deadline of one DCS call: now plus ``retry_timeout_s``."""
        return Deadline(time.monotonic() + self.retry_timeout_s)

    def close(self) -> None:
        """Drop idle pooled connections (an open watch is stopped by its owner)."""
        for api in (self._api, self._watch_api):
            api.close()

    # -- the verbs -------------------------------------------------------------------

    def get(self, resource: str, name: str, deadline: Deadline) -> Json:
        return self._call(resource, "get", deadline, name=name)

    def list(self, resource: str, selector: str, deadline: Deadline) -> tuple[Items, int]:
        """Every matching object and the resourceVersion the list is current at."""
        return _items(self._call(resource, "list", deadline, label_selector=selector))

    def create(self, resource: str, body: Json, deadline: Deadline) -> Json:
        return self._call(resource, "create", deadline, body=body)

    def patch(self, resource: str, name: str, body: Json, deadline: Deadline) -> Json:
        """A JSON merge patch (null deletes a key; lists are replaced whole)."""
        return self._call(
            resource, "patch", deadline, name=name, body=body, content_type=MERGE_PATCH
        )

    def list_once(self, resource: str, selector: str) -> tuple[Items, int]:
        """One list attempt, no retries (the watch thread has its own backoff)."""
        deadline = Deadline(time.monotonic() + self.request_timeout_s)
        try:
            answer = self._attempt(
                self._watch_api, resource, "list", deadline, label_selector=selector
            )
        except _Retryable as e:
            raise DcsUnreachable(f"list {resource}: {e}") from None
        return _items(answer)

    def open_watch(
        self, resource: str, selector: str, version: int, timeout_s: int
    ) -> urllib3.BaseHTTPResponse:
        """Start a watch from ``version``; the streaming response (the caller closes it).

        The answer's headers must come within the request timeout; then the
        stream may stay quiet until the server ends it after ``timeout_s``
        (bookmarks keep arriving meanwhile), so the read timeout is extended.
        """
        self._count()
        seconds = self.request_timeout_s
        self._check(resource, "watch")
        try:
            response = self._watch_api.send(
                resource,
                "watch",
                namespace=self.namespace,
                label_selector=selector,
                watch=True,
                resource_version=str(version),
                allow_watch_bookmarks=True,
                timeout_seconds=timeout_s,
                timeout=(seconds, seconds),
            )
        except ApiException as e:
            error = _classified(e, "watch")
            if isinstance(error, _Retryable):  # the watch thread retries with its own backoff
                raise DcsUnreachable(f"watch {resource}: {error}") from None
            raise error from None
        except (HTTPError, OSError) as e:
            raise DcsUnreachable(f"watch {resource}: {e}") from None
        _set_read_timeout(response, timeout_s + seconds + 5)
        return response

    # -- transport ------------------------------------------------------------------------

    def _call(self, resource: str, verb: str, deadline: Deadline, **kwargs: Any) -> Json:
        backoff = Backoff()
        repeated = False
        while True:
            try:
                answer = self._attempt(self._api, resource, verb, deadline, **kwargs)
            except Conflict as e:
                e.repeated = repeated
                self._count(answered=True)
                raise
            except DcsError:  # 404, 410, another 4xx: the server answered
                self._count(answered=True)
                raise
            except _Retryable as e:
                repeated = repeated or e.maybe_applied
                wait = deadline.wait_before_retry(backoff, time.monotonic())
                if wait is None:
                    raise DcsUnreachable(f"{verb} {resource}: {e} (gave up retrying)") from None
                log.debug("%s %s failed (%s); retrying in %.2fs", verb, resource, e, wait)
                time.sleep(wait)
            else:
                self._count(answered=True)
                return answer

    def _attempt(
        self, api: CoreV1, resource: str, verb: str, deadline: Deadline, **kwargs: Any
    ) -> Json:
        seconds = max(0.05, min(self.request_timeout_s, deadline.remaining(time.monotonic())))
        self._check(resource, verb)
        self._count()
        try:
            response = api.send(
                resource, verb, namespace=self.namespace, **kwargs, timeout=(seconds, seconds)
            )
            return _json(response.data)
        except ApiException as e:
            raise _classified(e, verb) from None
        except ConnectTimeoutError as e:  # refused or unreachable: nothing was sent
            raise _Retryable(str(e), maybe_applied=False) from None
        except (HTTPError, OSError) as e:
            raise _Retryable(str(e), maybe_applied=True) from None

    @staticmethod
    def _check(resource: str, verb: str) -> None:
        """Only what OPERATIONS lists (what the Role grants) is ever sent."""
        if (resource, verb) not in OPERATIONS:
            raise ValueError(f"pgactor does not {verb} {resource}")

    def _count(self, *, answered: bool = False) -> None:
        """One request sent, or (``answered``) one answered: counted when it happens."""
        with self._lock:
            if answered:
                self._answered += 1
            else:
                self._requests += 1


def _configuration(settings: KubernetesSettings) -> Any:
    """An explicit API URL (tests), else the service account, else the kubeconfig."""
    if settings.api_url:
        configuration = k8s_rest.Configuration(host=settings.api_url)
    else:
        configuration = k8s_rest.Configuration()
        try:
            k8s_rest.load_incluster_config(configuration)
        except ConfigException:
            try:
                # KUBECONFIG read now, not when the client library was imported
                kubeconfig = os.environ.get("KUBECONFIG")
                k8s_rest.load_kube_config(kubeconfig, configuration)
            except (ConfigException, OSError) as e:
                raise DcsError(
                    f"no Kubernetes API to talk to: not in a Pod with a service account,"
                    f" and no usable kubeconfig ({e})"
                ) from e
    configuration.retries = False  # the retries (and their count) are ours
    configuration.socket_options = socket_options()
    return configuration


def _classified(error: ApiException, verb: str) -> Exception:
    status = int(error.status or 0)
    message = _status_message(error)
    if status == _NOT_FOUND:
        return NotFound(message)
    if status == _CONFLICT:
        return AlreadyExists(message) if verb == "create" else Conflict(message)
    if status == _GONE:
        return Expired(message)
    if status in (_UNAUTHORIZED, _TOO_MANY):  # a rotated token is re-read on the next try
        return _Retryable(f"HTTP {status}: {message}", maybe_applied=False)
    if status == 0 or status >= _SERVER_ERROR:
        return _Retryable(f"HTTP {status}: {message}", maybe_applied=True)
    return ApiRejected(f"HTTP {status}: {message}")


def _status_message(error: ApiException) -> str:
    """The message of the Status body the API answers errors with."""
    try:
        status = json.loads(error.body or "")
    except ValueError:
        return str(error.reason or error.body or "")
    if not isinstance(status, dict):
        return str(error.reason)
    return str(status.get("message") or status.get("reason") or error.reason)


def _json(data: bytes) -> Json:
    try:
        answer = json.loads(data)
    except ValueError as e:
        raise _Retryable(f"answer is not JSON: {data[:200]!r}", maybe_applied=True) from e
    if not isinstance(answer, dict):
        raise _Retryable(f"answer is not a JSON object: {data[:200]!r}", maybe_applied=True)
    return answer


def _items(answer: Json) -> tuple[Items, int]:
    items = [item for item in answer.get("items") or [] if isinstance(item, dict)]
    version = int((answer.get("metadata") or {}).get("resourceVersion") or 0)
    return items, version


def _set_read_timeout(response: urllib3.BaseHTTPResponse, seconds: float) -> None:
    """Let a watch stream stay quiet for ``seconds`` (the headers came in time)."""
    connection = response.connection
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(seconds)
