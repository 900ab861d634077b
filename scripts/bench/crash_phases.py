"""Where a kept pg_crash run's time went: the agent's and the server's log lines, phase by
phase, in milliseconds from the kill (issue 16 target 4).

Usage: ``crash_phases.py KEPT_DIR EVENT_TIME [GAP_TO]`` (a kept run's directory
and its timeline's ``event`` and ``gap_to``, as failover.py prints them);
failover.py adds the phases of every pg_crash run it keeps.  Times are the
logs' own (UTC, milliseconds): the agent's log, the restarted server's log, and
the dead server's (``.1``) for its orphaned backends' exits.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
from pathlib import Path
from typing import Any

_AGENT = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")
_SERVER = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (?:UTC|GMT) ")
_LSN = re.compile(r"at ([0-9A-F]+)/([0-9A-F]+)")

AGENT_PHASES = (
    ("agent: decides to start it", "PostgreSQL down while holding the lock"),
    ("agent: leftovers cleared, spawning", "removing the stale socket lock"),
    ("agent: postmaster spawned", "started postmaster"),
    ("agent: start reported done", "start done"),
)
SERVER_PHASES = (
    ("pg: database system was interrupted", "database system was interrupted"),
    ("pg: data directory synced, recovery begins", "automatic recovery in progress"),
    ("pg: redo starts", "redo starts at"),
    ("pg: redo done", "redo done at"),
    ("pg: end-of-recovery checkpoint starts", "checkpoint starting: end-of-recovery"),
    ("pg: end-of-recovery checkpoint complete", "checkpoint complete"),
    ("pg: ready to accept connections", "database system is ready to accept connections"),
)
ORPHAN_EXIT = "terminating connection due to unexpected postmaster exit"
WARNINGS = ("pre-existing shared memory block", "SIGKILLing leftover", "lock file")


def _when(line: str) -> datetime.datetime | None:
    if found := _SERVER.match(line):
        return datetime.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S.%f")
    if found := _AGENT.match(line):
        moment = datetime.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S")
        return moment.replace(microsecond=int(found.group(2)) * 1000)
    return None


def _lines(path: Path, since: datetime.datetime) -> list[tuple[datetime.datetime, str]]:
    if not path.exists():
        return []
    timed = ((_when(line), line) for line in path.read_text(errors="replace").splitlines())
    return [(t, line) for t, line in timed if t is not None and t >= since]


def _first(lines: list[tuple[datetime.datetime, str]], text: str) -> datetime.datetime | None:
    return next((t for t, line in lines if text in line), None)


def _lsn(line: str) -> int | None:
    found = _LSN.search(line)
    return (int(found.group(1), 16) << 32) + int(found.group(2), 16) if found else None


def phases(kept: Path, event: str, first_ack: str | None = None) -> dict[str, Any]:
    """The phases of the leader's restart in ms from ``event`` (``HH:MM:SS.mmm``), and
    the probe's first acknowledged write after the gap (``first_ack``) if given."""
    leader = next(
        (
            p.parent
            for p in sorted(kept.glob("node*/pgactor.log"))
            if AGENT_PHASES[0][1] in p.read_text(errors="replace")
        ),
        None,
    )
    if leader is None:
        return {"error": "no agent restarted its postmaster"}
    day = (
        _when(next(iter((leader / "pgactor.log").read_text().splitlines()), ""))
        or datetime.datetime.now()
    )
    at = datetime.datetime.combine(day.date(), datetime.time.fromisoformat(event))
    agent = _lines(leader / "pgactor.log", at)
    server = _lines(leader / "data" / "log" / "pgactor-server.log", at)
    dead = _lines(leader / "data" / "log" / "pgactor-server.log.1", at)
    out: dict[str, Any] = {"leader": leader.name}
    marks = [(name, _first(agent, text)) for name, text in AGENT_PHASES]
    marks += [(name, _first(server, text)) for name, text in SERVER_PHASES]
    marks.append(
        (
            "pg: last orphaned backend gone",
            max((t for t, line in dead if ORPHAN_EXIT in line), default=None),
        )
    )
    if first_ack is not None:
        acked = datetime.datetime.combine(day.date(), datetime.time.fromisoformat(first_ack))
        marks.append(("client: first acknowledged write after the gap", acked))
    for name, moment in sorted(marks, key=lambda m: m[1] or datetime.datetime.max):
        out[name] = None if moment is None else round((moment - at).total_seconds() * 1000)
    starts = next((_lsn(line) for _, line in server if "redo starts at" in line), None)
    done = next((_lsn(line) for _, line in server if "redo done at" in line), None)
    if starts is not None and done is not None:
        out["redo distance kB"] = (done - starts) // 1024
    out["warnings"] = [line for _, line in agent + server if any(w in line for w in WARNINGS)]
    return out


if __name__ == "__main__":
    print(json.dumps(phases(Path(sys.argv[1]), *sys.argv[2:4]), indent=1))
