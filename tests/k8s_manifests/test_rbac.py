"""Each overlay's Role grants exactly what pgactor's Kubernetes backend requests in
that overlay's mode, and nothing more.

The backend's list of (resource, verb) pairs is REQUIRED_PERMISSIONS and
required_permissions(use_endpoints) in actors/leader_lock/kubernetes.py;
tests/e2e/test_kubernetes.py checks the same Roles against the requests three
real nodes make.
"""

from __future__ import annotations

import pytest
from kustomized import OVERLAYS, Doc, objects, one

from actors.leader_lock.kubernetes import REQUIRED_PERMISSIONS, required_permissions

OVERLAY_NAMES = sorted(OVERLAYS)


def granted(rules: list[Doc]) -> set[tuple[str, str]]:
    permissions = set()
    for rule in rules:
        assert rule["apiGroups"] == [""], "only core/v1 objects"
        assert "nonResourceURLs" not in rule
        permissions |= {(r, v) for r in rule["resources"] for v in rule["verbs"]}
    return permissions


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_the_role_grants_exactly_what_the_backend_requests_in_the_overlays_mode(
    overlay: str,
) -> None:
    needed = required_permissions(OVERLAYS[overlay])
    have = granted(one(objects(overlay), "Role")["rules"])
    assert have == needed, (
        f"missing: {sorted(needed - have)}, more than needed: {sorted(have - needed)}"
    )
    assert have <= REQUIRED_PERMISSIONS
