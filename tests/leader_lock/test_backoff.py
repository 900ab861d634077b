"""Retry waits: doubling, capped, never past the deadline."""

from __future__ import annotations

from actors.leader_lock.backoff import Backoff, Deadline


def test_waits_double_up_to_the_maximum() -> None:
    backoff = Backoff(initial_s=0.1, maximum_s=0.5)
    assert [backoff.next_delay() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_reset_starts_over() -> None:
    backoff = Backoff(initial_s=0.1, maximum_s=1.0)
    backoff.next_delay()
    backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 0.1


def test_no_wait_runs_past_the_deadline() -> None:
    deadline = Deadline(at=10.0)
    backoff = Backoff(initial_s=1.0, maximum_s=4.0)
    assert deadline.wait_before_retry(backoff, now=9.0) == 1.0
    assert deadline.wait_before_retry(backoff, now=9.5) == 0.5
    assert deadline.wait_before_retry(backoff, now=10.0) is None
    assert deadline.remaining(11.0) == 0.0
