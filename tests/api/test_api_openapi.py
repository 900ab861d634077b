"""/openapi.json: every route documented, and every body the views render fits its schema."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from api_harness import Api
from cluster_states import (
    LAGGING_REPLICA,
    NOLOADBALANCE_REPLICA,
    PAUSED_PRIMARY,
    PRIMARY,
    REPLICA,
    SCHEDULED,
    STOPPED,
    SYNC_REPLICA,
    UNLOCKED_PRIMARY,
)

from actors.api.config_json import config_to_json
from actors.api.openapi import OPERATIONS, document
from actors.api.routes import ROUTES
from actors.api.snapshot import Snapshot
from actors.api.views import cluster_json, history_json, member_json
from messages.admin import NodeStatus

STATUSES = [
    PRIMARY,
    REPLICA,
    SYNC_REPLICA,
    LAGGING_REPLICA,
    STOPPED,
    UNLOCKED_PRIMARY,
    NOLOADBALANCE_REPLICA,
    PAUSED_PRIMARY,
    SCHEDULED,
]
DOC = document(ROUTES)


def validator(name: str) -> jsonschema.Validator:
    # the response schemas use nothing beyond draft 4 (OpenAPI 3.0's dialect)
    root = {"$ref": f"#/components/schemas/{name}", "components": DOC["components"]}
    return jsonschema.Draft4Validator(root)


def test_the_document_is_served(api: Api) -> None:
    reply = api.get("/openapi.json")
    assert reply.code == 200
    assert reply.json() == DOC
    assert DOC["openapi"].startswith("3.0")


def test_every_route_and_method_is_documented_and_nothing_else() -> None:
    for path, methods in ROUTES.items():
        derived = {"options"} | ({"head"} if "GET" in methods else set())
        assert set(DOC["paths"][path]) == {m.lower() for m in methods} | derived, path
    assert set(DOC["paths"]) == set(ROUTES)
    assert {key for key in OPERATIONS} == {(p, m) for p, ms in ROUTES.items() for m in ms}


def test_actions_document_the_auth_refusals_and_reads_do_not() -> None:
    for path, item in DOC["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            is_action = method in ("post", "put", "patch", "delete")
            assert ({"401", "403"} <= codes) == is_action, (method, path)
            assert not any(code.startswith("5") and code != "503" for code in codes)


@pytest.mark.parametrize("status", STATUSES, ids=lambda s: f"{s.name}-{s.role.value}")
def test_every_body_the_views_render_fits_its_schema(status: NodeStatus) -> None:
    snap = Snapshot(
        scope="demo",
        status=status,
        age_s=0,
        liveness_timeout_s=30,
        dcs_last_seen=1700000000,
        wall_time=1700000000.0,
    )
    bodies: list[tuple[str, Any]] = [
        ("MemberStatus", member_json(snap)),
        ("Cluster", cluster_json(status)),
        ("History", history_json(status)),
    ]
    if status.cluster.config is not None:
        bodies.append(("Config", config_to_json(status.cluster.config)))
    for name, body in bodies:
        validator(name).validate(body)


def test_the_body_before_any_status_fits_too() -> None:
    snap = Snapshot(
        scope="demo", status=None, age_s=0, liveness_timeout_s=30, dcs_last_seen=None, wall_time=0
    )
    validator("MemberStatus").validate(member_json(snap))
