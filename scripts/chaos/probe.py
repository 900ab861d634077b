"""Who accepts writes, sampled: pg_is_in_recovery() on every member every 100 ms.

A writable sample proves that its member was a primary at some instant
between the moment the query was sent and the moment the answer came.  Two
writable samples in a row from one postmaster (same start time) on one
timeline prove more: PostgreSQL cannot go back into recovery without a
restart, nor change timeline without a promotion, so the member was a
primary for the whole stretch between them.  The checker
(:func:`chaos.checker.overlapping_primaries`) finds two members proven
writable at one instant from these records.

Each member's probe keeps one session (reconnecting after an error) and
writes one JSON line per answered sample to ``probes.jsonl``::

    {"member": "node1", "seq": 17, "sent": 12.3, "answered": 12.31,
     "writable": true, "tl": 2, "started": "2026-12-01 10:00:00.1+00"}

``seq`` counts every attempt of that member's probe, failed ones too, so two
records are consecutive samples only when their ``seq`` differ by one.
Times are ``time.monotonic()`` (CLOCK_MONOTONIC, one clock for the machine).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import psycopg2
import psycopg2.extensions

PROBE_EVERY = 0.1

# The timeline only where it can be had (a primary's current WAL file); CASE keeps
# pg_walfile_name, which fails during recovery, from being evaluated on a standby.
QUERY = (
    "SELECT pg_is_in_recovery(), pg_postmaster_start_time()::text,"
    " CASE WHEN pg_is_in_recovery() THEN 0"
    " ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END"
)

Connect = Callable[[], psycopg2.extensions.connection]


class ProbeLog:
    """``probes.jsonl``: one whole, flushed line per sample, shared by every probe."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._file: TextIO | None = path.open("a", encoding="utf-8")

    def record(self, sample: dict[str, Any]) -> None:
        with self._lock:
            if self._file is not None:
                self._file.write(json.dumps(sample) + "\n")
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def sample(conn: psycopg2.extensions.connection, member: str, seq: int) -> dict[str, Any]:
    """One probe of `conn`'s server, timed."""
    sent = time.monotonic()
    with conn.cursor() as cur:
        cur.execute(QUERY)
        in_recovery, started, timeline = cur.fetchone()
    answered = time.monotonic()
    return {
        "member": member,
        "seq": seq,
        "sent": sent,
        "answered": answered,
        "writable": not in_recovery,
        "tl": int(timeline),
        "started": str(started),
    }


def probe_loop(member: str, connect: Connect, log: ProbeLog, stop: threading.Event) -> None:
    """Sample `member` every PROBE_EVERY seconds until `stop` is set."""
    conn: psycopg2.extensions.connection | None = None
    seq = 0
    while not stop.is_set():
        began = time.monotonic()
        seq += 1
        try:
            if conn is None:
                conn = connect()
            log.record(sample(conn, member, seq))
        except psycopg2.Error:
            with contextlib.suppress(Exception):
                if conn is not None:
                    conn.close()
            conn = None  # a failed attempt still counts: it breaks the run of samples
        stop.wait(max(0.0, PROBE_EVERY - (time.monotonic() - began)))
    with contextlib.suppress(Exception):
        if conn is not None:
            conn.close()
