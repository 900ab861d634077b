"""The parsing and rule helpers of the PostgreSQL control code, without a server."""

from __future__ import annotations

import logging
import os

import pytest

from actors.postgres.basebackup import parse_progress, user_options
from actors.postgres.bootstrap import initdb_options
from actors.postgres.conffiles import conninfo, quote, read_parameter, slot_name
from actors.postgres.controldata import parse_controldata
from actors.postgres.history import parse_history
from actors.postgres.procfs import is_user_backend
from actors.postgres.rewind import needs_rewind
from actors.postgres.scram import saslprep, verifier
from actors.postgres.status import format_lsn, parse_lsn, timeline_of_walfile
from messages.base import Lsn, Timeline


def test_lsns_parse_and_format_both_ways() -> None:
    assert parse_lsn("16/B374D848") == (0x16 << 32) + 0xB374D848
    assert format_lsn(parse_lsn("16/B374D848") or 0) == "16/B374D848"
    assert parse_lsn(None) is None and parse_lsn("garbage") is None
    assert timeline_of_walfile("0000000A0000000000000003") == 10


def test_basebackup_progress_lines_parse_to_bytes() -> None:
    assert parse_progress(b"  2048/10240 kB (20%), 0/1 tablespace") == (2097152, 10485760)
    assert parse_progress(b"pg_basebackup: base backup completed") is None


def test_controlled_basebackup_options_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        args = user_options({"max-rate": "10M", "--wal-method": "fetch", "v": "", "R": ""})
    assert args == ["--max-rate=10M", "-v"]
    assert "basebackup option --wal-method is controlled" in caplog.text
    assert "basebackup option R is controlled" in caplog.text


def test_initdb_options_become_flags_and_controlled_ones_go() -> None:
    options = ("encoding=UTF8", "data-checksums", "k", "username=evil", "--pwfile=/x")
    assert initdb_options(options) == ["--encoding=UTF8", "--data-checksums", "-k"]


def test_values_are_quoted_for_postgresql_conf_and_libpq() -> None:
    assert quote("it's a \\ test") == "'it''s a \\\\ test'"
    assert conninfo({"host": "h", "password_file": "/a b", "x": ""}) == (
        "host=h password_file='/a b' x=''"
    )


def test_a_written_parameter_reads_back(tmp_path: str) -> None:
    path = os.path.join(tmp_path, "postgresql.conf")
    from actors.postgres.conffiles import HEADER

    value = 'ANY 1 ("a\'b", "c\\d")'
    with open(path, "w") as fh:
        fh.write(f"{HEADER}synchronous_standby_names = {quote(value)}\n")
    assert read_parameter(str(tmp_path), "synchronous_standby_names") == value
    assert read_parameter(str(tmp_path), "port") is None


def test_slot_names_are_sanitized() -> None:
    assert slot_name("Pod-0.example") == "pod_0_example"
    assert len(slot_name("x" * 100)) == 63


def test_process_titles_tell_sessions_from_helpers() -> None:
    assert is_user_backend("postgres: demo: postgres postgres [local] idle", "demo")
    assert is_user_backend("postgres: app db ::1(5432) SELECT", "")
    assert not is_user_backend("postgres: demo: checkpointer", "demo")
    assert not is_user_backend("postgres: walsender replicator 127.0.0.1(1) streaming 0/1", "")
    assert is_user_backend("/usr/lib/postgresql/15/bin/postgres -D /x", "demo")


def test_controldata_output_parses() -> None:
    text = "Database cluster state:        shut down\nLatest checkpoint location: 0/3000028\n"
    assert parse_controldata(text) == {
        "Database cluster state": "shut down",
        "Latest checkpoint location": "0/3000028",
    }


HISTORY = parse_history("1\t0/3000148\tno recovery target specified\n\n2\t0/5000000\tx\n")


def _control(state: str, checkpoint: str, tli: int, min_recovery: str = "0/0") -> dict[str, str]:
    return {
        "Database cluster state": state,
        "Latest checkpoint location": checkpoint,
        "Latest checkpoint's TimeLineID": str(tli),
        "Minimum recovery ending location": min_recovery,
        "Min recovery ending loc's timeline": "0" if min_recovery == "0/0" else str(tli),
    }


@pytest.mark.parametrize(
    ("local", "end", "expected"),
    [
        (_control("shut down", "0/3000100", 3), None, False),  # same timeline
        (_control("shut down", "0/3000100", 4), None, True),  # ahead of the upstream
        (_control("shut down", "0/30000D8", 1), Lsn(0x3000148), False),  # clean switchover
        (_control("shut down", "0/30000D8", 1), Lsn(0x3000140), True),
        (_control("shut down", "0/30000D8", 1), None, True),  # end unknown: rewind
        (_control("shut down", "0/3000200", 1), None, True),  # wrote past the fork
        (_control("shut down in recovery", "0/2000000", 1, "0/3000100"), None, False),
        (_control("shut down in recovery", "0/2000000", 1, "0/3000200"), None, True),
        (_control("shut down", "0/3000100", 7), None, True),
    ],
)
def test_a_rewind_is_needed_only_past_the_fork(
    local: dict[str, str], end: Lsn | None, expected: bool
) -> None:
    assert needs_rewind(local, Timeline(3), HISTORY, checkpoint_end=end) is expected


def test_scram_verifiers_match_the_rfc_7677_example() -> None:
    # RFC 7677's user "user", password "pencil", salt and iteration count.
    import base64

    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    made = verifier("pencil", salt=salt, iterations=4096)
    assert made.startswith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")
    assert made.split("$")[2] == (
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
    )


def test_saslprep_maps_and_rejects_as_the_rfc_says() -> None:
    assert saslprep("I\u00adX") == "IX"  # soft hyphen maps to nothing
    assert saslprep("\u2168") == "IX"  # NFKC
    assert saslprep("a\u0007") == "a\u0007"  # ASCII passes as is, as in PostgreSQL
    assert saslprep("\u0627\u0031") is None  # bidi rule
