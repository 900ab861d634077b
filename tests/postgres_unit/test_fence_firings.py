"""The fence records its firings in fence.json, counting on from earlier fences of the
same data directory, so an agent that was frozen or dead when it fired learns of it.

No server runs here: the data directory is empty, so firing kills nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from actors.postgres.fence import Fence, read_record


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    path = tmp_path / "data"
    path.mkdir()
    return str(path)


def _fire(fence: Fence) -> None:
    fence.command("arm 10")
    fence.fire_if_due(10.5)


def test_a_firing_is_recorded_with_its_wall_time(data_dir: str, tmp_path: Path) -> None:
    fence = Fence(data_dir, str(tmp_path))
    before = time.time()
    _fire(fence)
    state = json.loads((tmp_path / "fence.json").read_text())
    assert state["fire_at"] is None and state["fired"] == 1
    assert before <= state["fired_at"] <= time.time()
    record = read_record(str(tmp_path))
    assert record is not None and (record.fired, record.fired_at) == (1, state["fired_at"])


def test_arming_and_disarming_keep_the_count_and_the_next_fence_goes_on_from_it(
    data_dir: str, tmp_path: Path
) -> None:
    first = Fence(data_dir, str(tmp_path))
    _fire(first)
    first.command("arm 20")
    first.command("disarm")
    fired_at = json.loads((tmp_path / "fence.json").read_text())["fired_at"]
    second = Fence(data_dir, str(tmp_path))  # the agent started a new fence
    second.command("arm 30")
    assert json.loads((tmp_path / "fence.json").read_text())["fired"] == 1
    second.fire_if_due(31)
    record = read_record(str(tmp_path))
    assert record is not None and record.fired == 2 and record.fired_at != fired_at


def test_a_fence_counts_on_from_a_firing_recorded_after_it_started(
    data_dir: str, tmp_path: Path
) -> None:
    """Two fences may guard one directory for a while (an agent restarted): a firing of
    the other one since this one started is not overwritten by this one's count."""
    old, new = Fence(data_dir, str(tmp_path)), Fence(data_dir, str(tmp_path))
    _fire(old)
    _fire(new)
    record = read_record(str(tmp_path))
    assert record is not None and record.fired == 2


def test_a_fence_that_cannot_write_its_record_still_fires(data_dir: str, tmp_path: Path) -> None:
    fence = Fence(data_dir, str(tmp_path / "missing"))
    _fire(fence)
    assert fence.fire_at is None and fence.fired == 1
    assert read_record(str(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    "text",
    ["", "{", "[]", '{"pid": "x", "fire_at": null}', '{"fire_at": 3}', '{"pid": 1}'],
)
def test_an_unreadable_record_reads_as_none(tmp_path: Path, text: str) -> None:
    (tmp_path / "fence.json").write_text(text)
    assert read_record(str(tmp_path)) is None


def test_a_record_from_before_firings_were_counted_reads_as_none_fired(tmp_path: Path) -> None:
    (tmp_path / "fence.json").write_text('{"pid": 7, "fire_at": 12.5}')
    record = read_record(str(tmp_path))
    assert record is not None and (record.pid, record.fire_at, record.fired) == (7, 12.5, 0)
