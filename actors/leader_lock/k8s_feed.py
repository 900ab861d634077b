"""Kubernetes objects into the record cache, in resourceVersion order.

Objects arrive from lists (``refresh`` and each watch's first read), from the
two watch streams, and from the backend's own reads and writes, on several
threads.  The feed keeps, per object, the last state it applied and the
version of that state (or of its deletion), and turns each newer state into
changes of the :class:`RecordCache`: the object's records (its annotations)
become cache entries versioned by the object's resourceVersion.

Two families are read by separate lists and watches: the records objects
(Endpoints or ConfigMaps) and the Pods.  A list is authoritative for its family
as of its version: objects it does not hold are deleted then, and a watch
event at or below that version arriving late is dropped (the *floor*), so a
deleted member cannot flicker back.  The feed lock also lets a writer read an
object's state and the parsed leader record as one consistent pair.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from actors.leader_lock import cache as keys
from actors.leader_lock import k8s_records as kr
from actors.leader_lock.cache import Entry, RecordCache
from messages.cluster import LeaderRecord


class Family(enum.Enum):
    OBJECTS = "objects"
    PODS = "pods"


@dataclasses.dataclass(frozen=True, slots=True)
class ObjectState:
    """One object as last seen: what a compare-and-set on it must name."""

    version: int
    annotations: Mapping[str, str]
    labels: Mapping[str, str]

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectState:
        return cls(kr.version_of(obj), kr.annotations_of(obj), kr.labels_of(obj))


class Feed:
    """Thread-safe; every method may be called from any thread."""

    def __init__(self, cache: RecordCache, layout: kr.Layout) -> None:
        self.cache = cache
        self._layout = layout
        self._record_keys = layout.record_keys
        self._lock = threading.Lock()
        self._states: dict[Family, dict[str, ObjectState]] = {f: {} for f in Family}
        self._versions: dict[tuple[Family, str], int] = {}
        """The version of the last state or deletion applied per object."""
        self._floors: dict[Family, int] = dict.fromkeys(Family, 0)

    # -- reading --------------------------------------------------------------------

    def state(self, family: Family, name: str) -> ObjectState | None:
        with self._lock:
            return self._states[family].get(name)

    def states(self, family: Family) -> dict[str, ObjectState]:
        """Every object of ``family`` as last seen, by name (a copy)."""
        with self._lock:
            return dict(self._states[family])

    def leader(self) -> tuple[ObjectState | None, LeaderRecord | None]:
        """The leader object and its parsed, stamped record, taken together.

        The record is None when absent or unparsable (then the lock is free
        for the taking, by a compare-and-set on the object's version).
        """
        with self._lock:
            _, record = self.cache.leader()
            return self._states[Family.OBJECTS].get(self._layout.leader), record

    # -- applying ----------------------------------------------------------------------

    def install(self, family: Family, items: Iterable[Mapping[str, Any]], version: int) -> bool:
        """A full list of ``family`` taken at ``version``; True if anything changed."""
        with self._lock:
            changed = False
            listed: set[str] = set()
            for obj in items:
                name = kr.name_of(obj)
                listed.add(name)
                changed |= self._set(family, name, obj, kr.version_of(obj))
            known = self._record_keys if family is Family.OBJECTS else self._states[family]
            for name in set(known) - listed:
                changed |= self._set(family, name, None, version)
            self._floors[family] = max(self._floors[family], version)
            return changed

    def apply(
        self,
        family: Family,
        obj: Mapping[str, Any],
        *,
        deleted: bool = False,
        from_watch: bool = False,
    ) -> bool:
        """One object's new state (or its deletion, at the version ``obj`` carries)."""
        version = kr.version_of(obj)
        with self._lock:
            if from_watch and version <= self._floors[family]:
                return False
            return self._set(family, kr.name_of(obj), None if deleted else obj, version)

    def forget(self, family: Family, name: str) -> bool:
        """The server said the object is gone (404), at some version after the one we know.

        Recorded as a deletion one version after the last known state: the
        real deletion came at or after that, and so does anything newer.
        """
        with self._lock:
            version = self._versions.get((family, name), 0) + 1
            return self._set(family, name, None, version)

    # -- under the lock ------------------------------------------------------------------

    def _set(self, family: Family, name: str, obj: Mapping[str, Any] | None, version: int) -> bool:
        if family is Family.OBJECTS and name not in self._record_keys:
            return False  # labelled like ours but not one of the records objects
        if not self._is_newer(family, name, obj, version):
            return False
        self._versions[(family, name)] = version
        if obj is None:
            self._states[family].pop(name, None)
        else:
            self._states[family][name] = ObjectState.of(obj)
        annotations = {} if obj is None else kr.annotations_of(obj)
        if family is Family.PODS:
            status = annotations.get(kr.STATUS)
            raws = {keys.MEMBERS + name: None if status is None else status.encode()}
        else:
            raws = {key: kr.record_raw(key, annotations) for key in self._record_keys[name]}
        return self._feed_cache(raws, version)

    def _is_newer(
        self, family: Family, name: str, obj: Mapping[str, Any] | None, version: int
    ) -> bool:
        if version > self._versions.get((family, name), 0):
            return True
        # An object without the scope label is invisible to lists and watches, so
        # their "absent" says nothing about it: a read of it is current news.
        # (An operator's manifest may create the leader Endpoints bare.)
        unlabelled = obj is not None and kr.labels_of(obj).get(self._layout.scope_label) != (
            self._layout.scope
        )
        return unlabelled and name not in self._states[family]

    def _feed_cache(self, raws: Mapping[str, bytes | None], version: int) -> bool:
        changed = False
        for key, raw in raws.items():
            if raw is not None:
                changed |= self.cache.apply(key, Entry(raw, version), version)
            else:
                had = self.cache.get(key) is not None
                changed |= self.cache.apply(key, None, version) and had
        return changed
