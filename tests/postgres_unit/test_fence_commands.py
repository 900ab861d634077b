"""The fence's command parsing: bad lines are reported and change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actors.postgres.fence import Fence


@pytest.fixture
def fence(tmp_path: Path) -> Fence:
    return Fence(str(tmp_path / "data"), str(tmp_path))


def test_arm_disarm_and_quit_are_recorded(fence: Fence, tmp_path: Path) -> None:
    assert fence.command("arm 12.5\n") and fence.fire_at == 12.5
    assert json.loads((tmp_path / "fence.json").read_text())["fire_at"] == 12.5
    assert fence.command("disarm") and fence.fire_at is None
    assert not fence.command("quit")


@pytest.mark.parametrize("line", ["arm soon", "arm", "launch 1", "arm nan", "arm inf", "arm 1e400"])
def test_a_bad_line_is_reported_and_changes_nothing(
    fence: Fence, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fence.command("arm 99")
    assert fence.command(line)
    assert fence.fire_at == 99
    assert "ignored" in capsys.readouterr().err


def test_an_empty_line_changes_nothing(fence: Fence) -> None:
    fence.command("arm 5")
    assert fence.command("") and fence.fire_at == 5


def test_a_fence_not_yet_due_does_nothing(fence: Fence) -> None:
    fence.command("arm 100")
    fence.fire_if_due(99.9)
    assert fence.fire_at == 100
