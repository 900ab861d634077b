"""From a validated file to the frozen NodeConfig the actors receive.

Validation has already resolved every default that depends on the host, so
this is a plain mapping of Patroni's key names onto messages.config's fields
(``pg_ctl_timeout`` -> ``pg_ctl_timeout_s``, ``listen`` -> host and port, each
custom replica method's section -> a :class:`ReplicaMethod`).
"""

from __future__ import annotations

from typing import TypeVar

from messages.base import MemberName
from messages.config import (
    Authentication,
    Callbacks,
    EtcdSettings,
    KubernetesSettings,
    MetricsSettings,
    NodeConfig,
    PostgresSettings,
    ReplicaMethod,
    RestApiSettings,
    Tags,
    UserCredentials,
    WatchdogMode,
    WatchdogSettings,
)
from node.config.errors import ConfigError
from node.config.schema import (
    AuthenticationModel,
    BootstrapModel,
    CallbacksModel,
    MetricsModel,
    NodeModel,
    PostgresModel,
    RestApiModel,
    UserModel,
    WatchdogModel,
)

T = TypeVar("T")


def _resolved(value: T | None, path: str) -> T:
    # Validation fills these; reaching None means a caller skipped the load context.
    if value is None:
        raise ConfigError([f"{path}: required"])
    return value


def to_node_config(model: NodeModel) -> NodeConfig:
    return NodeConfig(
        scope=model.scope,
        name=MemberName(model.name),
        namespace=model.namespace,
        postgresql=_postgres(model.postgresql, model.bootstrap),
        dcs=_dcs(model),
        bootstrap_dcs=model.bootstrap.dcs.to_dynamic_config(),
        restapi=_restapi(model.restapi),
        tags=Tags(**model.tags.model_dump()),
        log_level=model.log.level,
        gossip=model.gossip.to_settings() if model.gossip else None,
        console=model.console.to_settings(model.gossip) if model.console else None,
        metrics=_metrics(model.metrics),
        watchdog=_watchdog(model.watchdog),
    )


def _watchdog(watchdog: WatchdogModel) -> WatchdogSettings:
    return WatchdogSettings(
        mode=WatchdogMode(watchdog.mode), safety_margin_s=watchdog.safety_margin
    )


def _metrics(metrics: MetricsModel | None) -> MetricsSettings | None:
    if metrics is None:
        return None
    return MetricsSettings(
        pushgateway=metrics.pushgateway,
        push_interval_s=metrics.push_interval,
        job=metrics.job,
        names=metrics.names,
    )


def _dcs(model: NodeModel) -> EtcdSettings | KubernetesSettings:
    if model.etcd3 is not None:
        etcd = model.etcd3
        return EtcdSettings(
            hosts=etcd.addresses(),
            protocol=etcd.protocol,
            username=etcd.username,
            password=etcd.password,
        )
    k8s = _resolved(model.kubernetes, "etcd3/kubernetes")
    return KubernetesSettings(
        namespace=k8s.namespace,
        labels=dict(k8s.labels),
        scope_label=k8s.scope_label,
        role_label=k8s.role_label,
        use_endpoints=k8s.use_endpoints,
        pod_ip=k8s.pod_ip,
        api_url=k8s.api_url,
        leader_label_value=k8s.leader_label_value,
        follower_label_value=k8s.follower_label_value,
        standby_leader_label_value=k8s.standby_leader_label_value,
        tmp_role_label=k8s.tmp_role_label,
    )


def _restapi(api: RestApiModel) -> RestApiSettings:
    auth = api.authentication
    return RestApiSettings(
        listen_host=api.listen.host,
        listen_port=api.listen.port,
        connect_address=str(_resolved(api.connect_address, "restapi.connect_address")),
        username=auth.username if auth else None,
        password=auth.password if auth else None,
        certfile=api.certfile,
        keyfile=api.keyfile,
        cafile=api.cafile,
        verify_client=api.verify_client,
        allow_unauthenticated_actions=api.allow_unauthenticated_actions,
        max_connections_per_address=api.max_connections_per_address,
        header_timeout_s=api.header_timeout,
    )


def _user(user: UserModel) -> UserCredentials:
    return UserCredentials(username=user.username, password=user.password)


def _authentication(auth: AuthenticationModel) -> Authentication:
    return Authentication(
        superuser=_user(auth.superuser),
        replication=_user(auth.replication),
        rewind=_user(auth.rewind) if auth.rewind else None,
    )


def _callbacks(callbacks: CallbacksModel) -> Callbacks:
    return Callbacks(
        on_start=callbacks.on_start,
        on_stop=callbacks.on_stop,
        on_restart=callbacks.on_restart,
        on_reload=callbacks.on_reload,
        on_role_change=callbacks.on_role_change,
        timeout_s=callbacks.timeout,
    )


def _replica_methods(pg: PostgresModel) -> tuple[ReplicaMethod, ...]:
    # In the order create_replica_methods tries them.
    return tuple(
        ReplicaMethod(
            name=name,
            command=method.command,
            options=method.options(),
            keep_data=method.keep_data,
            no_leader=method.no_leader,
        )
        for name in pg.create_replica_methods
        if (method := pg.replica_methods.get(name)) is not None
    )


def _postgres(pg: PostgresModel, bootstrap: BootstrapModel) -> PostgresSettings:
    connect = _resolved(pg.connect_address, "postgresql.connect_address")
    return PostgresSettings(
        data_dir=pg.data_dir,
        bin_dir=_resolved(pg.bin_dir, "postgresql.bin_dir"),
        listen_host=",".join(pg.listen.hosts),
        listen_port=pg.listen.port,
        connect_host=connect.host,
        connect_port=connect.port,
        authentication=_authentication(pg.authentication),
        parameters=dict(pg.parameters),
        pg_hba=tuple(pg.pg_hba),
        callbacks=_callbacks(pg.callbacks),
        create_replica_methods=tuple(pg.create_replica_methods),
        replica_methods=_replica_methods(pg),
        basebackup_options=dict(pg.basebackup),
        initdb_options=tuple(bootstrap.initdb),
        post_init=bootstrap.post_init,
        use_pg_rewind=pg.use_pg_rewind,
        remove_data_directory_on_rewind_failure=pg.remove_data_directory_on_rewind_failure,
        pg_ctl_timeout_s=pg.pg_ctl_timeout,
        os_user=pg.os_user,
    )
