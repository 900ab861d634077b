"""Reading a timeline history file (pg_wal/<timeline>.history)."""

from __future__ import annotations

from pathlib import Path

from actors.postgres.history import parse_history, read_history
from messages.base import Lsn, Timeline
from messages.cluster import HistoryEntry

TEXT = """1\t0/5040118\tno recovery target specified

# a comment
2\t0/6000000\tbefore 2000-01-01 00:00:00+00
garbage line
x\t0/1\tbad timeline
3\tnot-an-lsn\tbad lsn
"""


def test_each_line_is_a_parent_timeline_and_where_it_ended() -> None:
    assert parse_history(TEXT) == (
        HistoryEntry(
            timeline=Timeline(1), lsn=Lsn(0x5040118), reason="no recovery target specified"
        ),
        HistoryEntry(
            timeline=Timeline(2), lsn=Lsn(0x6000000), reason="before 2000-01-01 00:00:00+00"
        ),
    )


def test_the_file_of_the_timeline_is_read_and_a_missing_one_is_no_history(
    tmp_path: Path,
) -> None:
    (tmp_path / "pg_wal").mkdir()
    (tmp_path / "pg_wal" / "0000000A.history").write_text("9\t0/10\treason\n")
    assert read_history(str(tmp_path), 10) == (
        HistoryEntry(timeline=Timeline(9), lsn=Lsn(0x10), reason="reason"),
    )
    assert read_history(str(tmp_path), 11) == ()
    assert read_history(str(tmp_path), 1) == ()
