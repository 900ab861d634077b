"""The chaos suite's client: writes to every member, watches their roles.

Runs inside its own network namespace, so the faults the runner injects cut
it off from members the way they would cut off a real application:

    client.py run --out DIR --password PW --member node1=10.77.0.11:6432:http://10.77.0.11:9008 ...
    client.py collect --password PW --member ...

``run`` keeps one writer per member, connected straight to it (no routing:
a write a member must refuse is one we want to see refused), and records every
acknowledged write in ``DIR/writes.jsonl`` (with the WAL position it was
written at), every failure in ``DIR/failures.jsonl``, the members' roles in
``DIR/roles.json`` (latest) and ``DIR/roles.jsonl`` (changes), and every
member's pg_is_in_recovery() every 100 ms in ``DIR/probes.jsonl`` (see
:mod:`chaos.probe`).  Times are ``time.monotonic()``: that is
CLOCK_MONOTONIC, one clock for the whole machine, so they compare with the
runner's.  ``collect`` prints the ``n`` of every row the primary holds.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import psycopg2
import psycopg2.errors
import psycopg2.extensions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, too
from chaos.observe import observe_loop
from chaos.probe import ProbeLog, probe_loop

WRITE_EVERY = 0.05
EXIT_GRACE = 2.0  # the longest we wait for threads at exit
REPEAT_AFTER = 1.0  # an identical failure is logged at most once a second per member

CREATE = (
    "CREATE TABLE IF NOT EXISTS chaos (n bigint PRIMARY KEY, member text NOT NULL, tl int NOT NULL)"
)
# A primary's timeline is the first 8 hex digits of its current WAL file's name;
# the insert position says how far into the WAL the write went (the checker's
# measure of a loss against maximum_lag_on_failover)
INSERT = (
    "INSERT INTO chaos (n, member, tl) VALUES (%s, host(inet_server_addr()),"
    " ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int)"
    " RETURNING member, tl, pg_current_wal_insert_lsn()::text"
)


@dataclass(frozen=True)
class Member:
    name: str
    host: str
    port: int
    api: str  # base URL of its REST API, no trailing slash


def parse_member(value: str) -> Member:
    """``name=host:pgport:api_url`` -> Member (argparse reports the error)."""
    name, sep, rest = value.partition("=")
    parts = rest.split(":", 2)  # the URL keeps its own colons
    if (
        not sep
        or not name
        or len(parts) != 3
        or not parts[0]
        or not parts[1].isdigit()
        or not parts[2].startswith(("http://", "https://"))
    ):
        raise argparse.ArgumentTypeError(
            f"bad member {value!r}: expected NAME=HOST:PGPORT:API_URL,"
            " e.g. node1=10.77.0.11:6432:http://10.77.0.11:9008"
        )
    return Member(name, parts[0], int(parts[1]), parts[2].rstrip("/"))


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:200]


def connect(member: Member, password: str) -> psycopg2.extensions.connection:
    # No statement_timeout: cancelling a commit that waits for a synchronous
    # standby makes PostgreSQL report success for a write never replicated.
    # Keepalives notice a dead peer while we wait for an answer;
    # tcp_user_timeout while our own request is still unacknowledged.
    conn = psycopg2.connect(
        host=member.host,
        port=member.port,
        user="postgres",
        password=password,
        dbname="postgres",
        connect_timeout=1,
        keepalives=1,
        keepalives_idle=2,
        keepalives_interval=1,
        keepalives_count=2,
        tcp_user_timeout=5000,
        application_name="chaos-client",
    )
    conn.autocommit = True
    return conn


# -- recording ------------------------------------------------------------------------


def _open_log(path: Path) -> TextIO:
    # A client killed mid-line leaves a partial line: end it, so ours start whole
    partial = path.exists() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    f = path.open("a", encoding="utf-8")
    if partial:
        f.write("\n")
    return f


class Recorder:
    """The JSON-lines logs; each line is written whole and flushed (the runner reads live)."""

    def __init__(self, out: Path) -> None:
        self._lock = threading.Lock()
        self._writes = _open_log(out / "writes.jsonl")
        self._failures = _open_log(out / "failures.jsonl")
        self._recent: dict[str, dict[str, float]] = {}  # member -> error -> last logged
        self._closed = False

    def ack(self, record: dict[str, object]) -> None:
        with self._lock:
            self._emit(self._writes, record)

    def failure(self, member: str, error: str) -> None:
        now = time.monotonic()
        with self._lock:
            recent = self._recent.setdefault(member, {})
            if now - recent.get(error, -REPEAT_AFTER) < REPEAT_AFTER:
                return
            # Forget stale messages: errors that embed values must not pile up here
            for old in [e for e, t in recent.items() if now - t >= REPEAT_AFTER]:
                del recent[old]
            recent[error] = now
            self._emit(self._failures, {"member": member, "t": now, "error": error})

    def _emit(self, f: TextIO, record: dict[str, object]) -> None:
        if not self._closed:  # a writer may finish a commit after we closed: drop it
            f.write(json.dumps(record) + "\n")
            f.flush()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._writes.close()
            self._failures.close()


# -- writing --------------------------------------------------------------------------


class Counter:
    """Numbers for writes, never reused, not even by a restarted client: it starts
    at the wall clock in microseconds, which outruns a few dozen writes a second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = int(time.time() * 1000) * 1000

    def take(self) -> int:
        with self._lock:
            n = self._next
            self._next += 1
            return n


@dataclass
class Shared:
    password: str
    counter: Counter
    recorder: Recorder
    stop: threading.Event
    table_ready: threading.Event  # set once some primary has created the table


def write_loop(member: Member, shared: Shared) -> None:
    conn: psycopg2.extensions.connection | None = None
    while not shared.stop.is_set():
        try:
            if conn is None:
                conn = connect(member, shared.password)
            write_one(conn, member, shared)
        except InRecovery:
            # keep the session: a new one per attempt floods the standby and its log
            shared.recorder.failure(member.name, "in recovery: not writable")
        except psycopg2.Error as e:
            shared.recorder.failure(member.name, first_line(e))
            if isinstance(e, psycopg2.errors.UndefinedTable):
                shared.table_ready.clear()
            with contextlib.suppress(Exception):
                if conn is not None:
                    conn.close()
            conn = None
        shared.stop.wait(WRITE_EVERY)


class InRecovery(Exception):
    """The member is a standby at the moment: nothing to write there."""


def write_one(conn: psycopg2.extensions.connection, member: Member, shared: Shared) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery()")
        if cur.fetchone()[0]:
            raise InRecovery
        if not shared.table_ready.is_set():
            try:
                cur.execute(CREATE)
                shared.table_ready.set()
            except psycopg2.errors.ReadOnlySqlTransaction:
                pass  # a replica: only the primary can create it
        n = shared.counter.take()
        sent = time.monotonic()
        cur.execute(INSERT, (n,))
        addr, timeline, lsn = cur.fetchone()
        acked = time.monotonic()
    record = {"n": n, "member": member.name, "addr": addr, "timeline": timeline, "lsn": lsn}
    shared.recorder.ack({**record, "sent": sent, "acked": acked})


# -- commands -------------------------------------------------------------------------


def run(members: Sequence[Member], password: str, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    # Signals blocked before any thread starts (threads inherit the mask), so
    # they reach only sigwait below: no handler racing the threads
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    stop = threading.Event()
    recorder = Recorder(out)
    shared = Shared(password, Counter(), recorder, stop, threading.Event())
    threads = [
        threading.Thread(target=write_loop, args=(m, shared), name=m.name, daemon=True)
        for m in members
    ]
    threads.append(threading.Thread(target=observe_loop, args=(members, out, stop), daemon=True))
    probes = ProbeLog(out / "probes.jsonl")
    threads += [
        threading.Thread(
            target=probe_loop,
            args=(m.name, functools.partial(connect, m, password), probes, stop),
            name=f"probe-{m.name}",
            daemon=True,
        )
        for m in members
    ]
    for t in threads:
        t.start()
    signal.sigwait(signals)
    stop.set()
    # A writer may be stuck in a commit waiting for a synchronous standby:
    # give up on it after the grace period, losing only unacknowledged writes
    deadline = time.monotonic() + EXIT_GRACE
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    recorder.close()
    probes.close()
    return 0


def primary_rows(conn: psycopg2.extensions.connection) -> list[int] | None:
    """Every n in chaos, or None if this is not a primary."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery()")
        if cur.fetchone()[0]:
            return None
        try:
            cur.execute("SELECT n FROM chaos ORDER BY n")
        except psycopg2.errors.UndefinedTable:
            return []
        return [int(row[0]) for row in cur.fetchall()]


def collect(members: Sequence[Member], password: str) -> int:
    notes = []
    for m in members:
        try:
            conn = connect(m, password)
            try:
                rows = primary_rows(conn)
            finally:
                conn.close()
        except psycopg2.Error as e:
            notes.append(f"{m.name}: {first_line(e)}")
            continue
        if rows is None:
            notes.append(f"{m.name}: in recovery")
            continue
        print(json.dumps({"primary": m.name, "rows": rows}))
        return 0
    print(f"collect: no reachable primary ({'; '.join(notes)})", file=sys.stderr)
    return 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="client.py", description="The chaos suite's client.")
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="write to every member, watch roles until signalled")
    run_cmd.add_argument("--out", type=Path, required=True, help="directory for the logs")
    collect_cmd = commands.add_parser("collect", help="print the n of every row on the primary")
    for cmd in (run_cmd, collect_cmd):
        cmd.add_argument("--password", required=True, help="password of user postgres")
        cmd.add_argument(
            "--member",
            dest="members",
            action="append",
            required=True,
            type=parse_member,
            metavar="NAME=HOST:PGPORT:API_URL",
        )
    args = parser.parse_args(argv)
    names = [m.name for m in args.members]
    if len(set(names)) != len(names):
        parser.error(f"member names must be unique: {names}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "run":
        return run(args.members, args.password, args.out)
    return collect(args.members, args.password)


if __name__ == "__main__":
    sys.exit(main())
