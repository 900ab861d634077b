"""Patroni's label options in the ``kubernetes`` section: accepted, checked, carried.

``leader_label_value``, ``follower_label_value``, ``standby_leader_label_value``
and ``tmp_role_label`` were refused as Patroni-only; the Kubernetes backend now
uses them (tests/integration/dcs/test_kubernetes_patroni_fields.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from messages.config import KubernetesSettings
from node.config import ConfigError, parse_config

OPTIONS = {
    "leader_label_value": "master",
    "follower_label_value": "standby",
    "standby_leader_label_value": "standby-leader",
    "tmp_role_label": "example.com/tmp-role",
}


def on_kubernetes(data: dict[str, Any], section: dict[str, Any]) -> dict[str, Any]:
    del data["etcd3"]
    data["kubernetes"] = section
    return data


def test_the_label_options_are_accepted(patroni_style: dict[str, Any]) -> None:
    config = parse_config(on_kubernetes(patroni_style, dict(OPTIONS)), env={})
    assert isinstance(config.dcs, KubernetesSettings)


def test_the_label_options_reach_the_kubernetes_settings(patroni_style: dict[str, Any]) -> None:
    config = parse_config(on_kubernetes(patroni_style, dict(OPTIONS)), env={})
    assert config.dcs == KubernetesSettings(**OPTIONS)


def test_the_defaults_are_patroni_4s() -> None:
    settings = KubernetesSettings()
    assert (settings.role_label, settings.leader_label_value) == ("role", "primary")
    assert (settings.follower_label_value, settings.standby_leader_label_value) == (
        "replica",
        "primary",
    )
    assert settings.tmp_role_label is None


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (
            {"leader_label_value": "replica"},
            "leader_label_value and follower_label_value must differ",
        ),
        (
            {"standby_leader_label_value": "x", "follower_label_value": "x"},
            "standby_leader_label_value and follower_label_value must differ",
        ),
        ({"tmp_role_label": "role"}, "tmp_role_label must differ from role_label"),
        ({"leader_label_value": "the primary"}, "kubernetes.leader_label_value"),
        ({"follower_label_value": "-replica"}, "kubernetes.follower_label_value"),
        ({"tmp_role_label": "a/b/c"}, "kubernetes.tmp_role_label"),
        ({"leader_label_value": "x" * 64}, "kubernetes.leader_label_value"),
    ],
)
def test_label_options_that_could_mislead_a_service_are_refused(
    patroni_style: dict[str, Any], section: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(on_kubernetes(patroni_style, section), env={})
    assert problem in "\n".join(caught.value.problems)
