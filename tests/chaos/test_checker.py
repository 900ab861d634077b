"""The chaos verdict over hand-made histories."""

from __future__ import annotations

import json
from pathlib import Path

from chaos.checker import Write, load_writes, lost, split_brain, unavailability, verdict


def w(n: int, member: str, timeline: int, sent: float, acked: float | None = None) -> Write:
    return Write(n, member, timeline, sent, sent + 0.01 if acked is None else acked)


def failover_history() -> list[Write]:
    """node1 writes on timeline 1, then node2 (promoted) on 2, then node3 on 3."""
    return [
        w(1, "node1", 1, 1.0),
        w(2, "node1", 1, 1.1),
        w(3, "node2", 2, 5.0),
        w(4, "node2", 2, 5.1),
        w(5, "node3", 3, 9.0),
    ]


def test_lost_writes_are_found_sorted() -> None:
    assert lost(failover_history(), {1, 3, 5}) == [2, 4]
    assert lost(failover_history(), {1, 2, 3, 4, 5, 99}) == []


def test_clean_history_with_timeline_switches_passes() -> None:
    v = verdict(failover_history(), {1, 2, 3, 4, 5})
    assert v.ok
    assert v.acknowledged == 5
    assert v.split_brain == []
    assert v.summary().startswith("OK: 5 acknowledged")


def test_two_members_on_one_timeline_is_split_brain() -> None:
    writes = [*failover_history(), w(6, "node1", 2, 5.05)]
    found = split_brain(writes)
    assert len(found) == 1
    assert "timeline 2" in found[0]
    assert "node1 (e.g. n=6)" in found[0]
    assert "node2 (e.g. n=3)" in found[0]
    assert not verdict(writes, {1, 2, 3, 4, 5, 6}).ok


def test_old_timeline_ack_sent_after_new_timeline_ack_is_split_brain() -> None:
    # node2 acked n=3 on timeline 2 at 5.01; node1 then took n=6 on timeline 1
    writes = [*failover_history(), w(6, "node1", 1, 5.5)]
    found = split_brain(writes)
    assert len(found) == 1
    assert "node1 acknowledged n=6 on timeline 1" in found[0]
    assert "node2 had acknowledged n=3 on timeline 2" in found[0]
    v = verdict(writes, {1, 2, 3, 4, 5, 6})
    assert not v.ok
    assert "split brain" in v.summary()


def test_old_write_sent_before_new_ack_but_acked_later_is_legal() -> None:
    # n=6 was sent at 4.9, before timeline 2's first ack (5.01), and its ack came
    # late (6.0): the old primary may have committed it just before demotion
    writes = [*failover_history(), w(6, "node1", 1, 4.9, acked=6.0)]
    assert split_brain(writes) == []


def test_violations_are_capped_per_kind() -> None:
    writes = [w(i, f"node{i % 2}", i // 2, float(i)) for i in range(40)]
    assert len(split_brain(writes)) == 6  # five examples and "... and 15 more"
    assert split_brain(writes)[-1] == "... and 15 more like these"


def test_unavailability_is_the_longest_gap_between_acks() -> None:
    writes = failover_history()  # acks at 1.01, 1.11, 5.01, 5.11, 9.01
    assert abs(unavailability(writes, 0.0, 10.0) - 3.9) < 1e-9
    # start and end count as boundaries; acks outside the window do not
    assert abs(unavailability(writes, 5.5, 10.0) - 3.51) < 1e-9
    assert abs(unavailability(writes, 9.5, 11.0) - 1.5) < 1e-9
    assert unavailability([], 2.0, 3.0) == 1.0


def test_load_writes_tolerates_a_truncated_last_line(tmp_path: Path) -> None:
    records = [
        {"n": 1, "member": "node1", "addr": "10.77.0.11", "timeline": 1, "sent": 1.0, "acked": 1.1},
        {"n": 2, "member": "node2", "addr": "10.77.0.12", "timeline": 2, "sent": 2.0, "acked": 2.1},
    ]
    text = "".join(json.dumps(r) + "\n" for r in records)
    path = tmp_path / "writes.jsonl"
    path.write_text(text + json.dumps(records[0])[:30])
    assert load_writes(path) == [Write(1, "node1", 1, 1.0, 1.1), Write(2, "node2", 2, 2.0, 2.1)]
