"""The node's config file: one section per concern, in Patroni's key names.

These models validate; :mod:`node.config.convert` turns a valid file into the
frozen :class:`messages.config.NodeConfig` the actors receive.  Defaults come
from messages.config itself, so the file and the data cannot disagree.  Values
the file may leave out but that depend on the host -- the PostgreSQL binaries,
the addresses others connect to -- are resolved here, during validation, from
a :class:`LoadContext`, so their problems are reported with all the others.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AliasChoices,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)

from messages.config import (
    Callbacks,
    KubernetesSettings,
    MetricsSettings,
    PostgresSettings,
    ReplicaMethod,
    RestApiSettings,
    Tags,
    WatchdogSettings,
)
from node.config.base import (
    HostPortField,
    Identifier,
    IpAddressField,
    ListenField,
    ParameterValue,
    Section,
    Text,
)
from node.config.dynamic import DynamicModel
from node.config.host import context_of, resolve_connect_address
from node.config.values import (
    HostPort,
    ListenAddress,
    basebackup_options,
    dataclass_default,
    initdb_options,
    option_value,
    parse_host_port,
    split_commas,
)
from node.config.zeromq import ConsoleModel, GossipModel, console_keys_problem

_UNSUPPORTED = "is a Patroni setting pgactor does not support; remove it"
DCS_KEYS = ("etcd3", "etcd", "kubernetes")


def _unsupported(*keys: str) -> Mapping[str, str]:
    return dict.fromkeys(keys, _UNSUPPORTED)


def _default(cls: type[Any], name: str) -> Any:
    return dataclass_default(cls, name)


class RestApiAuthModel(Section):
    username: Text
    password: Text


class RestApiModel(Section):
    """``restapi``: where the HTTP API listens and how the other members reach it."""

    PATRONI_ONLY: ClassVar[Mapping[str, str]] = _unsupported(
        "keyfile_password", "ciphers", "allowlist", "allowlist_include_members",
        "http_extra_headers", "https_extra_headers", "request_queue_size", "server_tokens",
    )  # fmt: skip

    listen: HostPortField = HostPort(
        _default(RestApiSettings, "listen_host"), _default(RestApiSettings, "listen_port")
    )
    connect_address: HostPortField | None = Field(default=None, validate_default=True)
    authentication: RestApiAuthModel | None = None
    certfile: Text | None = None
    keyfile: Text | None = None
    cafile: Text | None = None
    verify_client: Literal["none", "optional", "required"] | None = None
    allow_unauthenticated_actions: bool = _default(RestApiSettings, "allow_unauthenticated_actions")
    max_connections_per_address: int = Field(
        default=_default(RestApiSettings, "max_connections_per_address"), ge=1
    )
    header_timeout: float = Field(
        default=_default(RestApiSettings, "header_timeout_s"), gt=0, le=300
    )

    @field_validator("connect_address", mode="plain")
    @classmethod
    def _connect(cls, value: object, info: ValidationInfo) -> HostPort | None:
        return resolve_connect_address(value, info.data.get("listen"), info)


class EtcdModel(Section):
    """``etcd3`` (or ``etcd``): the etcd v3 cluster holding the leader lock."""

    PATRONI_ONLY: ClassVar[Mapping[str, str]] = _unsupported(
        "url", "proxy", "srv", "srv_suffix", "cacert", "cert", "key", "retry_timeout"
    )

    host: HostPortField | None = None
    hosts: Annotated[list[HostPortField], BeforeValidator(split_commas)] | None = Field(
        default=None, min_length=1
    )
    protocol: Literal["http", "https"] = "http"
    username: Text | None = None
    password: str | None = None

    @model_validator(mode="after")
    def _one_way_to_name_hosts(self) -> Self:
        if (self.host is None) == (self.hosts is None):
            raise ValueError("set hosts (a list or h1:port,h2:port) or host, exactly one")
        return self

    def addresses(self) -> tuple[str, ...]:
        return tuple(str(h) for h in (self.hosts or [])) or (str(self.host),)


_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
LabelValue = Annotated[str, Field(pattern=rf"^{_LABEL_NAME}$")]
"""A Kubernetes label value (not empty): 63 characters at most, alphanumeric at both ends."""
LabelKey = Annotated[
    str, Field(max_length=317, pattern=rf"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?{_LABEL_NAME}$")
]


class KubernetesModel(Section):
    """``kubernetes``: the lock's objects and the pod labels in the pod's namespace."""

    PATRONI_ONLY: ClassVar[Mapping[str, str]] = _unsupported(
        "bypass_api_service", "ports", "cacert", "retriable_http_codes", "use_configmaps",
        "context",
    )  # fmt: skip

    namespace: Text = _default(KubernetesSettings, "namespace")
    labels: dict[str, str] = Field(default_factory=dict)
    scope_label: Text = _default(KubernetesSettings, "scope_label")
    role_label: Text = _default(KubernetesSettings, "role_label")
    use_endpoints: bool = _default(KubernetesSettings, "use_endpoints")
    pod_ip: IpAddressField | None = None
    api_url: Text | None = None
    leader_label_value: LabelValue = _default(KubernetesSettings, "leader_label_value")
    follower_label_value: LabelValue = _default(KubernetesSettings, "follower_label_value")
    standby_leader_label_value: LabelValue = _default(
        KubernetesSettings, "standby_leader_label_value"
    )
    tmp_role_label: LabelKey | None = None

    @model_validator(mode="after")
    def _labels_tell_roles_apart(self) -> Self:
        # A Service selecting the leader's value must never match a follower.
        for name in ("leader_label_value", "standby_leader_label_value"):
            if getattr(self, name) == self.follower_label_value:
                raise ValueError(f"{name} and follower_label_value must differ")
        if self.tmp_role_label in (self.role_label, self.scope_label):
            raise ValueError("tmp_role_label must differ from role_label and scope_label")
        return self


class BootstrapModel(Section):
    """``bootstrap``: how the first member creates the cluster."""

    PATRONI_ONLY: ClassVar[Mapping[str, str]] = {
        "users": "is not supported (Patroni 4 dropped it too); create users in post_init",
        "method": "custom bootstrap methods are not supported; remove it",
        "pg_hba": "set postgresql.pg_hba instead",
    }

    dcs: DynamicModel = DynamicModel()
    initdb: Annotated[list[Text], BeforeValidator(initdb_options)] = Field(default_factory=list)
    post_init: Text | None = None


class UserModel(Section):
    PATRONI_ONLY: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("sslmode", "sslkey", "sslpassword", "sslcert", "sslrootcert", "sslcrl", "sslcrldir",
         "gssencmode", "channel_binding"),
        "per-user connection settings are not supported; remove it",
    )  # fmt: skip

    username: Text
    password: str | None = None


class AuthenticationModel(Section):
    superuser: UserModel
    replication: UserModel
    rewind: UserModel | None = None


class CallbacksModel(Section):
    """``postgresql.callbacks``: commands run on lifecycle events."""

    on_start: Text | None = None
    on_stop: Text | None = None
    on_restart: Text | None = None
    on_reload: Text | None = None
    on_role_change: Text | None = None
    timeout: float = Field(default=_default(Callbacks, "timeout_s"), gt=0)


class ReplicaMethodModel(Section):
    """A custom replica method's section; keys beyond the known ones are its options."""

    model_config = ConfigDict(extra="allow")

    command: Text
    keep_data: bool = _default(ReplicaMethod, "keep_data")
    no_leader: bool = Field(
        default=_default(ReplicaMethod, "no_leader"),
        validation_alias=AliasChoices("no_leader", "no_master"),
    )

    @classmethod
    def child(cls, key: str) -> Any | None:
        return super().child(key) or str

    @model_validator(mode="after")
    def _options_are_scalars(self) -> Self:
        self.options()
        return self

    def options(self) -> dict[str, str]:
        options = {}
        for name, value in (self.model_extra or {}).items():
            try:
                options[name] = option_value(value)
            except ValueError as exc:
                raise ValueError(f"option {name}: {exc}") from None
        return options


class PostgresModel(Section):
    """``postgresql``: this member's server, its access and how it is (re)created."""

    PATRONI_ONLY: ClassVar[Mapping[str, str]] = _unsupported(
        "pgpass", "config_dir", "pre_promote", "before_stop", "custom_conf", "recovery_conf",
        "use_unix_socket", "use_unix_socket_repl", "remove_data_directory_on_diverged_timelines",
        "krbsrvname", "pg_ident", "proxy_address", "bin_name",
    )  # fmt: skip
    INLINE: ClassVar[str | None] = "replica_methods"
    UNKNOWN_HINT: ClassVar[str] = (
        " (a replica method's section needs its name in create_replica_methods)"
    )

    data_dir: Text
    bin_dir: Text | None = Field(default=None, validate_default=True)
    listen: ListenField = ListenAddress(("127.0.0.1",), 5432)
    connect_address: HostPortField | None = Field(default=None, validate_default=True)
    authentication: AuthenticationModel
    parameters: dict[str, ParameterValue] = Field(default_factory=dict)
    pg_hba: list[Text] = Field(default_factory=list)
    callbacks: CallbacksModel = CallbacksModel()
    create_replica_methods: list[Text] = Field(
        default_factory=lambda: list(_default(PostgresSettings, "create_replica_methods")),
        min_length=1,
    )
    basebackup: Annotated[dict[str, str], BeforeValidator(basebackup_options)] = Field(
        default_factory=dict
    )
    replica_methods: dict[str, ReplicaMethodModel] = Field(default_factory=dict)
    use_pg_rewind: bool = _default(PostgresSettings, "use_pg_rewind")
    remove_data_directory_on_rewind_failure: bool = _default(
        PostgresSettings, "remove_data_directory_on_rewind_failure"
    )
    pg_ctl_timeout: float = Field(default=_default(PostgresSettings, "pg_ctl_timeout_s"), gt=0)
    os_user: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _gather_replica_methods(cls, data: object) -> object:
        # Patroni writes each custom method's section under postgresql by its name.
        methods = data.get("create_replica_methods") if isinstance(data, Mapping) else None
        if not isinstance(data, Mapping) or not isinstance(methods, list):
            return data
        inline = {k: v for k, v in data.items() if k in methods and cls.field_named(k) is None}
        if not inline:
            return data
        rest = {k: v for k, v in data.items() if k not in inline}
        written = rest.get("replica_methods")
        written = written if isinstance(written, Mapping) else {}
        return {**rest, "replica_methods": {**written, **inline}}

    @field_validator("bin_dir", mode="after")
    @classmethod
    def _find_bin_dir(cls, value: str | None, info: ValidationInfo) -> str | None:
        find = context_of(info).find_bin_dir
        return value if value is not None or find is None else find()

    @field_validator("connect_address", mode="plain")
    @classmethod
    def _connect(cls, value: object, info: ValidationInfo) -> HostPort | None:
        return resolve_connect_address(value, info.data.get("listen"), info)

    @model_validator(mode="after")
    def _every_method_has_a_section(self) -> Self:
        missing = [
            m for m in self.create_replica_methods
            if m != "basebackup" and m not in self.replica_methods
        ]  # fmt: skip
        if missing:
            raise ValueError(
                "create_replica_methods names "
                + ", ".join(missing)
                + ", which need a section of that name with a command under postgresql"
            )
        return self


class TagsModel(Section):
    PATRONI_ONLY: ClassVar[Mapping[str, str]] = _unsupported("replicatefrom", "nostream")

    nofailover: bool = _default(Tags, "nofailover")
    noloadbalance: bool = _default(Tags, "noloadbalance")
    clonefrom: bool = _default(Tags, "clonefrom")
    nosync: bool = _default(Tags, "nosync")
    failover_priority: int = Field(default=_default(Tags, "failover_priority"), ge=0)


def _log_level(value: object) -> str:
    name = value.upper() if isinstance(value, str) else ""
    name = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(name, name)
    if name not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return name


class LogModel(Section):
    PATRONI_ONLY: ClassVar[Mapping[str, str]] = dict.fromkeys(
        ("traceback_level", "format", "dateformat", "max_queue_size", "dir", "file_num",
         "file_size", "loggers", "type", "static_fields", "deduplicate_heartbeat_logs"),
        "is not supported: pgactor logs to stderr; pick text or json with --log-format",
    )  # fmt: skip

    level: Annotated[str, PlainValidator(_log_level)] = logging.getLevelName(logging.INFO)


def _pushgateway(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if "://" not in text:
        return str(parse_host_port(text))
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected host:port or an http:// or https:// URL")
    return text


class MetricsModel(Section):
    """``metrics``: pushing to a Prometheus Pushgateway (the REST API serves /metrics anyway),
    and whether Patroni's metric names are served beside pgactor's."""

    pushgateway: Annotated[str, PlainValidator(_pushgateway)] | None = None
    push_interval: float = Field(default=_default(MetricsSettings, "push_interval_s"), ge=1)
    job: Identifier = _default(MetricsSettings, "job")
    names: Literal["pgactor", "patroni"] = _default(MetricsSettings, "names")


def _watchdog_mode(value: object) -> str:
    # YAML 1.1 reads a bare `off` as false, as Patroni's own files write it.
    text = "off" if value is False else value.strip().lower() if isinstance(value, str) else ""
    if text not in ("off", "automatic", "required"):
        raise ValueError("expected off, automatic or required")
    return text


class WatchdogModel(Section):
    """``watchdog``: fencing of a primary whose agent stopped running."""

    PATRONI_ONLY: ClassVar[Mapping[str, str]] = {
        "device": "is not used: pgactor fences with a process of its own, not a device",
    }

    mode: Annotated[str, PlainValidator(_watchdog_mode)] = _default(WatchdogSettings, "mode").value
    safety_margin: float = Field(default=_default(WatchdogSettings, "safety_margin_s"), ge=0)


def _namespace(value: object) -> str:
    if not isinstance(value, str) or not value.strip("/ "):
        raise ValueError("expected a key prefix such as /service")
    return "/" + value.strip("/ ")


class NodeModel(Section):
    """The whole file."""

    PATRONI_ONLY: ClassVar[Mapping[str, str]] = {
        "ctl": "is not supported by pgactor; remove it",
        "citus": "is not supported by pgactor; remove it",
        **dict.fromkeys(
            ("consul", "zookeeper", "exhibitor", "raft"),
            "is not a DCS pgactor supports; use etcd3 (or etcd) or kubernetes",
        ),
    }

    scope: Identifier
    name: Identifier
    namespace: Annotated[str, PlainValidator(_namespace)] = "/service"
    restapi: RestApiModel
    etcd3: EtcdModel | None = Field(default=None, validation_alias=AliasChoices("etcd3", "etcd"))
    kubernetes: KubernetesModel | None = None
    bootstrap: BootstrapModel = BootstrapModel()
    postgresql: PostgresModel
    tags: TagsModel = TagsModel()
    log: LogModel = LogModel()
    metrics: MetricsModel | None = None
    gossip: GossipModel | None = None
    console: ConsoleModel | None = None
    watchdog: WatchdogModel = WatchdogModel()

    KEEP_EMPTY: ClassVar[frozenset[str]] = frozenset((*DCS_KEYS, "restapi", "gossip", "console"))

    @model_validator(mode="before")
    @classmethod
    def _restapi_always_validated(cls, data: object) -> object:
        # Validated even when absent, so that its connect address can default to POD_IP.
        if isinstance(data, Mapping) and "restapi" not in data:
            return {**data, "restapi": {}}
        return data

    @model_validator(mode="after")
    def _console_has_keys(self) -> Self:
        problem = console_keys_problem(self.console, self.gossip)
        if problem is not None:
            raise ValueError(problem)
        return self
