"""Each overlay's Role grants exactly what pgactor's Kubernetes backend requests in
that overlay's mode, limited to the records objects by name where Kubernetes can.

The backend's lists are in actors/leader_lock/k8s_permissions.py;
tests/e2e/test_kubernetes.py checks the same Roles, names included, against the
requests three real nodes make.
"""

from __future__ import annotations

import pytest
import yaml
from kustomized import OVERLAYS, SECRET, Doc, config_text, objects, one, pod_env

from actors.leader_lock.k8s_permissions import (
    BY_NAME_VERBS,
    OPTIONAL_PERMISSIONS,
    REQUIRED_PERMISSIONS,
    records_objects,
    required_permissions,
)
from node.config.loader import parse_config

OVERLAY_NAMES = sorted(OVERLAYS)
UNNAMEABLE_VERBS = frozenset({"create", "list", "watch", "deletecollection"})
"""RBAC cannot limit these by resourceNames (a create's URL names no object; lists
and watches select by label), so a rule naming objects must not hold them."""


def rules(overlay: str) -> list[Doc]:
    return list(one(objects(overlay), "Role")["rules"])


def granted(rule_list: list[Doc]) -> set[tuple[str, str]]:
    permissions = set()
    for rule in rule_list:
        assert rule["apiGroups"] == [""], "only core/v1 objects"
        assert "nonResourceURLs" not in rule
        permissions |= {(r, v) for r in rule["resources"] for v in rule["verbs"]}
    return permissions


def scope(overlay: str) -> str:
    docs = objects(overlay)
    return str(parse_config(yaml.safe_load(config_text(docs)), pod_env(docs, SECRET)).scope)


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_the_role_grants_exactly_what_the_backend_requests_in_the_overlays_mode(
    overlay: str,
) -> None:
    needed = required_permissions(OVERLAYS[overlay])
    have = granted(rules(overlay))
    assert have == needed, (
        f"missing: {sorted(needed - have)}, more than needed: {sorted(have - needed)}"
    )
    assert have <= REQUIRED_PERMISSIONS


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_no_role_lets_pgactor_create_services_or_update_or_delete_anything(overlay: str) -> None:
    have = granted(rules(overlay))
    assert not have & OPTIONAL_PERMISSIONS, "the manifests ship the Services"
    assert not {verb for _, verb in have} & {"update", "delete", "deletecollection", "*"}
    assert not {resource for resource, _ in have} & {"secrets", "services", "*"}


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_the_records_objects_are_granted_by_name_where_kubernetes_allows_it(overlay: str) -> None:
    kind = "endpoints" if OVERLAYS[overlay] else "configmaps"
    names = records_objects(scope(overlay), OVERLAYS[overlay])
    named = [r for r in rules(overlay) if "resourceNames" in r]
    assert named, "no rule limited to names"
    for rule in named:
        assert rule["resources"] == [kind]
        assert set(rule["resourceNames"]) == names
        assert not set(rule["verbs"]) & UNNAMEABLE_VERBS, "RBAC ignores names for these"
    unnamed_records = {
        v
        for r in rules(overlay)
        if kind in r["resources"] and "resourceNames" not in r
        for v in r["verbs"]
    }
    assert unnamed_records == set(UNNAMEABLE_VERBS - {"deletecollection"}), (
        "only what cannot be named goes unnamed"
    )
    assert {v for r in named for v in r["verbs"]} == BY_NAME_VERBS


@pytest.mark.parametrize("overlay", OVERLAY_NAMES)
def test_the_config_the_members_load_is_out_of_their_reach(overlay: str) -> None:
    # Granted by name only, so a member cannot rewrite pgactor-node or pgactor-dcs.
    config_maps = {d["metadata"]["name"] for d in objects(overlay) if d["kind"] == "ConfigMap"}
    for rule in rules(overlay):
        if "configmaps" in rule["resources"] and {"patch", "update"} & set(rule["verbs"]):
            assert not config_maps & set(rule.get("resourceNames", config_maps))
