"""The chaos client's pure parts: member arguments and roles; no PostgreSQL."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from chaos.client import Member, parse_args, parse_member
from chaos.observe import derive_role


def test_member_argument_keeps_the_url_colons() -> None:
    assert parse_member("node1=10.77.0.11:6432:http://10.77.0.11:9008/") == Member(
        "node1", "10.77.0.11", 6432, "http://10.77.0.11:9008"
    )


@pytest.mark.parametrize(
    "value",
    [
        "10.77.0.11:6432:http://10.77.0.11:9008",  # no name
        "node1=10.77.0.11:6432",  # no API URL
        "node1=10.77.0.11:pg:http://10.77.0.11:9008",  # port not a number
        "node1=10.77.0.11:6432:10.77.0.11:9008",  # URL without a scheme
        "=10.77.0.11:6432:http://10.77.0.11:9008",
    ],
)
def test_malformed_member_is_rejected_clearly(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="NAME=HOST:PGPORT:API_URL"):
        parse_member(value)


def test_command_line_parses_members_and_rejects_bad_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    member = [
        "--member",
        "node1=h1:6432:http://h1:9008",
        "--member",
        "node2=h2:6432:http://h2:9008",
    ]
    args = parse_args(["run", "--out", "/tmp/x", "--password", "pw", *member])
    assert args.out == Path("/tmp/x")
    assert [m.name for m in args.members] == ["node1", "node2"]
    with pytest.raises(SystemExit):
        parse_args(["collect", "--password", "pw", "--member", "node1=h1"])
    assert "NAME=HOST:PGPORT:API_URL" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["collect", "--password", "pw", *member, member[0], member[1]])
    assert "unique" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("body", "role"),
    [
        (None, "down"),
        ({"state": "stopped", "role": "primary"}, "stopped"),
        ({"state": "unknown", "role": "unknown"}, "unknown"),
        ({"state": "running", "role": "primary", "timeline": 3}, "primary"),
        ({"state": "running", "role": "replica", "replication_state": "streaming"}, "streaming"),
        ({"state": "running", "role": "replica"}, "replica"),
    ],
)
def test_role_from_status(body: dict[str, object] | None, role: str) -> None:
    assert derive_role(body) == role
