"""The node's supervision tree: which actors run, in which order, with what.

Children start in dependency order and stop in reverse: the metrics actor
first (everyone reports to it, and it outlives them to record their end),
the DCS client next (everyone needs the cluster view), PostgreSQL control
next, the HA brain after what it commands, gossip and the console after the
HA brain (they hear its status), the API last (it only reports).
On a clean stop the postmaster actor stops PostgreSQL before the DCS client
goes away.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from actors.api.actor import ApiActor
from actors.console.actor import ConsoleActor
from actors.gossip.actor import GossipActor
from actors.ha.actor import HaActor, Identity
from actors.leader_lock.actor import LeaderLockActor
from actors.leader_lock.factory import make_backend
from actors.metrics.actor import MetricsActor
from actors.postgres.actor import BootstrapActor, PostmasterActor
from actors.postgres.watchdog import WatchdogActor
from actors.runtime import names
from actors.runtime.context import Runtime
from actors.runtime.names import Topic
from actors.runtime.registry import Registry
from actors.runtime.supervisor import ChildSpec
from actors.sync_replication.actor import SyncReplicationActor
from messages.base import ActorName
from messages.config import MetricsSettings, NodeConfig, WatchdogMode
from node.cli import version

SUBSCRIPTIONS: Mapping[Topic, tuple[ActorName, ...]] = {
    # The leader-lock actor publishes a new config before the view that carries it, so
    # the postmaster hears a parameter change before any start the HA actor orders.
    names.DCS_CONFIG: (names.POSTMASTER,),
    names.DCS_VIEW: (names.HA, names.SYNC_REPLICATION, names.GOSSIP),
    names.PG_STATUS: (names.HA, names.SYNC_REPLICATION),
    names.NODE_STATUS: (names.API, names.METRICS, names.GOSSIP, names.CONSOLE),
}
"""Who hears which news: declared here, once, so no actor relays another's."""


def new_registry() -> Registry:
    """The node's registry, with the subscriptions above."""
    return Registry(subscriptions=SUBSCRIPTIONS)


def build_specs(config: NodeConfig, runtime: Runtime) -> list[ChildSpec]:
    """The children, in start order; the supervisor starts each with `runtime`."""
    pg = config.postgresql
    dyn = config.bootstrap_dcs
    backend = functools.partial(
        make_backend,
        scope=config.scope,
        member=config.name,
        namespace=config.namespace,
        settings=config.dcs,
        ttl_s=dyn.ttl_s,
        retry_timeout_s=dyn.retry_timeout_s,
        # The views' times and the HA actor's `now` must be read on one clock (safety rule 2).
        clock=runtime.clock,
    )
    identity = Identity(
        member=config.name,
        scope=config.scope,
        conn_host=pg.connect_host,
        conn_port=pg.connect_port,
        api_url=f"http://{config.restapi.connect_address}/patroni",
        tags=config.tags,
        gossip_url=f"tcp://{config.gossip.connect_address}" if config.gossip else "",
        version=version(),
    )
    pg_kwargs = {"settings": pg, "member": config.name, "scope": config.scope}
    return [
        ChildSpec(
            name=names.METRICS,
            actor_class=MetricsActor,
            kwargs={
                "scope": config.scope,
                "member": config.name,
                "settings": config.metrics or MetricsSettings(),
            },
        ),
        *_watchdog_specs(config),
        ChildSpec(
            name=names.LEADER_LOCK,
            actor_class=LeaderLockActor,
            kwargs={
                "backend_factory": backend,
                "conn": (pg.connect_host, pg.connect_port),
            },
        ),
        ChildSpec(
            name=names.POSTMASTER,
            actor_class=PostmasterActor,
            kwargs={**pg_kwargs, "dynamic_parameters": dyn.postgresql_parameters},
            shutdown_s=pg.pg_ctl_timeout_s + 5,
        ),
        ChildSpec(
            name=names.BOOTSTRAP,
            actor_class=BootstrapActor,
            kwargs={**pg_kwargs, "dynamic_parameters": dyn.postgresql_parameters},
        ),
        ChildSpec(
            name=names.SYNC_REPLICATION,
            actor_class=SyncReplicationActor,
            kwargs={"member": config.name},
        ),
        ChildSpec(
            name=names.HA,
            actor_class=HaActor,
            kwargs={
                "identity": identity,
                "bootstrap_config": dyn,
                "watchdog_margin_s": _watchdog_margin(config),
                "watchdog_required": config.watchdog.mode is WatchdogMode.REQUIRED,
            },
        ),
        *_zeromq_specs(config, identity.api_url),
        ChildSpec(
            name=names.API,
            actor_class=ApiActor,
            kwargs={"settings": config.restapi, "scope": config.scope},
        ),
    ]


def _watchdog_margin(config: NodeConfig) -> float | None:
    watchdog = config.watchdog
    return None if watchdog.mode is WatchdogMode.OFF else watchdog.safety_margin_s


def _watchdog_specs(config: NodeConfig) -> list[ChildSpec]:
    """The fence stops after the postmaster actor (children stop in reverse order),
    so a clean shutdown disarms it only once PostgreSQL is down."""
    if config.watchdog.mode is WatchdogMode.OFF:
        return []
    kwargs = {"settings": config.postgresql}
    return [ChildSpec(name=names.WATCHDOG, actor_class=WatchdogActor, kwargs=kwargs)]


def _zeromq_specs(config: NodeConfig, api_url: str) -> list[ChildSpec]:
    """Gossip and the console, each only when its section is configured (and enabled)."""
    specs: list[ChildSpec] = []
    if config.gossip is not None:
        gossip = {"settings": config.gossip, "member": config.name, "scope": config.scope}
        specs.append(
            ChildSpec(
                name=names.GOSSIP,
                actor_class=GossipActor,
                kwargs={**gossip, "api_url": api_url},
            )
        )
    if config.console is not None and config.console.enabled:
        specs.append(
            ChildSpec(
                name=names.CONSOLE,
                actor_class=ConsoleActor,
                kwargs={"settings": config.console, "version": version()},
            )
        )
    return specs


__all__ = ["SUBSCRIPTIONS", "Registry", "build_specs", "new_registry"]
