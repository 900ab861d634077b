"""The ``gossip`` and ``console`` sections: pgactor's own ZeroMQ endpoints.

Neither exists in Patroni.  Both use CURVE with the cluster keypair, given
either as a directory (``curve_keys_dir``, laid out as ``pgactor keys
generate`` writes it: ``server.key_secret``, ``server.key``,
``clients/*.key``) or inline as Z85 text (``curve_public_key`` and
``curve_secret_key``, typically from a Kubernetes Secret through
``PGACTOR__GOSSIP__CURVE_SECRET_KEY``).  The console takes the gossip
section's keys unless it names its own.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, PlainValidator, ValidationInfo, field_validator
from pydantic import model_validator as model_check

from messages.config import ConsoleSettings, CurveKeys, GossipSettings
from node.config.base import HostPortField, Section, Text
from node.config.host import resolve_connect_address
from node.config.values import HostPort, dataclass_default, split_commas

Z85_CHARS = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)
Z85_KEY_CHARS = 40
NO_KEYS = "no CURVE keys: set curve_keys_dir, or curve_public_key and curve_secret_key"


def curve_key(value: object) -> str:
    """A CURVE key as Z85 text: 40 characters.  Never echoed: it may be a secret."""
    text = value.strip() if isinstance(value, str) else ""
    if len(text) != Z85_KEY_CHARS or not set(text) <= Z85_CHARS:
        raise ValueError(f"expected a Z85 CURVE key ({Z85_KEY_CHARS} characters)")
    return text


CurveKeyField = Annotated[str, PlainValidator(curve_key)]


def _gossip(name: str) -> Any:
    return dataclass_default(GossipSettings, name)


def _console(name: str) -> Any:
    return dataclass_default(ConsoleSettings, name)


class CurveSection(Section):
    """Where a section's CURVE keypair comes from: a directory or inline, not both."""

    curve_keys_dir: Text | None = None
    curve_public_key: CurveKeyField | None = None
    curve_secret_key: CurveKeyField | None = None

    @model_check(mode="after")
    def _one_way_to_give_keys(self) -> Self:
        inline = (self.curve_public_key, self.curve_secret_key)
        if any(inline) and not all(inline):
            raise ValueError("set both curve_public_key and curve_secret_key, or neither")
        if all(inline) and self.curve_keys_dir is not None:
            raise ValueError("set curve_keys_dir or the inline keys, not both")
        return self

    def curve(self) -> CurveKeys | None:
        if self.curve_keys_dir is None and self.curve_public_key is None:
            return None
        return CurveKeys(
            keys_dir=self.curve_keys_dir,
            public_key=self.curve_public_key,
            secret_key=self.curve_secret_key,
        )


class GossipModel(CurveSection):
    """``gossip``: member status straight between members."""

    listen: HostPortField = HostPort(_gossip("listen_host"), _gossip("listen_port"))
    connect_address: HostPortField | None = Field(default=None, validate_default=True)
    peers: Annotated[list[HostPortField], BeforeValidator(split_commas)] = Field(
        default_factory=list
    )
    heartbeat: float = Field(default=_gossip("heartbeat_s"), gt=0, le=60)
    suspect_after: int = Field(default=_gossip("suspect_after"), ge=1)
    dead_after: int = Field(default=_gossip("dead_after"), ge=2)
    max_frame_bytes: int = Field(default=_gossip("max_frame_bytes"), ge=1024, le=1_000_000)

    @field_validator("connect_address", mode="plain")
    @classmethod
    def _connect(cls, value: object, info: ValidationInfo) -> HostPort | None:
        return resolve_connect_address(value, info.data.get("listen"), info)

    @model_check(mode="after")
    def _sane(self) -> Self:
        if self.dead_after <= self.suspect_after:
            raise ValueError("dead_after must be more heartbeats than suspect_after")
        if self.curve() is None:
            raise ValueError(NO_KEYS)
        return self

    def to_settings(self) -> GossipSettings:
        return GossipSettings(
            listen_host=self.listen.host,
            listen_port=self.listen.port,
            connect_address=str(self.connect_address),
            peers=tuple(str(p) for p in self.peers),
            heartbeat_s=self.heartbeat,
            suspect_after=self.suspect_after,
            dead_after=self.dead_after,
            max_frame_bytes=self.max_frame_bytes,
            curve=self.curve() or CurveKeys(),
        )


class ConsoleModel(CurveSection):
    """``console``: the admin endpoint ``pgactor ctl`` and ``pgactor console`` talk to."""

    enabled: bool = _console("enabled")
    listen: HostPortField = HostPort(_console("listen_host"), _console("listen_port"))
    connect_address: HostPortField | None = Field(default=None, validate_default=True)
    client_keys: list[CurveKeyField] = Field(default_factory=list)
    max_frame_bytes: int = Field(default=_console("max_frame_bytes"), ge=1024, le=1_000_000)

    @field_validator("connect_address", mode="plain")
    @classmethod
    def _connect(cls, value: object, info: ValidationInfo) -> HostPort | None:
        return resolve_connect_address(value, info.data.get("listen"), info)

    def to_settings(self, gossip: GossipModel | None) -> ConsoleSettings:
        curve = self.curve() or (gossip.curve() if gossip is not None else None)
        return ConsoleSettings(
            enabled=self.enabled,
            listen_host=self.listen.host,
            listen_port=self.listen.port,
            connect_address=str(self.connect_address),
            curve=curve or CurveKeys(),
            client_keys=tuple(self.client_keys),
            max_frame_bytes=self.max_frame_bytes,
        )


def console_keys_problem(console: ConsoleModel | None, gossip: GossipModel | None) -> str | None:
    """Why an enabled console has no keys of its own nor the gossip section's, if it has none."""
    if console is None or not console.enabled or console.curve() is not None:
        return None
    if gossip is not None and gossip.curve() is not None:
        return None
    return f"console: {NO_KEYS} (here or under gossip)"
