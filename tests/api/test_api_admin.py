"""Switchover, failover and their cancellation: validated at the edge, then asked of HA."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from api_harness import Api, StartApi, switched
from cluster_states import CLUSTER, PG1, PG2, PG3, PRIMARY, REPLICA

from actors.api.auth import ACTION_METHODS
from actors.api.routes import ROUTES
from messages.admin import AdminReply, CancelSwitchover, SwitchoverRequest
from messages.cluster import FailoverRequest
from messages.config import RestApiSettings
from messages.dcs import ConfigOutcome


def iso(seconds_from_now: float, *, zone: bool = True) -> str:
    at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds_from_now)
    return at.isoformat() if zone else at.replace(tzinfo=None).isoformat()


@pytest.fixture
def api(start_api: StartApi) -> Api:
    api = start_api()
    api.push(REPLICA)
    return api


def test_a_switchover_from_the_leader_to_a_sync_standby_reaches_ha(api: Api) -> None:
    """Answered as Patroni does, once the leader changed: a script may act on the 200."""
    reply = api.request("POST", "/switchover", {"leader": "pg1", "candidate": "pg2"})
    assert (reply.code, reply.text) == (200, 'Successfully switched over to "pg2"\n')
    assert api.ha_received() == [SwitchoverRequest(leader=PG1, candidate=PG2)]


def test_a_switchover_to_another_member_than_asked_says_so(start_api: StartApi) -> None:
    api = start_api(carry=lambda request: (switched(PG3),))
    api.push(REPLICA)
    reply = api.request("POST", "/switchover", {"leader": "pg1", "candidate": "pg2"})
    assert (reply.code, reply.text) == (200, 'Switched over to "pg3" instead of "pg2"\n')


def test_a_switchover_the_leader_dropped_is_answered_as_failed(start_api: StartApi) -> None:
    """Seen in the cluster view, then gone with the leader unchanged: it will not happen.
    Both statuses come at once, before the answer waits: neither may be missed."""
    pending = FailoverRequest(leader=PG1, candidate=PG2)
    asked = dataclasses.replace(REPLICA, cluster=dataclasses.replace(CLUSTER, failover=pending))
    api = start_api(carry=lambda request: (asked, REPLICA))
    api.push(REPLICA)
    reply = api.request("POST", "/switchover", {"leader": "pg1", "candidate": "pg2"})
    assert (reply.code, reply.text) == (503, "Switchover failed\n")


def test_a_switchover_with_no_outcome_in_time_is_answered_as_unknown(
    start_api: StartApi,
) -> None:
    api = start_api(carry=lambda request: (), outcome_wait_s=0.3)
    api.push(REPLICA)
    reply = api.request("POST", "/switchover", {"leader": "pg1", "candidate": "pg2"})
    assert (reply.code, reply.text) == (503, "Switchover status unknown\n")
    assert len(api.ha_received()) == 1


def test_a_switchover_without_a_candidate_is_allowed(api: Api) -> None:
    assert api.request("POST", "/switchover", {"leader": "pg1"}).code == 200
    assert api.ha_received() == [SwitchoverRequest(leader=PG1)]


def test_a_scheduled_switchover_is_accepted_with_202_and_an_epoch(api: Api) -> None:
    reply = api.request("POST", "/switchover", {"leader": "pg1", "scheduled_at": iso(3600)})
    assert reply.code == 202
    (request,) = api.ha_received()
    assert isinstance(request, SwitchoverRequest)
    assert request.scheduled_at is not None
    assert abs(request.scheduled_at - (datetime.datetime.now().timestamp() + 3600)) < 60


def test_a_failover_needs_only_a_candidate(api: Api) -> None:
    reply = api.request("POST", "/failover", {"candidate": "pg2"})
    assert (reply.code, reply.text) == (200, 'Successfully failed over to "pg2"\n')
    assert api.ha_received() == [SwitchoverRequest(candidate=PG2)]


@pytest.mark.parametrize(
    ("path", "body", "code", "reason"),
    [
        ("/switchover", {"candidate": "pg2"}, 400, "only from a specific leader"),
        ("/switchover", {"leader": "pg2", "candidate": "pg3"}, 412, "leader name does not match"),
        ("/switchover", {"leader": "pg1", "candidate": "pgX"}, 412, "not a member"),
        ("/switchover", {"leader": "pg1", "candidate": "pg1"}, 412, "already the leader"),
        ("/switchover", {"leader": "pg1", "candidate": "pg3"}, 412, "sync_standby"),
        ("/switchover", {"leader": "pg1", "scheduled_at": iso(-60)}, 400, "in the past"),
        ("/switchover", {"leader": "pg1", "scheduled_at": iso(60, zone=False)}, 400, "Timezone"),
        ("/switchover", {"leader": "pg1", "scheduled_at": "next tuesday"}, 400, "Unable to parse"),
        ("/switchover", {"leader": 1}, 400, "must be a string"),
        ("/switchover", {"leader": "pg1", "force": True}, 400, "unknown field"),
        ("/switchover", "[1, 2]", 400, "JSON object"),
        ("/switchover", "{not json", 400, "not valid JSON"),
        ("/switchover", b"\xff\xfe", 400, "not valid JSON"),
        ("/switchover", "", 400, "not valid JSON"),
        ("/failover", {"leader": None}, 400, "specific candidate"),
        ("/failover", {"candidate": "pg2", "scheduled_at": iso(60)}, 400, "can't be scheduled"),
        ("/failover", {"candidate": "pg1"}, 412, "already the leader"),
    ],
)
def test_a_request_that_cannot_succeed_never_reaches_ha(
    api: Api, path: str, body: object, code: int, reason: str
) -> None:
    reply = api.request("POST", path, body)  # type: ignore[arg-type]
    assert reply.code == code
    assert reason in reply.text
    assert api.ha_received() == []


def test_a_failover_naming_a_leader_is_treated_as_a_switchover(api: Api) -> None:
    # Patroni's rule: then the sync-standby precondition of a switchover applies too
    reply = api.request("POST", "/failover", {"leader": "pg1", "candidate": "pg3"})
    assert (reply.code, "sync_standby" in reply.text) == (412, True)


def test_ha_refusing_is_a_precondition_failure(start_api: StartApi) -> None:
    api = start_api(ha_reply=AdminReply(ok=False, detail="pg2 is not healthy"))
    api.push(PRIMARY)
    reply = api.request("POST", "/switchover", {"leader": "pg1", "candidate": "pg2"})
    assert (reply.code, reply.text) == (412, "pg2 is not healthy\n")


def test_ha_not_running_or_not_answering_is_unavailable(start_api: StartApi) -> None:
    silent = start_api(ha_reply=None)
    silent.push(PRIMARY)
    assert silent.request("POST", "/switchover", {"leader": "pg1"}).code == 503
    assert silent.request("DELETE", "/switchover").code == 503


def test_no_ha_actor_at_all_is_unavailable(start_api: StartApi) -> None:
    api = start_api(with_ha=False)
    api.push(PRIMARY)
    reply = api.request("POST", "/switchover", {"leader": "pg1"})
    assert (reply.code, reply.text) == (503, "the HA actor is not running\n")


def test_an_action_before_the_first_status_is_unavailable(start_api: StartApi) -> None:
    api = start_api()
    assert api.request("POST", "/switchover", {"leader": "pg1"}).code == 503


def test_delete_cancels_a_scheduled_switchover(api: Api) -> None:
    assert api.request("DELETE", "/switchover").code == 200
    assert api.ha_received() == [CancelSwitchover()]


def test_cancelling_when_nothing_is_scheduled_is_not_found_as_in_patroni(
    start_api: StartApi,
) -> None:
    api = start_api(ha_reply=AdminReply(ok=False, detail="no switchover is scheduled"))
    reply = api.request("DELETE", "/switchover")
    assert (reply.code, reply.text) == (404, "no switchover is scheduled\n")


# -- authentication ------------------------------------------------------------------

SECURED = RestApiSettings(listen_port=0, username="admin", password="s3cret")


ACTIONS: dict[tuple[str, str], dict[str, object] | None] = {
    ("POST", "/switchover"): {"leader": "pg1", "candidate": "pg2"},
    ("POST", "/failover"): {"leader": "pg1", "candidate": "pg2"},
    ("DELETE", "/switchover"): None,
    ("POST", "/restart"): {"role": "primary"},
    ("POST", "/reload"): None,
    ("POST", "/reinitialize"): None,
    ("PATCH", "/config"): {"pause": True},
    ("PUT", "/config"): {"ttl": 20, "loop_wait": 5, "retry_timeout": 5},
}


def test_every_action_route_is_in_the_credentials_test() -> None:
    actions = {(m, p) for p, methods in ROUTES.items() for m in methods if m in ACTION_METHODS}
    assert actions == set(ACTIONS)


@pytest.mark.parametrize(("method", "path"), sorted(ACTIONS))
def test_actions_require_the_configured_credentials(
    start_api: StartApi, method: str, path: str
) -> None:
    api = start_api(SECURED)
    api.push(PRIMARY)
    body = ACTIONS[(method, path)]
    for auth in (None, ("admin", "wrong"), ("admin2", "s3cret"), ("", "")):
        reply = api.request(method, path, body, auth=auth)
        assert reply.code == 401, auth
        assert reply.headers["WWW-Authenticate"].startswith("Basic")
    broken = api.request(method, path, body, headers={"Authorization": "Basic ***not-base64"})
    assert broken.code == 401
    assert api.ha_received() == []
    assert api.request(method, path, body, auth=("admin", "s3cret")).code in (200, 202)
    assert len(api.ha_received()) == 1


def test_reading_needs_no_credentials(start_api: StartApi) -> None:
    api = start_api(SECURED)
    api.push(PRIMARY)
    assert [api.get(p).code for p in ("/primary", "/patroni", "/cluster")] == [200, 200, 200]


@pytest.mark.parametrize("outcome", [ConfigOutcome.UNKNOWN, None])
def test_a_switchover_the_dcs_did_not_store_is_not_answered_as_accepted(
    start_api: StartApi, outcome: ConfigOutcome | None
) -> None:
    """The HA core accepting it is not its being stored: a scheduled switchover accepted
    while etcd was already down was once answered 202, and then stored nowhere."""
    api = start_api(config_outcome=outcome, config_timeout_s=0.5)
    api.push(REPLICA)
    reply = api.request("POST", "/switchover", {"leader": "pg1", "scheduled_at": iso(3600)})
    assert reply.code == 503
    assert len(api.ha_received()) == 1
