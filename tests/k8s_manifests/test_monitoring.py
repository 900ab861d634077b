"""k8s/overlays/monitoring: the default deployment plus pgactor's alerts as a PrometheusRule.

Every object but the PrometheusRule is the default overlay's, unchanged, so the
checks test_manifests.py and test_rbac.py make of that overlay hold for this
one too; the PrometheusRule is checked against the fields the Prometheus
Operator's CRD (monitoring.coreos.com/v1) defines, strictly: the CRD prunes an
unknown field silently, so a misspelt ``annotations`` would deploy as nothing.
Its rule groups are the plain rules file's (tests/metrics/test_dashboard_names.py
checks what they read and, with promtool, when they fire).
"""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils as kv_utils
from kustomized import DEFAULT_OVERLAY, K8S, Doc, kustomization, objects, one, render

OVERLAY = K8S / "overlays" / "monitoring"
PLAIN_RULES = K8S / "monitoring" / "pgactor-alerts.yaml"
_DURATION = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expr"],
    "properties": {
        "alert": {"type": "string"},
        "record": {"type": "string"},
        "expr": {"type": ["string", "integer"]},
        "for": {"type": "string", "pattern": _DURATION},
        "keep_firing_for": {"type": "string", "pattern": _DURATION},
        "labels": _STRINGS,
        "annotations": _STRINGS,
    },
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
}
PROMETHEUS_RULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "namespace": {"type": "string"},
                "labels": _STRINGS,
                "annotations": _STRINGS,
            },
            "additionalProperties": False,
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": {"type": "string", "pattern": _DURATION},
                            "query_offset": {"type": "string", "pattern": _DURATION},
                            "limit": {"type": "integer"},
                            "partial_response_strategy": {"type": "string"},
                            "labels": _STRINGS,
                            "rules": {"type": "array", "items": _RULE},
                        },
                    },
                }
            },
        },
    },
}
"""The fields of the Prometheus Operator's PrometheusRule CRD (v1) that a rule uses."""


def prometheus_rule() -> Doc:
    return one(render(OVERLAY), "PrometheusRule")


def test_the_overlay_is_the_default_deployment_and_one_prometheus_rule() -> None:
    assert kustomization(OVERLAY)["resources"] == [f"../{DEFAULT_OVERLAY}", "prometheusrule.yaml"]
    rest = [d for d in render(OVERLAY) if d["kind"] != "PrometheusRule"]
    assert rest == objects(DEFAULT_OVERLAY)
    assert prometheus_rule()["metadata"]["labels"]["app.kubernetes.io/name"] == "pgactor"


def test_the_deployment_objects_pass_strict_validation() -> None:
    newest = max(kv_utils.all_versions(), key=lambda v: tuple(int(x) for x in v.split(".")))
    for doc in render(OVERLAY):
        if doc["kind"] != "PrometheusRule":
            kubernetes_validate.validate(doc, newest, strict=True)


def test_the_prometheus_rule_has_only_fields_its_crd_defines() -> None:
    jsonschema.validate(prometheus_rule(), PROMETHEUS_RULE_SCHEMA)


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("spec", "groups", 0, "rules", 0), {"anotations": {}}),
        (("spec", "groups", 0, "rules", 0), {"for": "1 minute"}),
        (("spec", "groups", 0), {"rule": []}),
    ],
)
def test_the_crd_check_would_catch_a_misspelt_field(path: tuple[Any, ...], bad: Doc) -> None:
    doc = prometheus_rule()
    node: Any = doc
    for key in path:
        node = node[key]
    node.update(bad)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, PROMETHEUS_RULE_SCHEMA)


def test_the_prometheus_rule_holds_the_plain_rules_file() -> None:
    assert prometheus_rule()["spec"] == yaml.safe_load(PLAIN_RULES.read_text())
