"""The cluster-wide (dynamic) configuration and its Patroni-compatible JSON shape.

``bootstrap.dcs`` in the file seeds it; afterwards it lives in the DCS as a
JSON object with Patroni's key names (``ttl``, ``loop_wait``, ...,
``postgresql.parameters``), so ``pgactor ctl edit-config`` and a node read and
write the same shape.  One schema validates all three sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self

from pydantic import AliasChoices, Field, PlainValidator, ValidationError, model_validator

from messages.config import DynamicConfig, SyncMode
from messages.patroni_json import dynamic_config_to_json, seconds
from node.config.base import ParameterValue, Section, section_type
from node.config.errors import ConfigError, render_errors
from node.config.values import dataclass_default

_UNSUPPORTED = "is a Patroni setting pgactor does not support; remove it"
_PER_NODE = "is set per node in pgactor: move it to the postgresql section of each node's file"


def _default(name: str) -> Any:
    return dataclass_default(DynamicConfig, name)


_SYNC_MODES: dict[object, SyncMode] = {
    False: SyncMode.OFF,
    True: SyncMode.ON,
    "off": SyncMode.OFF,
    "false": SyncMode.OFF,
    "on": SyncMode.ON,
    "true": SyncMode.ON,
    "quorum": SyncMode.QUORUM,
}


def _sync_mode(value: object) -> SyncMode:
    if isinstance(value, SyncMode):
        return value
    key = value.lower() if isinstance(value, str) else value
    if isinstance(key, bool | str) and key in _SYNC_MODES:
        return _SYNC_MODES[key]
    raise ValueError("expected false, true or quorum")


class DcsPostgresqlModel(Section):
    """``postgresql`` inside the dynamic config: what every member applies alike."""

    PATRONI_ONLY: ClassVar[Mapping[str, str]] = {
        **dict.fromkeys(
            ("use_pg_rewind", "pg_hba", "remove_data_directory_on_rewind_failure"), _PER_NODE
        ),
        **dict.fromkeys(
            ("recovery_conf", "pg_ident", "remove_data_directory_on_diverged_timelines"),
            _UNSUPPORTED,
        ),
    }

    use_slots: bool = _default("use_slots")
    parameters: dict[str, ParameterValue] = Field(default_factory=dict)


class DynamicModel(Section):
    """The dynamic config; durations are seconds (integers or fractions)."""

    PATRONI_ONLY: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("standby_cluster", "slots", "ignore_slots", "maximum_lag_on_syncnode",
         "max_timelines_history", "member_slots_ttl"),
        _UNSUPPORTED,
    )  # fmt: skip

    ttl: float = Field(default=_default("ttl_s"), gt=0)
    loop_wait: float = Field(default=_default("loop_wait_s"), ge=1)
    retry_timeout: float = Field(default=_default("retry_timeout_s"), ge=1)
    maximum_lag_on_failover: int = Field(default=_default("maximum_lag_on_failover"), ge=0)
    primary_start_timeout: float = Field(
        default=_default("primary_start_timeout_s"),
        ge=0,
        validation_alias=AliasChoices("primary_start_timeout", "master_start_timeout"),
    )
    primary_stop_timeout: float = Field(
        default=_default("primary_stop_timeout_s"),
        ge=0,
        validation_alias=AliasChoices("primary_stop_timeout", "master_stop_timeout"),
    )
    synchronous_mode: Annotated[SyncMode, PlainValidator(_sync_mode)] = _default("synchronous_mode")
    synchronous_mode_strict: bool = _default("synchronous_mode_strict")
    synchronous_node_count: int = Field(default=_default("synchronous_node_count"), ge=1)
    failsafe_mode: bool = _default("failsafe_mode")
    pause: bool = _default("pause")
    check_timeline: bool = _default("check_timeline")
    postgresql: DcsPostgresqlModel = DcsPostgresqlModel()

    @model_validator(mode="after")
    def _lease_outlives_a_failed_loop(self) -> Self:
        # A leader must notice it cannot renew (one loop plus a retry) and demote
        # before its lease expires for the others: safety rule 1.
        worst = self.loop_wait + 2 * self.retry_timeout
        if worst > self.ttl:
            raise ValueError(
                "loop_wait + 2 * retry_timeout must not exceed ttl "
                f"(loop_wait={seconds(self.loop_wait)} + 2 * retry_timeout="
                f"{seconds(self.retry_timeout)} = {seconds(worst)} > ttl={seconds(self.ttl)})"
            )
        return self

    def to_dynamic_config(self) -> DynamicConfig:
        return DynamicConfig(
            ttl_s=self.ttl,
            loop_wait_s=self.loop_wait,
            retry_timeout_s=self.retry_timeout,
            maximum_lag_on_failover=self.maximum_lag_on_failover,
            primary_start_timeout_s=self.primary_start_timeout,
            primary_stop_timeout_s=self.primary_stop_timeout,
            synchronous_mode=self.synchronous_mode,
            synchronous_mode_strict=self.synchronous_mode_strict,
            synchronous_node_count=self.synchronous_node_count,
            failsafe_mode=self.failsafe_mode,
            pause=self.pause,
            use_slots=self.postgresql.use_slots,
            check_timeline=self.check_timeline,
            postgresql_parameters=dict(self.postgresql.parameters),
        )


def dynamic_config_from_dict(
    data: Mapping[str, Any], *, ignore_unknown: bool = False
) -> DynamicConfig:
    """Validate a dynamic config in Patroni's JSON shape; raise ConfigError listing every problem.

    ``ignore_unknown`` drops keys pgactor does not model (a config a Patroni
    cluster left in the DCS, say) instead of rejecting them; an editor keeps the
    default so a typo is reported.
    """
    if ignore_unknown:
        data = _known_only(data, DynamicModel)
    try:
        model = DynamicModel.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(render_errors(exc, DynamicModel)) from None
    return model.to_dynamic_config()


def _known_only(data: Mapping[str, Any], section: type[Section]) -> dict[str, Any]:
    known = {}
    for key, value in data.items():
        if section.field_named(key) is None:
            continue
        inner = section_type(section.child(key))
        known[key] = _known_only(value, inner) if inner and isinstance(value, Mapping) else value
    return known


def dynamic_config_to_dict(config: DynamicConfig) -> dict[str, Any]:
    """The dynamic config as the JSON object the DCS stores (Patroni's key names)."""
    return dynamic_config_to_json(config)
