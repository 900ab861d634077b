"""Secure by default: with no credentials configured, actions are refused; reading stays open.

Patroni serves every action to whoever reaches the port when
``restapi.authentication`` is unset.  pgactor refuses them with 401 unless the
operator opts out with ``restapi.allow_unauthenticated_actions: true``, which
the API announces with a WARNING when it starts.
"""

from __future__ import annotations

import logging

import pytest
from api_harness import StartApi
from cluster_states import PRIMARY

from actors.api.auth import ACTION_METHODS
from actors.api.routes import ROUTES
from messages.config import RestApiSettings

OPEN = RestApiSettings(listen_port=0)
"""What a config without ``restapi.authentication`` gives: the defaults."""
OPTED_OUT = RestApiSettings(listen_port=0, allow_unauthenticated_actions=True)

ACTIONS = sorted((m, p) for p, methods in ROUTES.items() for m in methods if m in ACTION_METHODS)
READS = ("/health", "/liveness", "/readiness", "/primary", "/replica", "/patroni", "/cluster")


def test_the_default_settings_refuse_unauthenticated_actions() -> None:
    assert RestApiSettings().allow_unauthenticated_actions is False


@pytest.mark.parametrize(("method", "path"), ACTIONS)
def test_without_credentials_configured_every_action_is_refused_with_401(
    start_api: StartApi, method: str, path: str
) -> None:
    api = start_api(OPEN)
    api.push(PRIMARY)
    for auth in (None, ("admin", "admin"), ("", "")):
        reply = api.request(method, path, "{}", auth=auth)
        assert reply.code == 401, (auth, reply.text)
        assert "restapi.authentication" in reply.text
        assert reply.headers["WWW-Authenticate"].startswith("Basic")
    assert api.ha_received() == []


def test_without_credentials_configured_reading_stays_open(start_api: StartApi) -> None:
    api = start_api(OPEN)
    api.push(PRIMARY)
    codes = {path: api.request("GET", path, auth=None).code for path in (*READS, "/config")}
    assert 401 not in codes.values(), codes
    assert codes["/health"] == codes["/primary"] == codes["/patroni"] == 200


def test_an_explicit_opt_out_serves_actions_and_warns_at_start(
    start_api: StartApi, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        api = start_api(OPTED_OUT)
    api.push(PRIMARY)
    reply = api.request("POST", "/switchover", {"leader": "pg1", "candidate": "pg2"}, auth=None)
    assert reply.code == 200
    assert len(api.ha_received()) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("allow_unauthenticated_actions" in r.getMessage() for r in warnings)


def test_a_closed_api_says_at_start_that_actions_are_refused(
    start_api: StartApi, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        start_api(OPEN)
    assert "every action is refused with 401" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_configured_credentials_win_over_the_opt_out(start_api: StartApi) -> None:
    both = RestApiSettings(
        listen_port=0, username="admin", password="s3cret", allow_unauthenticated_actions=True
    )
    api = start_api(both)
    api.push(PRIMARY)
    assert api.request("POST", "/reload", auth=None).code == 401
    assert api.request("POST", "/reload", auth=("admin", "s3cret")).code == 202
