"""Fault injection: make the server misbehave on purpose, on cue.

Tests of a Kubernetes client need the failures a real cluster produces:
errors from the API (``fail_next``: 409, 500, 410...), a slow API
(``stall``), watch connections that die (``drop_watches``), a restart
that cuts every connection but keeps the data (``drop_connections``), and an
API that cannot be reached (``refuse_connections``).  Rules can be narrowed to a
method and/or a path substring.  The same switchboard is reachable over HTTP
(``POST /_test/faults``, see :meth:`Faults.configure`) for a server running
as a separate process; requests under ``/_test/`` are never subject to faults,
so a refusing server can still be told to stop refusing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_SPEC_KEYS = frozenset(
    {"clear", "fail_next", "stall", "refuse_connections", "drop_watches", "drop_connections"}
)


@dataclass
class _Rule:
    """A fault for matching requests; `remaining` None means until cleared."""

    remaining: int | None
    method: str | None
    path: str | None
    code: int = 0
    seconds: float = 0.0

    def applies(self, method: str, path: str) -> bool:
        return (
            (self.remaining is None or self.remaining > 0)
            and (self.method is None or self.method.upper() == method)
            and (self.path is None or self.path in path)
        )

    def consume(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1


class Faults:
    """The fault switchboard of one server; all methods are thread-safe."""

    def __init__(
        self,
        *,
        drop_watches: Callable[[], int],
        drop_connections: Callable[[object | None], int],
        stopping: threading.Event,
    ) -> None:
        self._drop_watches = drop_watches
        self._drop_connections = drop_connections
        self._stopping = stopping
        self._lock = threading.Lock()
        self._failures: list[_Rule] = []
        self._stalls: list[_Rule] = []
        self._refusing = False

    def fail_next(
        self, n: int = 1, code: int = 500, *, method: str | None = None, path: str | None = None
    ) -> None:
        """The next `n` matching requests answer `code` with a proper Status body.

        A 410 on a watch request comes as the real server sends it: HTTP 200 and
        an ERROR event carrying the Expired Status.
        """
        if n < 1 or not 400 <= code <= 599:
            raise ValueError(f"fail_next needs n >= 1 and a 4xx/5xx code, got n={n} code={code}")
        with self._lock:
            self._failures.append(_Rule(n, method, path, code=code))

    def stall(
        self,
        seconds: float,
        n: int | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Hold matching requests `seconds` before answering; `n` None: until cleared.

        ``stall(0)`` clears every stall rule.
        """
        with self._lock:
            if seconds <= 0:
                self._stalls.clear()
            else:
                self._stalls.append(_Rule(n, method, path, seconds=seconds))

    def drop_watches(self) -> int:
        """Close every open watch stream abruptly; returns how many were open."""
        return self._drop_watches()

    def drop_connections(self, spare: object | None = None) -> int:
        """Cut every open connection, watches included, as an API server restart does.

        The data stays; clients must reconnect (and resume their watches).
        `spare` is a connection to leave alone (the fault API request's own).
        Returns how many connections were cut.
        """
        self._drop_watches()
        return self._drop_connections(spare)

    def refuse_connections(self, refuse: bool = True) -> None:
        """While on, requests are answered by closing the connection without a response."""
        with self._lock:
            self._refusing = refuse

    def clear(self) -> None:
        """Forget every rule and stop refusing."""
        with self._lock:
            self._failures.clear()
            self._stalls.clear()
            self._refusing = False

    @property
    def refusing(self) -> bool:
        with self._lock:
            return self._refusing

    def failure_for(self, method: str, path: str) -> int | None:
        """The status code to force on this request, consuming one use of its rule."""
        rule = self._take(self._failures, method, path)
        return None if rule is None else rule.code

    def hold(self, method: str, path: str) -> None:
        """Stall this request if a stall rule matches (server shutdown cuts it short)."""
        rule = self._take(self._stalls, method, path)
        if rule is not None:
            self._stopping.wait(rule.seconds)

    def _take(self, rules: list[_Rule], method: str, path: str) -> _Rule | None:
        """The first rule matching the request, with one use consumed."""
        with self._lock:
            for rule in rules:
                if rule.applies(method, path):
                    rule.consume()
                    rules[:] = [r for r in rules if r.remaining != 0]
                    return rule
        return None

    def describe(self) -> dict[str, Any]:
        """The active rules, as ``GET /_test/faults`` shows them."""
        with self._lock:
            return {
                "fail_next": [_rule_dict(r, code=r.code) for r in self._failures],
                "stall": [_rule_dict(r, seconds=r.seconds) for r in self._stalls],
                "refuse_connections": self._refusing,
            }

    def configure(self, spec: Any, spare: object | None = None) -> dict[str, Any]:
        """Apply a ``POST /_test/faults`` body; raises ValueError on a malformed one.

        Keys (all optional, applied in this order): ``clear`` (bool),
        ``fail_next`` ({n, code, method, path}), ``stall`` ({seconds, n, method,
        path}), ``refuse_connections`` (bool), ``drop_watches`` (bool),
        ``drop_connections`` (bool).
        """
        if not isinstance(spec, dict):
            raise ValueError("the faults body must be a JSON object")
        unknown = set(spec) - _SPEC_KEYS
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        if spec.get("clear"):
            self.clear()
        if "fail_next" in spec:
            self.fail_next(**_rule_args(spec["fail_next"], {"n", "code", "method", "path"}))
        if "stall" in spec:
            self.stall(**_rule_args(spec["stall"], {"seconds", "n", "method", "path"}))
        if "refuse_connections" in spec:
            self.refuse_connections(bool(spec["refuse_connections"]))
        dropped = self.drop_watches() if spec.get("drop_watches") else 0
        cut = self.drop_connections(spare) if spec.get("drop_connections") else 0
        return {"dropped_watches": dropped, "dropped_connections": cut, **self.describe()}


def _rule_args(value: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict) or not set(value) <= allowed:
        raise ValueError(f"expected an object with keys among {sorted(allowed)}, got {value!r}")
    for key in ("n", "code"):
        if key in value and (type(value[key]) is not int):
            raise ValueError(f"{key} must be an integer")
    if "seconds" in value and not isinstance(value["seconds"], int | float):
        raise ValueError("seconds must be a number")
    return value


def _rule_dict(rule: _Rule, **extra: Any) -> dict[str, Any]:
    return {"remaining": rule.remaining, "method": rule.method, "path": rule.path, **extra}
