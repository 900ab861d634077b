"""The chaos verdict over hand-made histories."""

from __future__ import annotations

import json
from pathlib import Path

from chaos.checker import (
    Death,
    Sample,
    Write,
    load_samples,
    load_writes,
    lost,
    overlapping_primaries,
    parse_lsn,
    split_brain,
    unavailability,
    verdict,
)


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


def test_wal_positions_parse_as_bytes() -> None:
    assert parse_lsn("0/3000148") == 0x3000148
    assert parse_lsn("1/0") == 1 << 32


def probes(member: str, times: list[float], tl: int = 1, started: str = "a") -> list[Sample]:
    """Consecutive writable samples of one postmaster, each answered 10 ms after sent."""
    return [Sample(member, i, t, t + 0.01, True, tl, started) for i, t in enumerate(times, 1)]


def test_a_sample_inside_another_members_writable_stretch_is_split_brain() -> None:
    samples = [*probes("node1", [0.0, 0.1, 0.2, 0.3]), *probes("node2", [0.15], tl=2)]
    found = overlapping_primaries(samples)
    assert found == ["node1 (timeline 1) and node2 (timeline 2) were both writable at t=0.150"]
    v = verdict([], set(), samples)
    assert not v.ok and v.split_brain == found


def test_two_overlapping_stretches_are_split_brain() -> None:
    samples = [*probes("node1", [0.0, 0.1, 0.2]), *probes("node2", [0.18, 0.28], tl=2)]
    assert len(overlapping_primaries(samples)) == 1


def test_a_handover_between_samples_is_no_evidence() -> None:
    # node1 is last seen writable at 0.2; its next probe failed (seq 4 missing)
    node1 = [*probes("node1", [0.0, 0.1, 0.2]), Sample("node1", 5, 0.5, 0.51, False, 0, "b")]
    assert overlapping_primaries([*node1, *probes("node2", [0.3, 0.4], tl=2)]) == []


def test_only_consecutive_samples_of_one_postmaster_prove_a_stretch() -> None:
    restarted = [
        Sample("node1", 1, 0.0, 0.01, True, 1, "a"),
        Sample("node1", 2, 0.5, 0.51, True, 1, "b"),  # a new postmaster meanwhile
    ]
    gap = [
        Sample("node1", 1, 0.0, 0.01, True, 1, "a"),
        Sample("node1", 3, 0.5, 0.51, True, 1, "a"),  # probe 2 failed: unknown between
    ]
    node2 = probes("node2", [0.2, 0.3], tl=2)
    assert overlapping_primaries([*restarted, *node2]) == []
    assert overlapping_primaries([*gap, *node2]) == []


def test_samples_load_from_jsonl_and_a_missing_file_is_empty(tmp_path: Path) -> None:
    rec = {"member": "node1", "seq": 1, "sent": 1.0, "answered": 1.1}
    rec |= {"writable": True, "tl": 2, "started": "t0"}
    path = tmp_path / "probes.jsonl"
    path.write_text(json.dumps(rec) + "\n" + json.dumps(rec)[:20])
    assert load_samples(path) == [Sample("node1", 1, 1.0, 1.1, True, 2, "t0")]
    assert load_samples(tmp_path / "absent.jsonl") == []


def lsn_write(n: int, acked: float, lsn: int, member: str = "node1") -> Write:
    return Write(n, member, 1, acked - 0.01, acked, lsn)


def test_async_losses_are_excused_only_at_a_leaders_death_and_within_the_lag() -> None:
    writes = [
        lsn_write(1, 2.0, 1000),  # long before node1 died
        lsn_write(2, 11.0, 5000),  # as it died, near the end of its WAL
        lsn_write(3, 11.5, 5100),
        lsn_write(4, 30.0, 900, member="node2"),  # another member, nobody died
    ]
    deaths = [Death("node1", 10.0, 20.0)]
    lost_all: set[int] = set()
    v = verdict(writes, lost_all, deaths=deaths, max_lag=1000)
    assert v.excused_lost == [2, 3]
    assert v.lost == [1, 4] and not v.ok
    assert "2 lost as their leader died" in v.summary()
    # the lag bound: write 2 lies 100 bytes before the end of node1's WAL
    assert verdict(writes, lost_all, deaths=deaths, max_lag=50).excused_lost == [3]
    # synchronous mode excuses nothing
    assert verdict(writes, lost_all).lost == [1, 2, 3, 4]
