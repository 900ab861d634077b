"""pgactor's one session to its own server, kept open and remade on failure.

The session goes over the Unix socket in pgactor's private run dir (mode 0700,
so no other OS user can reach it) as the superuser: with the superuser's
password (scram-sha-256) when one is configured, else by peer authentication
mapped from pgactor's OS user.  It runs in autocommit with a short connect
timeout and a statement timeout, so a hung server costs seconds, not the
actor.  A lock makes calls from different threads take turns; the intent is
one user thread (the actor's).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg2

from messages.config import PostgresSettings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3
STATEMENT_TIMEOUT_MS = 5000


def local_params(settings: PostgresSettings, socket_dir: str) -> dict[str, str | int]:
    """psycopg2/libpq parameters of a pgactor session to its own server, over the socket
    in its private run dir, as the superuser."""
    su = settings.authentication.superuser
    params: dict[str, str | int] = {
        "host": socket_dir,
        "port": settings.listen_port,
        "user": su.username,
        "dbname": "postgres",
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": "pgactor",
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    }
    if su.password:
        params["password"] = su.password
    return params


class QueryError(Exception):
    """The server could not be reached or the statement failed."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class LocalConnection:
    def __init__(self, params: Mapping[str, str | int]) -> None:
        self._params = dict(params)
        self._conn: Any = None
        self._lock = threading.Lock()
        self._holds = 0

    @contextlib.contextmanager
    def held_closed(self) -> Iterator[None]:
        """Close the session and open none until the block ends (nestable).

        A smart shutdown waits for every session to end: the one pgactor keeps
        for its status must not be the session it waits for, nor be reopened
        while the server goes down.
        """
        with self._lock:
            self._holds += 1
            self._drop()
        try:
            yield
        finally:
            with self._lock:
                self._holds -= 1

    @property
    def held(self) -> bool:
        """A stop holds the session closed (see :meth:`held_closed`)."""
        return self._holds > 0

    def query(
        self, sql: Any, args: Sequence[Any] = (), *, timeout_s: float | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (empty for a statement without a result).

        A session found broken is remade once before giving up, so a server
        restart is invisible to callers (a statement that broke the session
        may then run twice: pass only statements for which that is harmless).
        ``timeout_s`` replaces the statement timeout for this statement only.
        """
        with self._lock:
            for attempt in (1, 2):
                fresh = self._conn is None or self._conn.closed
                try:
                    return self._run(sql, args, timeout_s)
                except psycopg2.Error as exc:
                    broken = self._conn is None or bool(self._conn.closed)
                    if broken:
                        self._drop()
                    if not broken or fresh or attempt == 2:
                        raise QueryError(_message(exc), sqlstate=exc.pgcode) from None
            raise AssertionError("unreachable")

    def _run(self, sql: Any, args: Sequence[Any], timeout_s: float | None) -> list[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            if self._holds:
                raise QueryError("no session while PostgreSQL stops")
            self._conn = psycopg2.connect(**self._params)
            self._conn.autocommit = True
        with self._conn.cursor() as cur:
            if timeout_s is not None:
                cur.execute("SET statement_timeout = %s", (int(timeout_s * 1000),))
            try:
                cur.execute(sql, tuple(args) or None)
                rows = cur.fetchall() if cur.description is not None else []
            finally:
                if timeout_s is not None and not self._conn.closed:
                    with contextlib.suppress(psycopg2.Error):
                        cur.execute("RESET statement_timeout")
        return [tuple(r) for r in rows]

    def backend_pid(self) -> int | None:
        with self._lock:
            if self._conn is None or self._conn.closed:
                return None
            return int(self._conn.get_backend_pid())

    def close(self) -> None:
        """Drop the session (before a stop, or when the server it knew is gone)."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg2.Error:
                log.debug("closing a broken session failed", exc_info=True)
            self._conn = None


def _message(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
