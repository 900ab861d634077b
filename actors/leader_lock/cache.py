"""The record cache a DCS backend reads views from: thread-safe, ordered by version.

Records arrive from three places at once -- a full re-read (``refresh``), the
watch stream, and the backend's own successful writes -- on two threads.  Each
comes with the store's version of the change (etcd's revision; a Kubernetes
resourceVersion would do), and a change is applied only if it is newer than
what the cache already knows for that key.  A full read at version R is
authoritative for every key as of R, so it also sets a *floor*: a late watch
event at or below R cannot resurrect a key the read found deleted.  Deletions
newer than the floor are remembered as tombstones for the same reason.

Records are parsed when applied, so a record that does not parse is logged
once per version and then simply treated as absent.  The cache also stamps the
leader record with the observer's clock when its version changes
(``observed_change_at``, safety rule 2).  The view's ``last_leader_*`` come
from the stored status record (see :mod:`status`), not from what this process
happened to see: the cache remembers nothing a restart would lose except the
highest ``transitions`` count, which only numbers the holders.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from typing import TypeVar

from actors.leader_lock import cluster_records, records
from actors.leader_lock import status as last_leader
from actors.leader_lock.contract import Clock, DcsBadData, VersionedView
from messages.base import MemberName
from messages.cluster import ClusterView, FailoverRequest, LeaderRecord, MemberStatus, SyncState
from messages.config import DynamicConfig

log = logging.getLogger(__name__)

T = TypeVar("T")

LEADER, INITIALIZE, CONFIG, SYNC, FAILOVER, HISTORY, STATUS = (
    "leader",
    "initialize",
    "config",
    "sync",
    "failover",
    "history",
    "status",
)
MEMBERS = "members/"


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One stored record as the server holds it."""

    raw: bytes
    version: int
    """The store's version of the last change (etcd: mod_revision)."""
    lease: int = 0
    """The etcd lease the key is bound to (0: none)."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Record:
    entry: Entry
    parsed: object | None


class RecordCache:
    """Keys relative to the cluster prefix (``leader``, ``members/<name>``...) → records."""

    def __init__(self, *, default_ttl_s: float, clock: Clock) -> None:
        self._default_ttl_s = default_ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        self._tombstones: dict[str, int] = {}
        self._floor = 0
        self._leader_seen_at = 0.0
        self._max_transitions = 0
        self._view: VersionedView | None = VersionedView(view=ClusterView())

    def apply(self, key: str, entry: Entry | None, version: int) -> bool:
        """Apply one change (``entry`` None: deleted at ``version``); True if it was new."""
        with self._lock:
            known = max(self._floor, self._known_version(key))
            if version <= known:
                return False
            self._set(key, entry, version)
            return True

    def replace_all(self, entries: Mapping[str, Entry], version: int) -> bool:
        """Install a full read taken at ``version``; True if anything changed."""
        with self._lock:
            before = {key: rec.entry for key, rec in self._records.items()}
            merged: dict[str, Entry | None] = {key: None for key in self._records}
            merged.update(entries)
            # Our own writes (and deletions) newer than the read stay.
            for key, rec in self._records.items():
                if rec.entry.version > version:
                    merged[key] = rec.entry
            for key, tomb in self._tombstones.items():
                if tomb > version:
                    merged[key] = None
            self._tombstones = {k: v for k, v in self._tombstones.items() if v > version}
            self._floor = max(self._floor, version)
            for key, entry in merged.items():
                if before.get(key) != entry:
                    self._set(key, entry, version if entry is None else entry.version)
            return before != {key: rec.entry for key, rec in self._records.items()}

    def get(self, key: str) -> Entry | None:
        with self._lock:
            rec = self._records.get(key)
            return None if rec is None else rec.entry

    def leader(self) -> tuple[Entry | None, LeaderRecord | None]:
        """The leader key's entry and its parsed record (stamped), taken together.

        A record of None with an entry means the stored value does not parse.
        """
        with self._lock:
            rec = self._records.get(LEADER)
            if rec is None:
                return None, None
            if not isinstance(rec.parsed, LeaderRecord):
                return rec.entry, None
            return rec.entry, dataclasses.replace(
                rec.parsed, observed_change_at=self._leader_seen_at
            )

    @property
    def max_transitions(self) -> int:
        """The highest ``transitions`` seen in any leader record (survives deletion)."""
        with self._lock:
            return self._max_transitions

    def versioned_view(self) -> VersionedView:
        with self._lock:
            if self._view is None:
                self._view = self._build_view()
            return self._view

    # -- under the lock --------------------------------------------------------

    def _known_version(self, key: str) -> int:
        rec = self._records.get(key)
        if rec is not None:
            return rec.entry.version
        return self._tombstones.get(key, 0)

    def _set(self, key: str, entry: Entry | None, version: int) -> None:
        self._view = None
        if entry is None:
            self._records.pop(key, None)
            if version > self._floor:
                self._tombstones[key] = version
            return
        self._tombstones.pop(key, None)
        previous = self._records.get(key)
        if key == LEADER and (previous is None or previous.entry.version != entry.version):
            self._leader_seen_at = self._clock()
        self._records[key] = _Record(entry, self._parse(key, entry))

    def _parse(self, key: str, entry: Entry) -> object | None:
        parser = self._parser(key)
        if parser is None:
            return None
        try:
            parsed = parser(entry.raw)
        except DcsBadData as e:
            log.warning("ignoring bad %s record (version %d): %s", key, entry.version, e)
            return None
        if isinstance(parsed, LeaderRecord):
            self._max_transitions = max(self._max_transitions, parsed.transitions)
        return parsed

    def _parser(self, key: str) -> Callable[[bytes], object] | None:
        if key.startswith(MEMBERS):
            name = MemberName(key.removeprefix(MEMBERS))
            return lambda raw: records.parse_member(name, raw)
        parsers: dict[str, Callable[[bytes], object]] = {
            LEADER: lambda raw: records.parse_leader(raw, default_ttl_s=self._default_ttl_s),
            INITIALIZE: lambda raw: raw.decode(errors="replace"),
            CONFIG: cluster_records.parse_config,
            SYNC: cluster_records.parse_sync,
            FAILOVER: cluster_records.parse_failover,
            HISTORY: cluster_records.parse_history,
            STATUS: last_leader.parse_status,
        }
        return parsers.get(key)

    def _build_view(self) -> VersionedView:
        def parsed(key: str) -> object | None:
            rec = self._records.get(key)
            return None if rec is None else rec.parsed

        def version(key: str) -> str | None:
            rec = self._records.get(key)
            return None if rec is None else str(rec.entry.version)

        leader = parsed(LEADER)
        if isinstance(leader, LeaderRecord):
            leader = dataclasses.replace(leader, observed_change_at=self._leader_seen_at)
        else:
            leader = None
        last = last_leader.last_leader_of(_typed(parsed(STATUS), last_leader.LastLeader), leader)
        members = sorted(
            (rec.parsed for rec in self._records.values() if isinstance(rec.parsed, MemberStatus)),
            key=lambda member: member.name,
        )
        initialize = parsed(INITIALIZE)
        view = ClusterView(
            initialize=initialize if isinstance(initialize, str) else None,
            config=_typed(parsed(CONFIG), DynamicConfig),
            leader=leader,
            last_leader_optime=last.optime,
            last_leader_name=last.name,
            last_leader_clean=last.clean,
            last_leader_host=last.host,
            last_leader_port=last.port,
            members=tuple(members),
            sync=_typed(parsed(SYNC), SyncState) or SyncState(),
            failover=_typed(parsed(FAILOVER), FailoverRequest),
            history=_typed(parsed(HISTORY), tuple) or (),
        )
        return VersionedView(view=view, config_version=version(CONFIG), sync_version=version(SYNC))


def _typed(value: object, kind: type[T]) -> T | None:
    return value if isinstance(value, kind) else None
