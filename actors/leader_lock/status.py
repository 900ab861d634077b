"""The status record: what the cluster must remember when every agent restarts.

Who led last, the last WAL position it published, and whether it let go
cleanly (PostgreSQL stopped, that position its final checkpoint) decide who
may lead next: a member far behind the last leader must not take over, and
after a clean stop no one behind it may.  An agent's memory dies with it (and a
whole-cluster restart takes every memory at once), so this lives in the store,
beside the lock, and is written by the very write that takes, renews or
releases the lock -- never a request of its own, never out of step with it.

etcd: the ``status`` key, as Patroni keeps it (``{"optime": .., "slots": {..}}``)
plus pgactor's ``last_leader`` and ``last_leader_clean``, which Patroni's tools
ignore as they ignore every key they do not know.  Kubernetes: annotations of
the leader object, which outlives the lock (see :mod:`k8s_records`), in the
same JSON shape once read.  A status written by Patroni gives the position
alone.  Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from actors.leader_lock import jsonfields as jf
from actors.leader_lock import records
from messages.base import Lsn, MemberName
from messages.cluster import LeaderRecord

OPTIME, SLOTS = "optime", "slots"
"""Patroni's fields."""
LAST_LEADER, CLEAN, CONN_URL = "last_leader", "last_leader_clean", "conn_url"
"""pgactor's own fields (Patroni keeps no name there).  conn_url is where the last
leader's PostgreSQL listened: a candidate checks it takes no writes any more, even
once the last leader's member record has expired."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LastLeader:
    """The status record as read, or as a view reports it."""

    name: MemberName | None = None
    optime: Lsn = Lsn(0)
    clean: bool = False
    host: str = ""
    port: int = 0


def status_value(
    name: MemberName,
    optime: Lsn,
    *,
    clean: bool,
    slots: Mapping[str, int] | None = None,
    conn: tuple[str, int] | None = None,
) -> bytes:
    """The status JSON a holder writes with its lock write (slots, conn only when known)."""
    fields: jf.JsonObject = {OPTIME: optime, LAST_LEADER: name, CLEAN: clean}
    if slots is not None:
        fields[SLOTS] = dict(slots)
    if conn is not None:
        fields[CONN_URL] = records.conn_url(*conn)
    return jf.dumps(fields)


def parse_status(raw: bytes) -> LastLeader:
    """Raises DcsBadData for anything that is not a status object (then: absent)."""
    what = "status"
    fields = jf.load_object(raw, what)
    name = jf.get_str(fields, LAST_LEADER, what)
    url = jf.get_str(fields, CONN_URL, what)
    host, port = records.parse_conn_url(url, what) if url else ("", 0)
    return LastLeader(
        name=None if name is None else MemberName(name),
        optime=Lsn(jf.get_int(fields, OPTIME, 0, what)),
        clean=jf.get_bool(fields, CLEAN, False, what),
        host=host,
        port=port,
    )


def last_leader_of(status: LastLeader | None, leader: LeaderRecord | None) -> LastLeader:
    """What a view reports, from the stored status and the live leader record.

    They agree whenever pgactor wrote both (one atomic write); they may not
    when another tool wrote the lock (Patroni writes no name into the status,
    and no position into its etcd leader key).  A live holder is the last
    leader and has released nothing; the position is the highest either
    record published.
    """
    if leader is None:
        return status or LastLeader()
    optime = max(leader.optime, Lsn(0) if status is None else status.optime)
    known = status is not None and status.name == leader.name
    host, port = (status.host, status.port) if known and status is not None else ("", 0)
    return LastLeader(name=leader.name, optime=Lsn(optime), clean=False, host=host, port=port)
