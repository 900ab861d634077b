"""LogThrottle: one line per key per window, and the count of what it held back."""

from __future__ import annotations

import pytest

from actors.runtime.log_throttle import LogThrottle, held_back_note

# (key, time) -> what admit answers: None (quiet) or the count held back since the last line
ROWS = [
    ("10.0.0.1", 0.0, 0),  # the first line for a key goes out
    ("10.0.0.1", 1.0, None),
    ("10.0.0.1", 59.9, None),
    ("10.0.0.2", 30.0, 0),  # another key has a window of its own
    ("10.0.0.1", 60.0, 2),  # a minute on: a line, telling the two held back
    ("10.0.0.1", 61.0, None),
    ("10.0.0.2", 89.0, None),
    ("10.0.0.2", 400.0, 1),
    ("10.0.0.1", 400.0, 1),
    ("10.0.0.1", 460.0, 0),  # nothing held back in between: a count of 0
]


def test_admits_one_line_per_key_per_window_and_counts_the_rest() -> None:
    throttle = LogThrottle(window_s=60.0)
    answers = [(key, now, throttle.admit(key, now)) for key, now, _ in ROWS]
    assert answers == ROWS


def test_a_client_rotating_keys_cannot_grow_the_memory_past_its_bound() -> None:
    throttle = LogThrottle(window_s=60.0, max_keys=100)
    for i in range(10_000):
        assert throttle.admit(f"addr{i}", now=i * 0.001) == 0
    assert len(throttle._entries) <= 100
    # keys still in their window are the most recent ones: a repeat of the last is quiet
    assert throttle.admit("addr9999", now=10.0) is None


def test_expired_keys_are_forgotten_before_recent_ones() -> None:
    throttle = LogThrottle(window_s=60.0, max_keys=3)
    throttle.admit("old", now=0.0)
    throttle.admit("recent1", now=100.0)
    throttle.admit("recent2", now=101.0)
    throttle.admit("new", now=102.0)  # full: "old" (window over) goes first
    assert throttle.admit("recent1", now=103.0) is None
    assert throttle.admit("recent2", now=103.0) is None


@pytest.mark.parametrize(
    ("count", "note"), [(0, ""), (7, " (7 more since the last line about it, not logged)")]
)
def test_the_note_tells_how_many_were_held_back(count: int, note: str) -> None:
    assert held_back_note(count) == note
