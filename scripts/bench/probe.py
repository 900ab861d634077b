"""A write probe: one numbered row every 20 ms through a libpq multi-host DSN.

It reconnects on every error (target_session_attrs=read-write finds the
primary, connect_timeout=1), and records each acknowledged write and each
failure with a monotonic time.  From that: the largest gap between
acknowledged writes in a window (write unavailability), and which
acknowledged writes are missing from the cluster afterwards (data loss).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import threading
import time
from typing import Any

import psycopg2

INTERVAL_S = 0.02


@dataclasses.dataclass
class ProbeLog:
    acked: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    failures: list[tuple[float, str]] = dataclasses.field(default_factory=list)

    def largest_gap(self, start: float, end: float) -> float:
        """Longest stretch within [start, end] with no acknowledged write."""
        times = [start] + [t for _, t in self.acked if start <= t <= end] + [end]
        return max(b - a for a, b in itertools.pairwise(times))

    def first_ack_after(self, moment: float) -> float | None:
        return next((t for _, t in self.acked if t > moment), None)


class WriteProbe:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.log = ProbeLog()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="write-probe", daemon=True)
        self._next = 0

    def start(self) -> WriteProbe:
        with contextlib.closing(self._connect()) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS probe (n bigint PRIMARY KEY, at float8)")
            cur.execute("SELECT coalesce(max(n) + 1, 0) FROM probe")
            self._next = int(cur.fetchone()[0])
        self._thread.start()
        return self

    def stop(self) -> ProbeLog:
        self._stop.set()
        self._thread.join(10)
        return self.log

    def _connect(self) -> Any:
        conn = psycopg2.connect(self.dsn, connect_timeout=1, target_session_attrs="read-write")
        conn.autocommit = True
        return conn

    def _run(self) -> None:
        conn = None
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                conn = conn or self._connect()
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO probe VALUES (%s, %s)", (self._next, time.time()))
                self.log.acked.append((self._next, time.monotonic()))
                self._next += 1
            except psycopg2.Error as exc:
                self.log.failures.append((time.monotonic(), str(exc).splitlines()[0][:120]))
                with contextlib.suppress(Exception):
                    if conn is not None:
                        conn.close()
                conn = None
            next_at = max(next_at + INTERVAL_S, time.monotonic())
            self._stop.wait(max(0.0, next_at - time.monotonic()))
        if conn is not None:
            conn.close()


def missing_rows(dsn: str, acked: list[tuple[int, float]]) -> list[int]:
    """Acknowledged numbers absent from the primary the DSN finds now."""
    conn = psycopg2.connect(dsn, connect_timeout=3, target_session_attrs="read-write")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT n FROM probe")
            present = {r[0] for r in cur.fetchall()}
    finally:
        conn.close()
    return [n for n, _ in acked if n not in present]
