"""Promotion, pg_rewind of a diverged former primary, and a clean switchover back.

One cluster of its own (it changes roles): a primary and two replicas.  The
second replica first cascades from the first, so that the write the old
primary makes after the promotion (a split brain, on purpose) reaches no one.
"""

from __future__ import annotations

import pytest

from actors.postgres.bootstrap import create_replica, rewind
from actors.postgres.control import Postmaster
from actors.postgres.rewind import check_rewind_needed
from messages.cluster import Role
from messages.config import StopMode

from .conftest import PgFactory, sql, try_sql, upstream_of, wait_for

pytestmark = pytest.mark.integration


def _rows(pm: Postmaster) -> list[str] | None:
    rows = try_sql(pm.settings, "SELECT v FROM history ORDER BY v")
    return None if rows is None else [r[0] for r in rows]


def _wait_rows(pm: Postmaster, expected: list[str]) -> None:
    wait_for(lambda: _rows(pm) == expected, 15, f"{expected} on {pm.name}")


def _replica(pg: PgFactory, name: str, source: Postmaster) -> Postmaster:
    settings = pg.settings(name)
    made = create_replica(settings, [upstream_of(source)], name=name, scope="itest")
    assert made.ok, made.detail
    pm = pg.postmaster(settings, name)
    started = pm.start(Role.REPLICA, upstream_of(source), 30)
    assert started.ok, started.detail
    return pm


def _streams_from(pm: Postmaster, source: Postmaster) -> bool:
    return pm.status().streaming_from == f"127.0.0.1:{source.settings.listen_port}"


def test_promote_rewind_and_switch_back(pg: PgFactory) -> None:
    old = pg.bootstrap_primary("fo-primary")
    new = _replica(pg, "fo-replica-1", old)
    other = _replica(pg, "fo-replica-2", old)
    sql(old.settings, "CREATE TABLE history (v text)")
    sql(old.settings, "INSERT INTO history VALUES ('1 before the switch')")
    for replica in (new, other):
        _wait_rows(replica, ["1 before the switch"])

    followed = other.follow(upstream_of(new), 10)  # cascade: a running replica only reloads
    assert followed.ok and "reloaded" in followed.detail, followed.detail
    wait_for(lambda: _streams_from(other, new), 15, "the cascade")

    promoted = new.promote(30)
    assert promoted.ok, promoted.detail
    status = new.status()
    assert status.role is Role.PRIMARY and status.timeline == 2
    sql(old.settings, "INSERT INTO history VALUES ('2 split brain, lost')")
    sql(new.settings, "INSERT INTO history VALUES ('3 after the switch')")

    assert old.stop(StopMode.FAST, checkpoint_first=False, timeout_s=10).ok
    assert check_rewind_needed(old.settings, upstream_of(new)) is True
    rewound = rewind(old.settings, old, upstream_of(new))
    assert rewound.ok, rewound.detail
    started = old.start(Role.REPLICA, upstream_of(new), 30)
    assert started.ok, started.detail

    expected = ["1 before the switch", "3 after the switch"]
    for member in (new, old, other):
        _wait_rows(member, expected)
    assert old.status().role is Role.REPLICA and old.status().timeline == 2
    wait_for(lambda: _streams_from(old, new), 15, "the old primary to stream from the new")

    # A clean switchover back: a fast stop sends the shutdown checkpoint to the
    # replicas first, so the stopped primary has not diverged and needs no rewind.
    assert new.stop(StopMode.FAST, checkpoint_first=True, timeout_s=10).ok
    assert old.promote(30).ok
    assert old.status().timeline == 3
    assert check_rewind_needed(new.settings, upstream_of(old)) is False
    assert new.start(Role.REPLICA, upstream_of(old), 30).ok
    assert other.follow(upstream_of(old), 10).ok
    sql(old.settings, "INSERT INTO history VALUES ('4 after switching back')")
    expected.append("4 after switching back")
    for member in (new, old, other):
        _wait_rows(member, expected)
    wait_for(lambda: _streams_from(new, old), 15, "the former new primary to stream")
