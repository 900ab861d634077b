"""Build the configured DCS backend; the Kubernetes client is imported only when used.

The official kubernetes client costs tens of MB of memory on import, so an
etcd node never pays for it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from actors.leader_lock.contract import Dcs, DcsParams
from messages.base import MemberName
from messages.config import EtcdSettings, KubernetesSettings


def make_backend(  # noqa: PLR0913 - the contract's settings, keyword-only
    *,
    scope: str,
    member: MemberName,
    namespace: str,
    settings: EtcdSettings | KubernetesSettings,
    ttl_s: float,
    retry_timeout_s: float,
    clock: Callable[[], float],
) -> Dcs:
    params = DcsParams(
        scope=scope,
        name=member,
        # Kubernetes objects live in the namespace its settings name.
        namespace=namespace if isinstance(settings, EtcdSettings) else settings.namespace,
        ttl_s=ttl_s,
        retry_timeout_s=retry_timeout_s,
        clock=clock,
    )
    if isinstance(settings, EtcdSettings):
        from actors.leader_lock.etcd import EtcdDcs

        return EtcdDcs(params, settings=settings)
    module = importlib.import_module("actors.leader_lock.kubernetes")
    backend: Dcs = module.KubernetesDcs(params, settings=settings)
    return backend
