"""The two timing profiles issue 9 measures in (the dynamic config's ttl, loop_wait, retry)."""

from __future__ import annotations

PROFILES: dict[str, dict[str, int]] = {
    "default": {"ttl": 30, "loop_wait": 10, "retry_timeout": 10},
    "fast": {"ttl": 10, "loop_wait": 2, "retry_timeout": 3},
}
