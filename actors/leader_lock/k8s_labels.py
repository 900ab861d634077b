"""The role label on the members' Pods: what the Services route by.

Invariant kept: the leader value goes only on the Pod of the member that holds
the lock and runs PostgreSQL as primary; every other member's Pod carries the
follower value.  A Service that selects on the leader value then routes to
one Pod at most, and never to a member that crashed, is still starting, or
lost the lock and is about to demote.

Each member labels its own Pod with every touch of its record.  That alone
leaves a dead leader's Pod labelled primary until its agent comes back (a
node that died: minutes), so the member that takes the lock relabels every
other Pod still carrying the leader value, and each renewal checks the cached
Pods again (no request unless one needs fixing).  Relabelling is best effort:
a failure is logged and the next renewal tries again; it never fails the lock
call it follows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from actors.leader_lock import k8s_records as kr
from actors.leader_lock import records
from actors.leader_lock.backoff import Deadline
from actors.leader_lock.contract import DcsError
from actors.leader_lock.k8s_client import K8sClient, NotFound
from actors.leader_lock.k8s_feed import Family, Feed
from messages.base import MemberName
from messages.cluster import MemberStatus, PgState, Role

log = logging.getLogger(__name__)

TMP_LEADER, TMP_FOLLOWER = "primary", "replica"
"""The values of ``tmp_role_label``, fixed whatever the configured values are."""


def leads(status: MemberStatus, holder: MemberName | None) -> bool:
    """Whether ``status`` earns the leader label: it holds the lock and runs as primary."""
    return holder == status.name and status.role is Role.PRIMARY and status.state is PgState.RUNNING


def role_labels(layout: kr.Layout, *, leader: bool) -> dict[str, str]:
    """The role label (and Patroni's ``tmp_role_label``) a member's Pod carries."""
    role = layout.role
    labels = {role.key: role.leader if leader else role.follower}
    if role.tmp_key:
        labels[role.tmp_key] = TMP_LEADER if leader else TMP_FOLLOWER
    return labels


def carries_leader_label(layout: kr.Layout, labels: Mapping[str, str]) -> bool:
    """A leader's value under the role label (or the temporary one): what a Service
    selecting the primary would route to."""
    role = layout.role
    if labels.get(role.key) in (role.leader, role.standby_leader):
        return True
    return role.tmp_key is not None and labels.get(role.tmp_key) == TMP_LEADER


def member_patch(layout: kr.Layout, status: MemberStatus, *, leader: bool) -> kr.Json:
    """The merge patch publishing a member's record on its own Pod (``leader``: :func:`leads`)."""
    labels = {**layout.labels, **role_labels(layout, leader=leader)}
    annotations = {kr.STATUS: records.member_value(status).decode()}
    return {"metadata": {"labels": labels, "annotations": annotations}}


def pod_shows(labels: Mapping[str, str], annotations: Mapping[str, str], patch: kr.Json) -> bool:
    """True when a Pod already carries everything ``patch`` (a member patch) would write."""
    metadata = patch["metadata"]
    return kr.holds(labels, metadata["labels"]) and kr.holds(annotations, metadata["annotations"])


class PodLabels:
    """Keeps the role labels of one cluster's Pods as the module docstring says; thread-safe."""

    def __init__(self, client: K8sClient, feed: Feed, layout: kr.Layout, name: MemberName) -> None:
        self._client = client
        self._feed = feed
        self._layout = layout
        self._name = name

    def settle(self, *, holds_lock: bool, leader: bool | None, deadline: Deadline) -> None:
        """After a lock call: as the holder, no other Pod carries the leader value; our
        own Pod carries it iff ``leader`` (None: we published no record yet, leave it)."""
        if holds_lock:
            for other in self._stale_leaders():
                self._relabel(other, deadline, "it does not hold the lock")
        own = self._feed.state(Family.PODS, self._name)
        if leader is None or own is None:
            return
        if carries_leader_label(self._layout, own.labels) != leader:
            why = "it holds the lock as primary" if leader else "it is not the leading primary"
            self._relabel(self._name, deadline, why, leader=leader)

    def _stale_leaders(self) -> list[str]:
        pods = self._feed.states(Family.PODS)
        return sorted(
            name
            for name, state in pods.items()
            if name != self._name and carries_leader_label(self._layout, state.labels)
        )

    def _relabel(self, pod: str, deadline: Deadline, why: str, *, leader: bool = False) -> None:
        patch = {"metadata": {"labels": role_labels(self._layout, leader=leader)}}
        try:
            obj = self._client.patch("pods", pod, patch, deadline)
        except NotFound:
            self._feed.forget(Family.PODS, pod)
            return
        except DcsError as e:
            log.warning("could not relabel pod %s (%s): %s; trying again later", pod, why, e)
            return
        self._feed.apply(Family.PODS, obj)
        value = patch["metadata"]["labels"][self._layout.role.key]
        log.info("pod %s labelled %s=%s: %s", pod, self._layout.role.key, value, why)
