"""A small etcd v3 client over etcd's JSON/HTTP gateway (``/v3/...``), on http.client.

Only what the DCS needs: range, put, delete, txn, leases and the watch stream;
keys and values travel base64-encoded, 64-bit numbers as decimal strings.
Every call is retried with backoff, rotating through the configured hosts,
until ``retry_timeout_s`` has passed; then it raises DcsUnreachable.  Each
attempt has a short timeout of its own so one stuck host cannot eat the whole
budget.

Retrying a write is only safe when the first attempt surely did not reach the
server.  A connection that was never made is such a case; a read timeout or a
5xx after the request went out is not -- the write may have been applied.
Results say so (``repeated``) so the caller can check what the store holds
before it believes a failed compare.

A DCS call that makes several requests (a lease refresh, then a transaction)
may run them under one deadline (:meth:`EtcdClient.one_deadline`), so the call
as a whole gives up within ``retry_timeout_s``.  Requests that got a final
answer are counted (``answered_requests``): that is the only proof the store
is reachable.

Every read is linearizable: ranges go out without ``serializable``, so etcd
answers them through its leader with a quorum's agreement, and a member cut
off from the others (or one lagging behind) cannot answer from a stale state
(it fails the request instead, and we try the next host).  Transactions are
linearizable by nature.

The transport is the standard library's ``http.client`` (see
:mod:`etcd_transport`): one idle keep-alive connection per host and thread is
kept for the next request, and a TLS context is made only when an https host
is configured.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.client
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from actors.leader_lock.backoff import Backoff, Deadline
from actors.leader_lock.contract import DcsError, DcsUnreachable
from actors.leader_lock.etcd_transport import Connections, Endpoint, tls_context
from messages.config import EtcdSettings

log = logging.getLogger(__name__)

Json = dict[str, Any]
_UNAUTHENTICATED = 16
_HTTP_OK = 200
_HTTP_UNAUTHORIZED = 401
_HTTP_TOO_MANY = 429
_HTTP_SERVER_ERROR = 500


class EtcdRequestError(DcsError):
    """etcd refused a request (a 4xx): retrying the same request will not help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"etcd answered {status}: {message}")
        self.status = status
        self.message = message


class LeaseNotFound(EtcdRequestError):
    """The lease named in a request has expired or was revoked."""


class _RetryableError(Exception):
    def __init__(self, reason: str, *, maybe_applied: bool) -> None:
        super().__init__(reason)
        self.maybe_applied = maybe_applied


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def prefix_end(prefix: bytes) -> bytes:
    """The range end that selects every key starting with ``prefix`` (as etcdctl)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\0"
    return stripped[:-1] + bytes([stripped[-1] + 1])


@dataclasses.dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes
    mod_revision: int
    create_revision: int = 0
    lease: int = 0

    @classmethod
    def from_json(cls, kv: Mapping[str, Any]) -> KeyValue:
        return cls(
            key=unb64(kv.get("key", "")),
            value=unb64(kv.get("value", "")),
            mod_revision=int(kv.get("mod_revision", 0)),
            create_revision=int(kv.get("create_revision", 0)),
            lease=int(kv.get("lease", 0)),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class TxnResult:
    succeeded: bool
    revision: int
    kvs: tuple[KeyValue, ...] = ()
    """What the range operations of the branch taken returned."""
    repeated: bool = False
    """An earlier attempt of this very request may have been applied."""


def compare_version(key: bytes, target: str, revision: int) -> Json:
    """``target`` is CREATE (create_revision; 0 = absent) or MOD (mod_revision)."""
    field = {"CREATE": "create_revision", "MOD": "mod_revision"}[target]
    return {"key": b64(key), "target": target, "result": "EQUAL", field: str(revision)}


def put_op(key: bytes, value: bytes, lease: int = 0) -> Json:
    return {"request_put": {"key": b64(key), "value": b64(value), "lease": str(lease)}}


def range_op(key: bytes) -> Json:
    """Linearizable (no ``serializable`` flag), as every read here."""
    return {"request_range": {"key": b64(key)}}


def delete_op(key: bytes) -> Json:
    return {"request_delete_range": {"key": b64(key)}}


class EtcdClient:
    """Thread-safe; one per DCS handle.  The watch stream lives in etcd_watch."""

    def __init__(
        self,
        settings: EtcdSettings,
        *,
        retry_timeout_s: float,
        request_timeout_s: float | None = None,
    ) -> None:
        if not settings.hosts:
            raise ValueError("etcd settings name no hosts")
        self._settings = settings
        self._endpoints = [
            Endpoint.parse(h if "://" in h else f"{settings.protocol}://{h}")
            for h in settings.hosts
        ]
        self._fixed_request_timeout = request_timeout_s is not None
        self.retry_timeout_s = retry_timeout_s
        self.request_timeout_s = request_timeout_s or max(0.5, retry_timeout_s / 3)
        tls = any(endpoint.tls for endpoint in self._endpoints)
        self._connections = Connections(tls_context() if tls else None)
        self._lock = threading.Lock()
        self._host = 0
        self._requests = 0
        self._answered = 0
        self._token: str | None = None
        self._local = threading.local()

    @property
    def requests_made(self) -> int:
        with self._lock:
            return self._requests

    @property
    def answered_requests(self) -> int:
        """Requests sent with :meth:`post` that got a final answer (not the watch's)."""
        with self._lock:
            return self._answered

    def set_retry_timeout(self, retry_timeout_s: float) -> None:
        """The retry budget of the calls from now on (the per-attempt timeout follows it)."""
        self.retry_timeout_s = retry_timeout_s
        if not self._fixed_request_timeout:
            self.request_timeout_s = max(0.5, retry_timeout_s / 3)

    @contextlib.contextmanager
    def one_deadline(self) -> Iterator[None]:
        """Every :meth:`post` of this thread inside shares one ``retry_timeout_s`` budget."""
        if getattr(self._local, "deadline", None) is not None:  # nested: the outer one rules
            yield
            return
        self._local.deadline = Deadline(time.monotonic() + self.retry_timeout_s)
        try:
            yield
        finally:
            self._local.deadline = None

    def close(self) -> None:
        self._connections.clear()

    # -- KV --------------------------------------------------------------------

    def range_prefix(self, prefix: bytes) -> tuple[list[KeyValue], int]:
        """Every key under ``prefix`` and the revision the read was taken at (linearizable)."""
        body, _ = self.post(
            "/v3/kv/range", {"key": b64(prefix), "range_end": b64(prefix_end(prefix))}
        )
        return [KeyValue.from_json(kv) for kv in body.get("kvs", [])], _revision(body)

    def put(self, key: bytes, value: bytes, lease: int = 0) -> int:
        body, _ = self.post("/v3/kv/put", put_op(key, value, lease)["request_put"])
        return _revision(body)

    def delete(self, key: bytes) -> int:
        body, _ = self.post("/v3/kv/deleterange", {"key": b64(key)})
        return _revision(body)

    def txn(self, compare: list[Json], success: list[Json], failure: list[Json]) -> TxnResult:
        body, repeated = self.post(
            "/v3/kv/txn", {"compare": compare, "success": success, "failure": failure}
        )
        kvs = [
            KeyValue.from_json(kv)
            for response in body.get("responses", [])
            for kv in response.get("response_range", {}).get("kvs", [])
        ]
        return TxnResult(bool(body.get("succeeded")), _revision(body), tuple(kvs), repeated)

    # -- leases ----------------------------------------------------------------

    def lease_grant(self, ttl_s: int) -> tuple[int, int]:
        """A new lease: its ID and the TTL etcd granted (never less than asked, in etcd)."""
        body, _ = self.post("/v3/lease/grant", {"TTL": str(ttl_s)})
        return int(body["ID"]), int(body.get("TTL", 0))

    def lease_time_to_live(self, lease_id: int) -> tuple[int, int]:
        """A lease's (granted TTL, remaining TTL); remaining is -1 when it is gone."""
        body, _ = self.post("/v3/lease/timetolive", {"ID": str(lease_id)})
        return int(body.get("grantedTTL", 0)), int(body.get("TTL", -1))

    def lease_keepalive(self, lease_id: int) -> int:
        """The lease's remaining TTL after the refresh; 0 when it no longer exists."""
        body, _ = self.post("/v3/lease/keepalive", {"ID": str(lease_id)})
        return int(body.get("result", {}).get("TTL", 0))

    def lease_revoke(self, lease_id: int) -> None:
        with contextlib.suppress(LeaseNotFound):
            self.post("/v3/lease/revoke", {"ID": str(lease_id)})

    # -- transport ---------------------------------------------------------------

    def post(self, path: str, body: Json) -> tuple[Json, bool]:
        """POST with retries; the answer and whether an earlier attempt may have applied.

        Retries until the call's deadline (:meth:`one_deadline`), or this
        request's own ``retry_timeout_s`` outside one.
        """
        deadline = getattr(self._local, "deadline", None) or Deadline(
            time.monotonic() + self.retry_timeout_s
        )
        backoff = Backoff()
        repeated = False
        while True:
            try:
                answer = self._attempt(path, body, deadline)
            except EtcdRequestError:
                self._count_answer()  # a refusal is an answer too
                raise
            except _RetryableError as e:
                repeated = repeated or e.maybe_applied
                url = self.rotate_host()
                wait = deadline.wait_before_retry(backoff, time.monotonic())
                if wait is None:
                    raise DcsUnreachable(f"etcd {path}: {e} (gave up after retries)") from None
                log.debug("etcd %s failed (%s); retrying on %s in %.2fs", path, e, url, wait)
                time.sleep(wait)
            else:
                self._count_answer()
                return answer, repeated

    def _count_answer(self) -> None:
        with self._lock:
            self._answered += 1

    def connect(self, timeout_s: float) -> http.client.HTTPConnection:
        """A fresh connection of its own to the current host (the watch thread's).

        The caller owns it and may shut its socket down from another thread,
        which is how a blocked watch is stopped at once.  Counts as a request.
        """
        with self._lock:
            self._requests += 1
            endpoint = self._endpoints[self._host]
        try:
            return self._connections.open(endpoint, timeout_s)
        except OSError as e:  # the caller moves on to the next host
            raise DcsUnreachable(f"etcd {endpoint.url}: {e}") from None

    def headers(self, timeout_s: float) -> dict[str, str]:
        """Request headers, with an auth token when a username is configured."""
        try:
            return {"Content-Type": "application/json", **self._headers(timeout_s)}
        except _RetryableError as e:
            raise DcsUnreachable(f"etcd authentication: {e}") from None

    def forget_token(self) -> None:
        """Drop the auth token (etcd said it is invalid); the next request logs in again."""
        with self._lock:
            self._token = None

    def rotate_host(self) -> str:
        """Move on to the next configured host; the new base URL."""
        with self._lock:
            self._host = (self._host + 1) % len(self._endpoints)
            return self._endpoints[self._host].url

    def _attempt(self, path: str, body: Json, deadline: Deadline) -> Json:
        seconds = max(0.05, min(self.request_timeout_s, deadline.remaining(time.monotonic())))
        status, data = self._request(path, body, self._headers(seconds), seconds)
        answer = _json_body(data)
        if status == _HTTP_OK and "error" not in answer:
            return answer
        return self._raise_for(status, answer)

    def _raise_for(self, status: int, answer: Json) -> Json:
        message = _message(answer)
        error = answer.get("error")
        if isinstance(error, dict):  # an error inside a streamed (HTTP 200) answer
            status, code = int(error.get("http_code", _HTTP_SERVER_ERROR)), error.get("grpc_code")
        else:
            code = answer.get("code")
        if status == _HTTP_UNAUTHORIZED or code == _UNAUTHENTICATED:
            self.forget_token()  # an expired token: authenticate again and retry
            raise _RetryableError(message, maybe_applied=False)
        if status >= _HTTP_SERVER_ERROR or status == _HTTP_TOO_MANY:
            raise _RetryableError(f"HTTP {status}: {message}", maybe_applied=True)
        if "lease not found" in message:
            raise LeaseNotFound(status, message)
        raise EtcdRequestError(status, message)

    def _request(
        self, path: str, body: Json, headers: Mapping[str, str], timeout_s: float
    ) -> tuple[int, bytes]:
        """One POST on the current host, connect and each read within ``timeout_s``."""
        with self._lock:
            self._requests += 1
            endpoint = self._endpoints[self._host]
        url = endpoint.url + path
        try:
            connection = self._connections.take(endpoint, timeout_s)
        except OSError as e:  # refused, timed out or TLS refused: nothing was sent
            raise _RetryableError(f"{url}: {e}", maybe_applied=False) from None
        try:
            connection.request(
                "POST",
                path,
                body=json.dumps(body).encode(),
                headers={"Content-Type": "application/json", **headers},
            )
            response = connection.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError) as e:  # it may have gone out
            connection.close()
            raise _RetryableError(f"{url}: {e}", maybe_applied=True) from None
        self._connections.put_back(endpoint, connection)
        return response.status, data

    def _headers(self, timeout_s: float) -> dict[str, str]:
        if not self._settings.username:
            return {}
        with self._lock:
            token = self._token
        if token is None:
            token = self._authenticate(timeout_s)
        return {"Authorization": token}

    def _authenticate(self, timeout_s: float) -> str:
        credentials = {"name": self._settings.username, "password": self._settings.password or ""}
        status, data = self._request("/v3/auth/authenticate", credentials, {}, timeout_s)
        answer = _json_body(data)
        if status != _HTTP_OK or "token" not in answer:
            self._raise_for(status, answer)
        with self._lock:
            self._token = str(answer["token"])
            return self._token


def _revision(body: Mapping[str, Any]) -> int:
    return int(body.get("header", {}).get("revision", 0))


def _json_body(data: bytes) -> Json:
    try:
        answer = json.loads(data or b"{}")
    except ValueError:
        return {"error": data[:200].decode(errors="replace")}
    return answer if isinstance(answer, dict) else {"error": repr(answer)[:200]}


def _message(answer: Mapping[str, Any]) -> str:
    error = answer.get("error")
    if isinstance(error, dict):  # an error inside a streamed answer
        return str(error.get("message", error))
    return str(answer.get("message") or error or "unknown error")
