"""schemathesis over /openapi.json against the live server: no 5xx, every answer as documented.

The server runs with basic auth, a fake HA actor that accepts everything
(and stores config edits) and a real MetricsActor, after a status was
pushed: every operation can then answer its success codes, and a 5xx can
only mean a bug -- except a health check's 503, which is its documented
"the condition does not hold" (the member is a primary: /replica says 503).
Each operation gets a bounded number of generated cases, valid ones
(positive) and, where the schema allows, invalid ones (negative).
"""

from __future__ import annotations

import base64
import time

import pytest
import schemathesis
from api_harness import Api, StartApi
from cluster_states import PRIMARY
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import content_type_conformance
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from actors.api.health import CHECKS as HEALTH_CHECKS
from actors.metrics import MetricsActor
from messages.base import ActorName
from messages.config import RestApiSettings


def no_server_error(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """No 5xx at all, but for a health check's documented 503."""
    code = response.status_code
    if code == 503 and case.operation.path in HEALTH_CHECKS:
        return
    assert code < 500, f"{case.method} {case.path} answered {code}: {response.text[:200]!r}"


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 10, schemathesis.GenerationMode.NEGATIVE: 5}
BUDGET_S = 60.0
AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:s3cret").decode()}


@pytest.fixture
def live(start_api: StartApi) -> Api:
    api = start_api(RestApiSettings(listen_port=0, username="admin", password="s3cret"))
    MetricsActor.start(name=ActorName("metrics"), runtime=api.runtime, scope="demo", member="pg1")
    api.push(PRIMARY)
    return api


def test_every_operation_answers_as_documented(live: Api) -> None:
    base_url = f"http://127.0.0.1:{live.port}"
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 60  # every check path three times (GET, HEAD, OPTIONS), actions...
    started, ran = time.monotonic(), 0
    for operation in operations:
        for mode, examples in MAX_EXAMPLES.items():
            if mode is schemathesis.GenerationMode.NEGATIVE and not _can_be_invalid(operation):
                continue

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=base_url, headers=AUTH, checks=CHECKS, timeout=10)

            call()
            ran += 1
    assert ran > len(operations)
    assert time.monotonic() - started < BUDGET_S
    assert live.ref.is_alive()


def _can_be_invalid(operation: schemathesis.APIOperation) -> bool:
    """Whether a negative case exists: a parameter or a body whose schema something violates."""
    definition = operation.definition.raw
    return bool(definition.get("parameters") or definition.get("requestBody"))
