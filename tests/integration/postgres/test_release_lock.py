"""The PostmasterActor's last word at a clean node stop: ReleaseLock.

A primary stopped cleanly with its node hands over the position of its
shutdown checkpoint (which the leader-lock actor keeps in the DCS status
record); anything else releases without a position, as before.
"""

from __future__ import annotations

import pytest

from actors.postgres.control import Postmaster
from actors.postgres.controldata import checkpoint_lsn, controldata
from messages.cluster import PgState, Role
from messages.dcs import ReleaseLock
from messages.postgres import PostgresStatus

from .actor_harness import running_actor
from .conftest import PgFactory, sql, upstream_of

pytestmark = pytest.mark.integration


def test_a_clean_stop_of_a_primary_releases_the_lock_at_its_shutdown_checkpoint(
    pg: PgFactory,
) -> None:
    primary = pg.bootstrap_primary("release-primary")
    with running_actor(primary.settings, primary.name) as (actor, inbox):
        inbox.wait(PostgresStatus, lambda s: s.role is Role.PRIMARY, 10, "a primary status")
        sql(primary.settings, "CREATE TABLE written_before_the_stop AS SELECT 1 AS one")
        actor.stop(timeout=60)  # the node shuts down
        released = inbox.wait(ReleaseLock, lambda m: True, 10, "ReleaseLock")
    control = controldata(primary.settings)
    assert control["Database cluster state"] == "shut down"
    assert released == ReleaseLock(optime=checkpoint_lsn(control), clean=True)


def test_a_replica_stopped_with_its_node_releases_cleanly_without_a_position(
    pg: PgFactory, primary: Postmaster
) -> None:
    replica = pg.clone(primary, "release-replica")
    with running_actor(replica.settings, replica.name) as (actor, inbox):
        assert replica.start(Role.REPLICA, upstream_of(primary), 30).ok
        inbox.wait(PostgresStatus, lambda s: s.state is PgState.RUNNING, 10, "RUNNING")
        actor.stop(timeout=60)
        released = inbox.wait(ReleaseLock, lambda m: True, 10, "ReleaseLock")
    # A replica that held the lock (not yet promoted) wrote nothing: a clean hand-over
    # keeping the position it published (the simulator's bug A, a planned stop's loss).
    assert released == ReleaseLock(clean=True)
