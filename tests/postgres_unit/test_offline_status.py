"""A stopped server's status from pg_controldata: how far its data provably went."""

from __future__ import annotations

from actors.postgres.status import offline_status
from messages.base import Lsn
from messages.cluster import PgState, Role

REPLICA = {
    "Database cluster state": "shut down in recovery",
    "Latest checkpoint location": "0/4000060",
    "Latest checkpoint's TimeLineID": "1",
    "Minimum recovery ending location": "0/5022D40",
    "Min recovery ending loc's timeline": "1",
}


def test_a_stopped_replica_reached_its_minimum_recovery_point() -> None:
    status = offline_status(PgState.STOPPED, REPLICA, data_dir_empty=False)
    assert (status.shutdown_role, status.timeline) == (Role.REPLICA, 1)
    assert (status.wal_position, status.checkpoint_lsn) == (Lsn(0x5022D40), Lsn(0x4000060))


def test_the_minimum_recovery_points_timeline_counts_when_newer() -> None:
    control = {**REPLICA, "Min recovery ending loc's timeline": "2"}
    assert offline_status(PgState.STOPPED, control, data_dir_empty=False).timeline == 2


def test_a_stopped_primary_reached_its_checkpoint() -> None:
    control = {
        "Database cluster state": "shut down",
        "Latest checkpoint location": "0/4000060",
        "Latest checkpoint's TimeLineID": "3",
        "Minimum recovery ending location": "0/0",
        "Min recovery ending loc's timeline": "0",
    }
    status = offline_status(PgState.STOPPED, control, data_dir_empty=False)
    assert (status.shutdown_role, status.timeline, status.wal_position) == (
        Role.PRIMARY,
        3,
        Lsn(0x4000060),
    )


def test_only_a_shut_down_state_is_a_clean_stop() -> None:
    """After an immediate stop or a crash the WAL may run past the last checkpoint."""
    clean = {"Database cluster state": "shut down", "Latest checkpoint location": "0/40"}
    crashed = {**clean, "Database cluster state": "in production"}
    assert offline_status(PgState.STOPPED, clean, data_dir_empty=False).shut_down_cleanly
    assert offline_status(PgState.STOPPED, REPLICA, data_dir_empty=False).shut_down_cleanly
    assert not offline_status(PgState.CRASHED, crashed, data_dir_empty=False).shut_down_cleanly
