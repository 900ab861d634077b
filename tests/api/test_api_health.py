"""Every health check answers the right status code for every role, over real HTTP."""

from __future__ import annotations

import dataclasses
import time

import pytest
from api_harness import Api, StartApi
from cluster_states import (
    ARCHIVE_REPLICA,
    IDLE_REPLICA,
    LAGGING_REPLICA,
    NOLOADBALANCE_REPLICA,
    PAUSED_PRIMARY,
    PRIMARY,
    REPLICA,
    STOPPED,
    SYNC_REPLICA,
    UNLOCKED_PRIMARY,
)

from actors.api.health import answer
from actors.api.query import HealthQuery
from actors.api.snapshot import Snapshot
from messages.admin import NodeStatus
from messages.base import Lsn
from messages.config import DynamicConfig, SyncMode

ROLES: dict[str, NodeStatus | None] = {
    "primary": PRIMARY,
    "replica": REPLICA,
    "sync": SYNC_REPLICA,
    "stopped": STOPPED,
    "lagging": LAGGING_REPLICA,
    "unlocked": UNLOCKED_PRIMARY,
    "no_lb": NOLOADBALANCE_REPLICA,
    "no_status": None,
}

# endpoint -> expected code per role, in ROLES order:
#                                    pri  rep  sync stop lag  unlk nolb none
TABLE: dict[str, tuple[int, ...]] = {
    "/":                             (200, 503, 503, 503, 503, 503, 503, 503),
    "/primary":                      (200, 503, 503, 503, 503, 503, 503, 503),
    "/leader":                       (200, 503, 503, 503, 503, 503, 503, 503),
    "/master":                       (200, 503, 503, 503, 503, 503, 503, 503),
    "/read-write":                   (200, 503, 503, 503, 503, 503, 503, 503),
    "/primary?tag_nofailover=true":  (200, 503, 503, 503, 503, 503, 503, 503),
    "/replica":                      (503, 200, 200, 503, 200, 503, 503, 503),
    "/replica?lag=16MB":             (503, 200, 200, 503, 503, 503, 503, 503),
    "/replica?lag=100MB":            (503, 200, 200, 503, 200, 503, 503, 503),
    "/replica?lag=16777216":         (503, 200, 200, 503, 503, 503, 503, 503),
    "/replica?tag_nosync=false":     (503, 200, 200, 503, 200, 503, 503, 503),
    "/replica?tag_nosync=true":      (503, 503, 503, 503, 503, 503, 503, 503),
    "/replica?tag_unknown=x":        (503, 503, 503, 503, 503, 503, 503, 503),
    "/read-only":                    (200, 200, 200, 503, 200, 503, 503, 503),
    "/read-only?lag=16MB":           (200, 200, 200, 503, 503, 503, 503, 503),
    "/synchronous":                  (503, 503, 200, 503, 503, 503, 503, 503),
    "/sync":                         (503, 503, 200, 503, 503, 503, 503, 503),
    "/asynchronous":                 (503, 200, 503, 503, 200, 503, 503, 503),
    "/async":                        (503, 200, 503, 503, 200, 503, 503, 503),
    "/async?lag=16MB":               (503, 200, 503, 503, 503, 503, 503, 503),
    "/quorum":                       (503, 503, 503, 503, 503, 503, 503, 503),
    "/standby-leader":               (503, 503, 503, 503, 503, 503, 503, 503),
    "/health":                       (200, 200, 200, 503, 200, 200, 200, 503),
    "/liveness":                     (200, 200, 200, 200, 200, 200, 200, 200),
    "/readiness":                    (200, 200, 200, 503, 200, 503, 200, 503),
}  # fmt: skip


@pytest.mark.parametrize("role", list(ROLES))
def test_every_check_answers_its_code_for_each_role(start_api: StartApi, role: str) -> None:
    api = start_api()
    status = ROLES[role]
    if status is not None:
        api.push(status)
    column = list(ROLES).index(role)
    wrong = []
    for path, codes in TABLE.items():
        for method in ("GET", "HEAD", "OPTIONS"):
            got = api.request(method, path)
            if got.code != codes[column]:
                wrong.append(f"{method} {path}: {got.code}, expected {codes[column]}")
            if method == "HEAD" and got.body:
                wrong.append(f"HEAD {path} sent a body")
            if method != "HEAD" and got.json()["role"] != (
                status.role.value if status else "unknown"
            ):
                wrong.append(f"{method} {path}: body is not the member status")
    assert wrong == []


def test_a_lag_the_check_cannot_read_is_a_bad_request(api: Api) -> None:
    api.push(REPLICA)
    assert api.get("/replica?lag=16XB").code == 400
    assert api.get("/replica?lag=-5").code == 400


def test_liveness_fails_once_the_ha_loop_stops_pushing(start_api: StartApi) -> None:
    api = start_api(liveness_timeout_s=0.3)
    api.push(PRIMARY)
    assert api.get("/liveness").code == 200
    deadline = time.monotonic() + 10
    while api.get("/liveness").code == 200:
        assert time.monotonic() < deadline, "liveness never failed"
    api.push(PRIMARY)
    assert api.get("/liveness").code == 200


# -- the rules without HTTP ----------------------------------------------------------


def snapshot(status: NodeStatus | None, age_s: float, timeout_s: float = 30.0) -> Snapshot:
    return Snapshot(
        scope="demo",
        status=status,
        age_s=age_s,
        liveness_timeout_s=timeout_s,
        dcs_last_seen=None,
        wall_time=0.0,
    )


@pytest.mark.parametrize(
    ("status", "age_s", "code"),
    [
        (PRIMARY, 29.0, 200),
        (PRIMARY, 31.0, 503),
        (None, 10.0, 200),  # booting: the grace period counts from the API's start
        (None, 31.0, 503),
        (PAUSED_PRIMARY, 300.0, 200),  # paused: a stuck loop must not get the pod killed
    ],
)
def test_liveness_judges_the_age_of_the_last_status(
    status: NodeStatus | None, age_s: float, code: int
) -> None:
    assert answer("/liveness", snapshot(status, age_s), HealthQuery())[0] == code


def test_an_unknown_lag_passes_a_lag_check() -> None:
    unknown = dataclasses.replace(REPLICA, replay_lsn=None, receive_lsn=None, wal_position=Lsn(0))
    assert answer("/replica", snapshot(unknown, 0), HealthQuery(max_lag_bytes=1))[0] == 200


# endpoint -> code for a replica that streams, restores from the archive, replays nothing;
# and for the sync standby that replays nothing:
#                      strm arch idle sync-idle
REPLAY_TABLE: dict[str, tuple[int, ...]] = {
    "/replica":        (200, 200, 503, 503),
    "/replica?lag=1GB":(200, 200, 503, 503),
    "/read-only":      (200, 200, 503, 503),
    "/asynchronous":   (200, 200, 503, 503),
    "/synchronous":    (503, 503, 503, 503),
    "/health":         (200, 200, 200, 200),
    "/readiness":      (200, 503, 503, 503),
    "/liveness":       (200, 200, 200, 200),
}  # fmt: skip
REPLAY_STATES = (
    REPLICA,
    ARCHIVE_REPLICA,
    IDLE_REPLICA,
    dataclasses.replace(SYNC_REPLICA, replication_state=None),
)


@pytest.mark.parametrize("path", list(REPLAY_TABLE))
def test_a_replica_serves_reads_only_while_it_replays(path: str) -> None:
    query = HealthQuery(max_lag_bytes=1 << 30) if "lag=" in path else HealthQuery()
    check = path.partition("?")[0]
    got = tuple(answer(check, snapshot(s, 0), query)[0] for s in REPLAY_STATES)
    assert got == REPLAY_TABLE[path]


def test_the_sync_check_needs_a_replaying_sync_standby() -> None:
    assert answer("/synchronous", snapshot(SYNC_REPLICA, 0), HealthQuery())[0] == 200


def test_a_sync_standby_counts_for_the_quorum_only_in_quorum_mode(start_api: StartApi) -> None:
    api = start_api()
    config = DynamicConfig(synchronous_mode=SyncMode.QUORUM)
    cluster = dataclasses.replace(SYNC_REPLICA.cluster, config=config)
    api.push(dataclasses.replace(SYNC_REPLICA, cluster=cluster))
    assert api.request("GET", "/quorum").code == 200
    api.push(dataclasses.replace(REPLICA, cluster=cluster))
    assert api.request("GET", "/quorum").code == 503


def test_a_replica_whose_data_directory_cannot_be_read_serves_no_reads() -> None:
    """It may still claim to stream a moment: the unreadable directory decides."""
    broken = dataclasses.replace(REPLICA, data_dir_error="cannot read global/pg_control")
    assert answer("/replica", snapshot(broken, 0), HealthQuery())[0] == 503
    assert answer("/replica", snapshot(REPLICA, 0), HealthQuery())[0] == 200
