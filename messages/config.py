"""Configuration as data: what node/ validates and hands to each actor.

Keys follow Patroni's names where the concept is the same, so an operator can
bring a Patroni config.  Durations carry their unit in the name.  Secrets are
excluded from ``repr`` so they never reach a log line.
"""

from __future__ import annotations

import dataclasses
import enum
import types
from collections.abc import Mapping

from messages.base import MemberName, Message, message


class SyncMode(enum.Enum):
    OFF = "off"
    ON = "on"
    QUORUM = "quorum"


class StopMode(enum.Enum):
    SMART = "smart"
    FAST = "fast"
    IMMEDIATE = "immediate"


@message("cfg.user")
class UserCredentials(Message):
    username: str
    password: str | None = dataclasses.field(default=None, repr=False)


@message("cfg.auth")
class Authentication(Message):
    superuser: UserCredentials
    replication: UserCredentials
    rewind: UserCredentials | None = None


@message("cfg.callbacks")
class Callbacks(Message):
    """Commands run as `command ACTION ROLE SCOPE` on lifecycle events."""

    on_start: str | None = None
    on_stop: str | None = None
    on_restart: str | None = None
    on_reload: str | None = None
    on_role_change: str | None = None
    timeout_s: float = 30.0


@message("cfg.replica_method")
class ReplicaMethod(Message):
    """A custom way to create a replica (restore from an archive, say).

    Run as ``command --scope=S --datadir=D --role=replica --connstring=C
    [--KEY=VALUE for each option]``, as Patroni runs its replica methods.
    """

    name: str
    command: str
    options: dict[str, str] = dataclasses.field(default_factory=dict)
    keep_data: bool = False
    no_leader: bool = False


@message("cfg.tags")
class Tags(Message):
    nofailover: bool = False
    noloadbalance: bool = False
    clonefrom: bool = False
    nosync: bool = False
    failover_priority: int = 1


@message("cfg.postgres")
class PostgresSettings(Message):
    data_dir: str
    bin_dir: str
    listen_host: str
    listen_port: int
    connect_host: str
    connect_port: int
    authentication: Authentication
    parameters: dict[str, str] = dataclasses.field(default_factory=dict)
    pg_hba: tuple[str, ...] = ()
    callbacks: Callbacks = Callbacks()
    create_replica_methods: tuple[str, ...] = ("basebackup",)
    replica_methods: tuple[ReplicaMethod, ...] = ()
    basebackup_options: dict[str, str] = dataclasses.field(default_factory=dict)
    initdb_options: tuple[str, ...] = ()
    post_init: str | None = None
    use_pg_rewind: bool = True
    remove_data_directory_on_rewind_failure: bool = False
    pg_ctl_timeout_s: float = 60.0
    os_user: str | None = None
    """Run PostgreSQL as this OS user; defaults to `postgres` when pgactor runs as root."""


@message("cfg.dynamic")
class DynamicConfig(Message):
    """The cluster-wide config kept in the DCS (bootstrap.dcs seeds it)."""

    ttl_s: float = 30.0
    loop_wait_s: float = 10.0
    retry_timeout_s: float = 10.0
    maximum_lag_on_failover: int = 1048576
    primary_start_timeout_s: float = 300.0
    primary_stop_timeout_s: float = 0.0
    synchronous_mode: SyncMode = SyncMode.OFF
    synchronous_mode_strict: bool = False
    synchronous_node_count: int = 1
    failsafe_mode: bool = False
    pause: bool = False
    use_slots: bool = True
    check_timeline: bool = False
    postgresql_parameters: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Read-only: frozen at construction (see __post_init__), so that a DynamicConfig,
    and every view and status holding one, can reach several actors as itself."""

    def __post_init__(self) -> None:
        # A copy: a proxy of the caller's own dict would still change with it.
        frozen = types.MappingProxyType(dict(self.postgresql_parameters))
        object.__setattr__(self, "postgresql_parameters", frozen)


@message("cfg.etcd")
class EtcdSettings(Message):
    hosts: tuple[str, ...]
    protocol: str = "http"
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)


@message("cfg.kubernetes")
class KubernetesSettings(Message):
    namespace: str = "default"
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    scope_label: str = "cluster-name"
    role_label: str = "role"
    use_endpoints: bool = True
    pod_ip: str | None = None
    api_url: str | None = None
    """Talk to this API server instead of in-cluster or kubeconfig discovery (tests)."""
    leader_label_value: str = "primary"
    """The role label's value on the lock holder running as primary (Patroni's option)."""
    follower_label_value: str = "replica"
    """The role label's value on every other member."""
    standby_leader_label_value: str = "primary"
    """A standby cluster's leader's value: pgactor runs none, so it only marks a Pod
    another tool labelled as a leader (a new lock holder takes it off)."""
    tmp_role_label: str | None = None
    """A second label carrying "primary" or "replica" whatever the values above say,
    for moving Services from one set of values to another (Patroni's option)."""


@message("cfg.restapi")
class RestApiSettings(Message):
    listen_host: str = "127.0.0.1"
    listen_port: int = 8008
    connect_address: str = "127.0.0.1:8008"
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    certfile: str | None = None
    keyfile: str | None = None
    cafile: str | None = None
    verify_client: str | None = None
    allow_unauthenticated_actions: bool = False
    """Serve actions (POST, PUT, PATCH, DELETE) to anyone when no credentials are set:
    an explicit opt-out of the default, which refuses them with 401."""
    max_connections_per_address: int = 20
    """Connections of one client address served at once; more wait their turn."""
    header_timeout_s: float = 10.0
    """From accepting a connection to its last header line (TLS handshake included);
    a body then has as long again, more for a large one."""


class WatchdogMode(enum.Enum):
    OFF = "off"
    AUTOMATIC = "automatic"
    REQUIRED = "required"


@message("cfg.watchdog")
class WatchdogSettings(Message):
    """Fencing of a primary whose agent stopped running (Patroni's ``watchdog``).

    Not a device but a small process of pgactor's own that kills PostgreSQL
    when the agent has not re-armed it in time: the agent may be frozen, hung or
    dead while PostgreSQL still takes writes.  ``automatic`` and ``required``
    both run it (it needs nothing from the host that could be missing).
    """

    mode: WatchdogMode = WatchdogMode.AUTOMATIC
    safety_margin_s: float = 5.0
    """Fire this long before the lease could expire for the others (at most
    half of retry_timeout, so the agent's own demotion always comes first)."""


@message("cfg.node")
class NodeConfig(Message):
    scope: str
    name: MemberName
    namespace: str
    postgresql: PostgresSettings
    dcs: EtcdSettings | KubernetesSettings
    bootstrap_dcs: DynamicConfig = DynamicConfig()
    restapi: RestApiSettings = RestApiSettings()
    tags: Tags = Tags()
    log_level: str = "INFO"
    gossip: GossipSettings | None = None
    console: ConsoleSettings | None = None
    metrics: MetricsSettings | None = None
    watchdog: WatchdogSettings = WatchdogSettings()


@message("cfg.curve")
class CurveKeys(Message):
    """Where a ZeroMQ endpoint finds the cluster's CURVE keypair.

    Either ``keys_dir`` (holding ``server.key_secret``, ``server.key`` and
    ``clients/*.key``, as ``pgactor keys generate`` writes them) or the keypair
    inline as Z85 text (from a Kubernetes Secret through the environment).
    """

    keys_dir: str | None = None
    public_key: str | None = None
    secret_key: str | None = dataclasses.field(default=None, repr=False)


@message("cfg.gossip")
class GossipSettings(Message):
    """Member-to-member status over ZeroMQ (CURVE; only the cluster key is heard)."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 7000
    connect_address: str = "127.0.0.1:7000"
    """host:port the other members connect to; published as ``tcp://...`` in the DCS."""
    peers: tuple[str, ...] = ()
    """Static host:port peers; a DNS name is resolved to every address it has."""
    heartbeat_s: float = 1.0
    suspect_after: int = 3
    """Missed heartbeats before a peer is suspect."""
    dead_after: int = 6
    """Missed heartbeats before a peer is down."""
    max_frame_bytes: int = 65536
    curve: CurveKeys = CurveKeys()


@message("cfg.console")
class ConsoleSettings(Message):
    """The admin console endpoint (ZeroMQ ROUTER; only authorised client keys)."""

    enabled: bool = True
    listen_host: str = "127.0.0.1"
    listen_port: int = 7100
    connect_address: str = "127.0.0.1:7100"
    curve: CurveKeys = CurveKeys()
    client_keys: tuple[str, ...] = ()
    """Authorised client public keys (Z85), beside ``<keys_dir>/clients/*.key``."""
    max_frame_bytes: int = 65536


@message("cfg.metrics")
class MetricsSettings(Message):
    """Prometheus metrics: always served at the REST API's ``/metrics``; optionally pushed.

    With ``pushgateway`` set (``host:port`` or a URL), every metric is pushed
    there every ``push_interval_s`` under ``job``, grouped by scope and member
    name, so one member's push never replaces another's.
    """

    pushgateway: str | None = None
    push_interval_s: float = 15.0
    job: str = "pgactor"
    names: str = "pgactor"
    """"pgactor": pgactor's metric names; "patroni": Patroni's names as well (scope and
    name labels, as Patroni 4 serves them), so Patroni's dashboards and alerts work."""
