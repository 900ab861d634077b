"""Where the cluster's records live in Kubernetes objects, as Patroni keeps them.

Each record is a handful of annotations on one object, so that Patroni's
tooling (and an operator with ``kubectl describe``) reads the same layout:

* leader -- Endpoints ``<scope>`` (or ConfigMap ``<scope>-leader``): ``leader``,
  ``acquireTime``, ``renewTime``, ``ttl``, ``transitions``, ``optime``,
  ``slots`` (JSON), and Patroni 4's ``retain_slots`` and ``failsafe`` (JSON).
  ``transitions`` starts at 0.  In Endpoints mode the same object's ``subsets`` hold the
  leader's address, so the primary Service routes to whoever holds the lock.
  The object outlives the lock (a release only removes ``leader``), so it also
  holds the status record (see :mod:`status`): ``optime`` -- Patroni keeps the
  last position there too -- and pgactor's ``lastLeader`` and
  ``lastLeaderClean``, written by every acquire, renewal and release.
* ``<scope>-config``: ``config`` (Patroni JSON), ``initialize`` (the system
  identifier, "" while bootstrapping), ``history`` (JSON list).
* ``<scope>-sync``: ``leader``, ``sync_standby``, ``quorum``.
* ``<scope>-failover``: ``leader``, ``member``, ``scheduled_at``.
* members -- each member's Pod: annotation ``status`` (the member JSON of
  :mod:`records`) and the labels ``<scope_label>=<scope>`` and
  ``<role_label>=primary|replica`` (primary only on the lock holder running as
  primary; see :mod:`k8s_labels`).

Every object carries the scope label (and the configured extra labels), which
is what the watches select on.  A record's version is its object's
resourceVersion, so a compare-and-set on a record is a write naming the
object's resourceVersion.  Inside the backend every record is held as the
same bytes the etcd backend stores (JSON), so :class:`RecordCache` and the
decoders of :mod:`records` and :mod:`cluster_records` serve both.  Pure: no
I/O, no client.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

from actors.leader_lock import cache as keys
from actors.leader_lock import cluster_records, records
from actors.leader_lock import jsonfields as jf
from actors.leader_lock import status as last_leader
from messages.base import Lsn, MemberName
from messages.cluster import ClusterView, FailoverRequest, SyncState
from messages.config import KubernetesSettings

Json = dict[str, Any]
Annotations = dict[str, str | None]
"""Annotations to write; None removes one (a JSON merge patch's null)."""

LEADER_ANNOTATIONS = ("leader", "acquireTime", "renewTime", "ttl", "transitions", "optime", "slots")
OPTIME, LAST_LEADER, LAST_LEADER_CLEAN = "optime", "lastLeader", "lastLeaderClean"
LAST_LEADER_CONN = "lastLeaderConnUrl"
"""The leader object's annotations that make up the status record."""
SYNC_ANNOTATIONS = ("leader", "sync_standby", "quorum")
FAILOVER_ANNOTATIONS = ("leader", "member", "scheduled_at")
STATUS = "status"
"""The Pod annotation holding a member's record."""
POSTGRES_PORT_NAME = "postgresql"


@dataclasses.dataclass(frozen=True, slots=True)
class RoleLabel:
    """The role label's key and values (Patroni's ``role_label``, ``*_label_value``)."""

    key: str = "role"
    leader: str = "primary"
    follower: str = "replica"
    standby_leader: str = "primary"
    tmp_key: str | None = None
    """Patroni's ``tmp_role_label``: always "primary" or "replica", whatever the values."""


@dataclasses.dataclass(frozen=True, slots=True)
class Layout:
    """Object names and labels of one cluster (scope) in one namespace."""

    scope: str
    use_endpoints: bool
    labels: Mapping[str, str]
    """Every object's and Pod's labels: the configured ones plus the scope label."""
    scope_label: str
    role: RoleLabel = RoleLabel()

    @classmethod
    def of(cls, scope: str, settings: KubernetesSettings) -> Layout:
        labels = {**settings.labels, settings.scope_label: scope}
        role = RoleLabel(
            key=settings.role_label,
            leader=settings.leader_label_value,
            follower=settings.follower_label_value,
            standby_leader=settings.standby_leader_label_value,
            tmp_key=settings.tmp_role_label,
        )
        return cls(scope, settings.use_endpoints, labels, settings.scope_label, role)

    @property
    def role_label(self) -> str:
        return self.role.key

    @property
    def kind(self) -> str:
        """The resource (plural) holding the cluster-wide records."""
        return "endpoints" if self.use_endpoints else "configmaps"

    @property
    def leader(self) -> str:
        return self.scope if self.use_endpoints else f"{self.scope}-leader"

    @property
    def config(self) -> str:
        return f"{self.scope}-config"

    @property
    def sync(self) -> str:
        return f"{self.scope}-sync"

    @property
    def failover(self) -> str:
        return f"{self.scope}-failover"

    @property
    def selector(self) -> str:
        """What the lists and watches select: the scope label alone, so a Pod whose
        template lacks the extra labels is still seen (its first touch adds them)."""
        return f"{self.scope_label}={self.scope}"

    @property
    def record_keys(self) -> Mapping[str, tuple[str, ...]]:
        """Object name -> the record-cache keys it holds."""
        return {
            self.leader: (keys.LEADER, keys.STATUS),
            self.config: (keys.CONFIG, keys.INITIALIZE, keys.HISTORY),
            self.sync: (keys.SYNC,),
            self.failover: (keys.FAILOVER,),
        }


# -- objects as read ------------------------------------------------------------------


def name_of(obj: Mapping[str, Any]) -> str:
    return str(_metadata(obj).get("name", ""))


def version_of(obj: Mapping[str, Any]) -> int:
    """The object's resourceVersion (an integer string on every real server)."""
    return int(_metadata(obj).get("resourceVersion") or 0)


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(_metadata(obj).get("annotations") or {})


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(_metadata(obj).get("labels") or {})


def record_raw(key: str, annotations: Mapping[str, str]) -> bytes | None:
    """The record ``key`` as the bytes the record cache parses; None: absent."""
    if key == keys.LEADER:
        if not annotations.get("leader"):
            return None
        return jf.dumps({k: annotations[k] for k in LEADER_ANNOTATIONS if k in annotations})
    if key == keys.STATUS:
        return _status_raw(annotations)
    if key in (keys.CONFIG, keys.INITIALIZE, keys.HISTORY):
        value = annotations.get(key)
        return None if value is None else value.encode()
    names = SYNC_ANNOTATIONS if key == keys.SYNC else FAILOVER_ANNOTATIONS
    fields = {k: annotations[k] for k in names if k in annotations}
    return jf.dumps(fields) if fields else None


def holds(annotations: Mapping[str, str], written: Annotations) -> bool:
    """True when ``annotations`` show exactly what ``written`` set (None: removed)."""
    return all(annotations.get(key) == value for key, value in written.items())


# -- what is written ----------------------------------------------------------------


def acquire_annotations(
    name: MemberName, transitions: int, update: records.LeaderUpdate
) -> Annotations:
    """The lock as its new holder writes it; the previous holder's slots go."""
    return {
        "leader": name,
        "acquireTime": records.wall_time_iso(update.now_epoch_s),
        "transitions": str(transitions),
        "slots": None,
        **renew_annotations(update),
    }


def renew_annotations(update: records.LeaderUpdate) -> Annotations:
    """A renewal: ``renewTime`` changes every time, so observers restart their ttl clock."""
    fields: Annotations = {
        "renewTime": records.wall_time_iso(update.now_epoch_s),
        "ttl": str(jf.number(update.ttl_s)),
        "optime": str(update.optime),
    }
    if update.slots is not None:
        fields["slots"] = json.dumps(dict(update.slots), sort_keys=True)
    return fields


RETAIN_SLOTS, FAILSAFE = "retain_slots", "failsafe"
"""Patroni 4's leader annotations beside the status: the members whose replication
slots a new leader must keep, and the topology failsafe mode falls back on."""


def leader_extras(view: ClusterView, slots: Mapping[str, int] | None = None) -> Annotations:
    """``retain_slots`` (when the config uses slots) and ``failsafe`` (in failsafe mode)
    as the holder writes them with each lock write, from its view of the members."""
    config = view.config
    retain: str | None = None
    if config is not None and config.use_slots:
        names = {slot_name(m.name) for m in view.members} | set(slots or {})
        retain = json.dumps(sorted(names)) if names else None
    failsafe: str | None = None
    if config is not None and config.failsafe_mode:
        topology = {m.name: m.api_url for m in view.members if m.api_url}
        failsafe = jf.dumps(topology).decode() if topology else None
    return {RETAIN_SLOTS: retain, FAILSAFE: failsafe}


def slot_name(member: str) -> str:
    """A member's physical replication slot, as PostgreSQL and Patroni name it."""
    return re.sub(r"[^a-z0-9_]", "_", member.lower())[:63]


def status_annotations(
    name: MemberName, optime: Lsn, *, clean: bool, conn: tuple[str, int] | None = None
) -> Annotations:
    """The status record as the leader object's annotations (written with the lock)."""
    annotations: Annotations = {
        OPTIME: str(optime),
        LAST_LEADER: name,
        LAST_LEADER_CLEAN: _bool_text(clean),
    }
    if conn is not None:
        annotations[LAST_LEADER_CONN] = records.conn_url(*conn)
    return annotations


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def _status_raw(annotations: Mapping[str, str]) -> bytes | None:
    """The status annotations in the JSON shape :func:`status.parse_status` reads."""
    fields = {
        last_leader.OPTIME: annotations.get(OPTIME),
        last_leader.LAST_LEADER: annotations.get(LAST_LEADER),
        last_leader.CLEAN: annotations.get(LAST_LEADER_CLEAN),
        last_leader.CONN_URL: annotations.get(LAST_LEADER_CONN),
    }
    present = {k: v for k, v in fields.items() if v is not None}
    return jf.dumps(present) if present else None


def sync_annotations(state: SyncState | None) -> Annotations:
    """The sync record (None: removed) in Patroni's annotation shape."""
    if state is None:
        return dict.fromkeys(SYNC_ANNOTATIONS)
    return _flat(cluster_records.sync_value(state), SYNC_ANNOTATIONS)


def failover_annotations(req: FailoverRequest | None) -> Annotations:
    if req is None:
        return dict.fromkeys(FAILOVER_ANNOTATIONS)
    return _flat(cluster_records.failover_value(req), FAILOVER_ANNOTATIONS)


def next_transitions(annotations: Mapping[str, str] | None, known: int, same_holder: bool) -> int:
    """The ``transitions`` a new lock writes: 0 when no holder was ever counted (the
    object absent or without the annotation, and none seen: as Patroni), then one
    more with each new holder."""
    if (annotations is None or "transitions" not in annotations) and known == 0:
        return 0
    stored = 0 if annotations is None else transitions_of(annotations)
    return max(stored, known) + (0 if same_holder else 1)


def transitions_of(annotations: Mapping[str, str]) -> int:
    """The stored transitions count; one that does not parse counts as 0."""
    try:
        return int(annotations.get("transitions") or 0)
    except ValueError:
        return 0


def leader_subsets(ip: str | None, port: int | None) -> list[Json]:
    """Endpoints subsets routing the primary Service to ``ip:port`` ([]: nowhere)."""
    if ip is None or port is None:
        return []
    address = {"ip": ip}
    return [
        {
            "addresses": [address],
            "ports": [{"name": POSTGRES_PORT_NAME, "port": port, "protocol": "TCP"}],
        }
    ]


def is_ip(host: str) -> bool:
    """Endpoints addresses must be IP addresses; a host name is refused by the API."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def new_object(
    layout: Layout, name: str, annotations: Annotations, subsets: list[Json] | None
) -> Json:
    """The body creating a records object (labelled, so the watches see it)."""
    metadata: Json = {
        "name": name,
        "labels": dict(layout.labels),
        "annotations": {k: v for k, v in annotations.items() if v is not None},
    }
    body: Json = {"metadata": metadata}
    if subsets is not None:
        body["subsets"] = subsets
    return body


def object_patch(
    layout: Layout, annotations: Annotations, version: int | None, subsets: list[Json] | None
) -> Json:
    """A JSON merge patch; with ``version`` it is a compare-and-set (409 if it moved on)."""
    metadata: Json = {"labels": dict(layout.labels), "annotations": dict(annotations)}
    if version is not None:
        metadata["resourceVersion"] = str(version)
    body: Json = {"metadata": metadata}
    if subsets is not None:
        body["subsets"] = subsets  # a merge patch replaces a list whole
    return body


def config_service(layout: Layout) -> Json:
    """The headless Service that keeps the endpoints controller off ``<scope>-config``."""
    return {
        "metadata": {"name": layout.config, "labels": dict(layout.labels)},
        "spec": {"clusterIP": "None"},
    }


# -- helpers ------------------------------------------------------------------------


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _flat(raw: bytes, names: tuple[str, ...]) -> Annotations:
    """A JSON record as annotations: every field a string, absent ones removed."""
    fields = json.loads(raw)
    return {name: _text(fields.get(name)) for name in names}


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)
