"""A timeline's history file (pg_wal/<timeline>.history), as history entries.

Each line is ``parent_timeline<TAB>switch_lsn<TAB>reason``: the parent
timeline ended at switch_lsn when this one began.  The leader publishes the
entries in the DCS; a former primary on an older timeline reads there where
its timeline ended, and rewinds if its WAL went further (Patroni's /history).
"""

from __future__ import annotations

import os

from actors.postgres.status import parse_lsn
from messages.base import Lsn, Timeline
from messages.cluster import HistoryEntry


def parse_history(text: str) -> tuple[HistoryEntry, ...]:
    """Entries in file order; comment, blank and malformed lines are skipped."""
    entries = []
    for line in text.splitlines():
        fields = line.strip().split("\t", 2) if "\t" in line else line.split(None, 2)
        if len(fields) < 2 or not fields[0].isdigit():
            continue
        lsn = parse_lsn(fields[1].strip())
        if lsn is None:
            continue
        reason = fields[2].strip() if len(fields) > 2 else ""
        entries.append(HistoryEntry(timeline=Timeline(int(fields[0])), lsn=Lsn(lsn), reason=reason))
    return tuple(entries)


def read_history(data_dir: str, timeline: int) -> tuple[HistoryEntry, ...]:
    """The history of `timeline` (empty for timeline 1, or when the file is missing)."""
    if timeline <= 1:
        return ()
    path = os.path.join(data_dir, "pg_wal", f"{timeline:08X}.history")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return parse_history(fh.read())
    except OSError:
        return ()
