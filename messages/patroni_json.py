"""The dynamic config in Patroni's JSON shape: the one writer both edges share.

The REST API shows it (GET /config) and the config loader and `ctl
edit-config` write it; the shape is Patroni's, so an operator's tooling reads
pgactor's config as it reads Patroni's.  Parsing stays with each edge: each
validates with its own error reporting.
"""

from __future__ import annotations

from typing import Any

from messages.config import DynamicConfig, SyncMode

# Patroni writes synchronous_mode as a boolean, or "quorum" for quorum commit.
SYNC_TO_JSON: dict[SyncMode, bool | str] = {
    SyncMode.OFF: False,
    SyncMode.ON: True,
    SyncMode.QUORUM: "quorum",
}


def seconds(value: float) -> int | float:
    """Seconds as Patroni writes them: whole numbers without a fraction."""
    return int(value) if float(value).is_integer() else value


def dynamic_config_to_json(config: DynamicConfig) -> dict[str, Any]:
    return {
        "ttl": seconds(config.ttl_s),
        "loop_wait": seconds(config.loop_wait_s),
        "retry_timeout": seconds(config.retry_timeout_s),
        "maximum_lag_on_failover": config.maximum_lag_on_failover,
        "primary_start_timeout": seconds(config.primary_start_timeout_s),
        "primary_stop_timeout": seconds(config.primary_stop_timeout_s),
        "synchronous_mode": SYNC_TO_JSON[config.synchronous_mode],
        "synchronous_mode_strict": config.synchronous_mode_strict,
        "synchronous_node_count": config.synchronous_node_count,
        "failsafe_mode": config.failsafe_mode,
        "pause": config.pause,
        "check_timeline": config.check_timeline,
        "postgresql": {
            "use_slots": config.use_slots,
            "parameters": dict(config.postgresql_parameters),
        },
    }
