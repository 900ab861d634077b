"""API errors and the Status bodies they are reported as.

The real API server answers every failure with a ``Status`` object whose
``reason`` and ``message`` clients parse (the official client surfaces them in
``ApiException.body``; Patroni-style code matches on ``reason``).  Every
failure in this server is raised as :class:`ApiError` and rendered by
:meth:`ApiError.status`, so all error bodies share one shape.
"""

from __future__ import annotations

from typing import Any

# Reason strings of k8s.io/apimachinery metav1.StatusReason, by HTTP code.
REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

OPTIMISTIC_LOCK_MSG = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


class ApiError(Exception):
    """A failure to report as an HTTP status code plus a ``Status`` body."""

    def __init__(
        self, code: int, reason: str, message: str, *, name: str = "", kind: str = ""
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.name = name
        self.kind = kind

    def with_context(self, name: str, kind: str) -> ApiError:
        """Fill in details the raiser did not know (the handler knows the route)."""
        self.name = self.name or name
        self.kind = self.kind or kind
        return self

    def status(self) -> dict[str, Any]:
        return status_body(self.code, self.reason, self.message, self.name, self.kind)


def status_body(code: int, reason: str, message: str, name: str, kind: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {"name": name, "kind": kind},
        "code": code,
    }


def success_status(name: str, kind: str, uid: str) -> dict[str, Any]:
    """What DELETE answers for kinds whose deletion does not return the object."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "kind": kind, "uid": uid},
    }


def not_found(kind: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{kind} "{name}" not found', name=name, kind=kind)


def already_exists(kind: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{kind} "{name}" already exists', name=name, kind=kind)


def conflict(kind: str, name: str, detail: str = OPTIMISTIC_LOCK_MSG) -> ApiError:
    message = f'Operation cannot be fulfilled on {kind} "{name}": {detail}'
    return ApiError(409, "Conflict", message, name=name, kind=kind)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid(kind: str, name: str, message: str) -> ApiError:
    return ApiError(422, "Invalid", message, name=name, kind=kind)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_old(requested: int, compacted: int) -> ApiError:
    """The 410 a watch gets for a version older than the kept history."""
    return expired(f"too old resource version: {requested} ({compacted})")


def unsupported_media_type(content_type: str, accepted: tuple[str, ...]) -> ApiError:
    message = (
        f"the body of the request was in an unknown format ({content_type or 'none'})"
        f" - accepted media types include: {', '.join(accepted)}"
    )
    return ApiError(415, "UnsupportedMediaType", message)


def method_not_allowed(method: str) -> ApiError:
    message = f"the server does not allow this method on the requested resource ({method})"
    return ApiError(405, "MethodNotAllowed", message)


def injected(code: int, name: str, kind: str) -> ApiError:
    """The error a fault rule forces; shaped like what the real server sends for `code`."""
    if code == 409:
        return conflict(kind or "resource", name or "unknown")
    if code == 404:
        return not_found(kind or "resource", name or "unknown")
    reason = REASONS.get(code, "InternalError" if code >= 500 else "BadRequest")
    message = f"injected fault: HTTP {code} {reason}"
    return ApiError(code, reason, message, name=name, kind=kind)
