"""What a Role for pgactor must grant: every request the Kubernetes backend makes.

In RBAC terms, (resource, verb) pairs, per mode.  Two refinements a Role can
use to grant less:

* The records objects (``<scope>``/``<scope>-leader``, ``-config``, ``-sync``,
  ``-failover``) are read back (get) and compare-and-set (patch) by name, so
  those verbs may be granted for those names only (``resourceNames``).
  Kubernetes cannot limit create, list or watch by name (a create names no
  object in its URL; the lists and watches select by label), so those stay
  unnamed.  Pods are patched by name too, but the names are the StatefulSet's
  and change with its size, so the Role grants patch on Pods unnamed.
* Creating the Service ``<scope>-config`` (Endpoints mode's guard against
  garbage collection) is tried once, when that object is first created, and a
  refusal changes nothing: the deployment ships the Service, and the Role need
  not grant it (:data:`OPTIONAL_PERMISSIONS`).

Pure: tests/k8s_manifests checks the shipped Roles against these.
"""

from __future__ import annotations

from actors.leader_lock import k8s_records as kr
from actors.leader_lock.k8s_client import OPERATIONS
from messages.config import KubernetesSettings

Permission = tuple[str, str]

OPTIONAL_PERMISSIONS: frozenset[Permission] = frozenset({("services", "create")})
"""Requested, but a 403 is fine (see the module docstring)."""
REQUIRED_PERMISSIONS: frozenset[Permission] = OPERATIONS - OPTIONAL_PERMISSIONS
"""Every (resource, verb) the backend needs, in either mode: what its Role must grant."""
BY_NAME_VERBS = frozenset({"get", "patch"})
"""Verbs on the records objects that a Role may grant for their names only."""


def required_permissions(use_endpoints: bool) -> frozenset[Permission]:
    """The part of :data:`REQUIRED_PERMISSIONS` one mode uses."""
    unused = "configmaps" if use_endpoints else "endpoints"
    return frozenset(p for p in REQUIRED_PERMISSIONS if p[0] != unused)


def records_objects(scope: str, use_endpoints: bool) -> frozenset[str]:
    """The names of the objects holding a cluster's records (what resourceNames may list)."""
    layout = kr.Layout.of(scope, KubernetesSettings(use_endpoints=use_endpoints))
    return frozenset(layout.record_keys)
