"""The bodies of POST /restart and /reinitialize, as Patroni's clients send them.

``/restart`` takes conditions, all optional: ``role`` (restart only when
running in that role; ``master`` is read as ``primary``), ``restart_pending``
(only when PostgreSQL reports settings that need a restart) and ``timeout``
(seconds, a number or text such as ``"30s"``).  Patroni's ``schedule`` and
``postgres_version`` are refused with a 400 that says so, rather than
ignored: a restart the caller meant for later or for an old version only
must not happen now.

``/reinitialize`` takes ``force`` and ``from_leader`` (booleans).  pgactor
always clones from the leader and never interrupts a running action, so both
are accepted for patronictl and change nothing.
"""

from __future__ import annotations

import re
from typing import Any

from actors.api.json_body import BAD_REQUEST, parse_object, unknown_keys
from actors.api.responses import Response, text_response
from messages.admin import ReinitializeRequest, RestartRequest
from messages.cluster import Role

MAX_TIMEOUT_S = 86400.0
_ROLES = {"primary": Role.PRIMARY, "master": Role.PRIMARY, "replica": Role.REPLICA}
_TIMEOUT = re.compile(r"\s*([0-9]{1,9})\s*(ms|s|min|h)?\s*", re.ASCII)
_UNITS_S = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, None: 1.0}
_NOT_SUPPORTED = {
    "schedule": "scheduled restarts are not supported by pgactor",
    "postgres_version": "restart conditions on postgres_version are not supported by pgactor",
}
_RESTART_KEYS = frozenset({"role", "restart_pending", "timeout", *_NOT_SUPPORTED})
_REINIT_KEYS = frozenset({"force", "from_leader"})


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.response = text_response(BAD_REQUEST, reason)

    @classmethod
    def answer(cls, response: Response) -> _Refused:
        """Refused with a response made elsewhere (the JSON parser's own 400)."""
        refused = cls("")
        refused.response = response
        return refused


def _timeout(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _TIMEOUT.fullmatch(value)):
        seconds = int(match.group(1)) * _UNITS_S[match.group(2)]
    else:
        raise _Refused("Timeout should be a positive number of seconds")
    if not 0 < seconds <= MAX_TIMEOUT_S:
        raise _Refused(f"Timeout should be a positive number of seconds, at most {MAX_TIMEOUT_S:g}")
    return seconds


def _role(value: object) -> Role:
    role = _ROLES.get(value) if isinstance(value, str) else None
    if role is None:
        raise _Refused("PostgreSQL role should be either primary or replica")
    return role


def _flag(data: dict[str, object], key: str) -> bool:
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _Refused(f"{key} must be true or false")
    return value


def _object(body: bytes, keys: frozenset[str]) -> dict[str, Any]:
    """The body's JSON object (an empty body reads as {}), with only known keys."""
    data = parse_object(body, optional=True)
    if isinstance(data, Response):
        raise _Refused.answer(data)
    unknown = unknown_keys(data, keys)
    if unknown is not None:
        raise _Refused(unknown)
    return data


def parse_restart(body: bytes) -> RestartRequest | Response:
    """The restart a body asks for, or the 400 saying why not."""
    try:
        data = _object(body, _RESTART_KEYS)
        for key, reason in _NOT_SUPPORTED.items():
            if data.get(key) not in (None, ""):
                raise _Refused(reason)
        role = data.get("role")
        timeout = data.get("timeout")
        return RestartRequest(
            role=None if role in (None, "") else _role(role),
            restart_pending=_flag(data, "restart_pending"),
            timeout_s=None if timeout in (None, "") else _timeout(timeout),
        )
    except _Refused as exc:
        return exc.response


def parse_reinitialize(body: bytes) -> ReinitializeRequest | Response:
    """The reinitialisation a body asks for (an empty body is fine), or a 400."""
    try:
        data = _object(body, _REINIT_KEYS)
        _flag(data, "from_leader")
        return ReinitializeRequest(force=_flag(data, "force"))
    except _Refused as exc:
        return exc.response
