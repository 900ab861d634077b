"""WAL positions the API compares: the leader's last known optime and our own.

As in Patroni, a replica's lag is judged against the position the leader last
published through the DCS, not against a live query of the primary: a health
check answers from local knowledge in microseconds, and a leader that has
vanished still left its last position behind (``last_leader_optime``).
Our own side is the *replayed* position where known, because a load balancer
asks about lag to decide whether reads here see recent data.
"""

from __future__ import annotations

from messages.admin import NodeStatus
from messages.cluster import ClusterView, MemberStatus


def leader_optime(cluster: ClusterView) -> int:
    """The most advanced position any leader record has shown; 0 when unknown."""
    known = [cluster.last_leader_optime]
    if cluster.leader is not None:
        known.append(cluster.leader.optime)
        member = cluster.member(cluster.leader.name)
        if member is not None:
            known.append(member.wal_position)
    return max(known)


def replayed_position(status: NodeStatus) -> int | None:
    """Replayed, else received, else the reported WAL position; None when nothing is known."""
    for lsn in (status.replay_lsn, status.receive_lsn):
        if lsn is not None:
            return lsn
    return status.wal_position or None


def replica_lag_bytes(status: NodeStatus) -> int | None:
    """Bytes this node is behind the leader; None when either side is unknown."""
    leader, own = leader_optime(status.cluster), replayed_position(status)
    if not leader or own is None:
        return None
    return max(0, leader - own)


def member_lag(cluster: ClusterView, member: MemberStatus) -> int | str:
    """A member's lag as /cluster shows it (Patroni prints "unknown" when it has no position)."""
    if not member.wal_position:
        return "unknown"
    return max(0, leader_optime(cluster) - member.wal_position)
