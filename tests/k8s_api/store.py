"""The object store: objects, the global resourceVersion and the event history.

Like etcd behind a real API server there is one counter for all kinds: every
write that changes something bumps it by one and appends one event (ADDED,
MODIFIED, DELETED) stamped with the new version, so the history holds a
contiguous run of versions ``(compacted, current]``.  The history is bounded;
once an event falls off, a watch that wants to resume from before it gets
410 Expired, exactly the situation clients must recover from by relisting.

Stored objects are never mutated after they are committed (every write stores
a fresh dict), so readers may hand them out and serialise them outside the
lock.  One Condition guards everything and wakes waiting watches on each
commit.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import objects
from .errors import already_exists, conflict, not_found, too_old
from .kinds import Kind
from .selectors import ObjectFilter

Object = dict[str, Any]
_Key = tuple[str, str, str]  # (plural, namespace, name)


@dataclass(frozen=True)
class Event:
    """One committed change.  For DELETED, `new` is the last state at the deletion's version."""

    version: int
    type: str
    plural: str
    old: Object | None
    new: Object


class Store:
    """Thread-safe in-memory objects with optimistic concurrency and a bounded history."""

    def __init__(self, history_size: int = 1000) -> None:
        if history_size < 1:
            raise ValueError("history_size must be at least 1")
        self._cond = threading.Condition()
        self._objects: dict[_Key, Object] = {}
        self._version = 1
        self._compacted = 1  # events up to this version are no longer kept
        self._history: deque[Event] = deque(maxlen=history_size)
        self._wakeups = 0

    @property
    def resource_version(self) -> int:
        with self._cond:
            return self._version

    @property
    def compacted_version(self) -> int:
        """The newest version no longer in the history (the oldest kept, minus one)."""
        with self._cond:
            return self._compacted

    def get(self, kind: Kind, namespace: str, name: str) -> Object:
        with self._cond:
            return self._existing(kind, namespace, name)

    def list_objects(self, selection: ObjectFilter) -> tuple[list[Object], int]:
        """Matching objects in (namespace, name) order, and the version they are current at."""
        with self._cond:
            items = [
                obj for key, obj in sorted(self._objects.items()) if selection.matches(key[0], obj)
            ]
            return items, self._version

    def create(self, kind: Kind, namespace: str, body: Any) -> Object:
        obj = objects.checked_body(kind, namespace, body, None)
        with self._cond:
            taken = {k[2] for k in self._objects if k[:2] == (kind.plural, namespace)}
            obj = objects.new_object(kind, obj, taken)
            name = obj["metadata"]["name"]
            if name in taken:
                raise already_exists(kind.plural, name)
            return self._commit(kind, (kind.plural, namespace, name), None, obj)

    def replace(self, kind: Kind, namespace: str, name: str, body: Any) -> Object:
        """PUT: conditional on metadata.resourceVersion when the body names one."""
        obj = objects.checked_body(kind, namespace, body, name)
        with self._cond:
            old = self._objects.get((kind.plural, namespace, name))
            if old is None and kind.create_on_update:
                obj = objects.new_object(kind, obj, set())
                return self._commit(kind, (kind.plural, namespace, name), None, obj)
            old = self._existing(kind, namespace, name)
            return self._update(kind, old, obj)

    def patch(
        self, kind: Kind, namespace: str, name: str, patcher: Callable[[Object], Any]
    ) -> Object:
        """PATCH: `patcher` maps the current object to the patched one, under the lock."""
        with self._cond:
            old = self._existing(kind, namespace, name)
            obj = objects.checked_body(kind, namespace, patcher(old), name)
            return self._update(kind, old, obj)

    def _update(self, kind: Kind, old: Object, obj: Object) -> Object:
        wanted = objects.resource_version(obj)
        if wanted and wanted != objects.resource_version(old):
            raise conflict(kind.plural, old["metadata"]["name"])
        obj = objects.updated_object(kind, old, obj)
        key = (kind.plural, old["metadata"]["namespace"], old["metadata"]["name"])
        return self._commit(kind, key, old, obj)

    def delete(
        self, kind: Kind, namespace: str, name: str, preconditions: dict[str, Any]
    ) -> Object:
        """DELETE; the returned object carries the deletion's resourceVersion."""
        with self._cond:
            old = self._existing(kind, namespace, name)
            _check_preconditions(kind, old, preconditions)
            return self._commit(kind, (kind.plural, namespace, name), old, None)

    def delete_collection(self, kind: Kind, selection: ObjectFilter) -> tuple[list[Object], int]:
        """Delete every match, one event each; returns the deleted objects and the new version."""
        with self._cond:
            doomed = [
                key for key, obj in sorted(self._objects.items()) if selection.matches(key[0], obj)
            ]
            deleted = [self._commit(kind, key, self._objects[key], None) for key in doomed]
            return deleted, self._version

    def _existing(self, kind: Kind, namespace: str, name: str) -> Object:
        obj = self._objects.get((kind.plural, namespace, name))
        if obj is None:
            raise not_found(kind.plural, name)
        return obj

    def _commit(self, kind: Kind, key: _Key, old: Object | None, new: Object | None) -> Object:
        """Store `new` (None deletes) at a fresh version, unless nothing changed."""
        if old is not None and new is not None and objects.same_content(old, new):
            return old
        self._version += 1
        if new is None:
            assert old is not None
            stored = objects.with_version(old, self._version)
            del self._objects[key]
            event_type = "DELETED"
        else:
            stored = objects.with_version(copy.deepcopy(new), self._version)
            self._objects[key] = stored
            event_type = "ADDED" if old is None else "MODIFIED"
        self._record(Event(self._version, event_type, kind.plural, old, stored))
        return stored

    def _record(self, event: Event) -> None:
        if len(self._history) == self._history.maxlen:
            self._compacted = self._history[0].version
        self._history.append(event)
        self._cond.notify_all()

    def reset(self) -> None:
        """Forget every object and all history; versions keep counting up.

        Watches resuming from before the reset get 410 Expired, as after an
        etcd compaction, so no client can mistake the new world for the old.
        """
        with self._cond:
            self._objects.clear()
            self._history.clear()
            # The wipe is a change no event describes: a version of its own, compacted.
            self._version += 1
            self._compacted = self._version
            self._wakeups += 1
            self._cond.notify_all()

    def events_after(self, version: int) -> list[Event]:
        """Every event newer than `version`; 410 Expired if some of them are gone."""
        with self._cond:
            return self._events_after(version)

    def _events_after(self, version: int) -> list[Event]:
        if version < self._compacted:
            raise too_old(version, self._compacted)
        # Versions in the history are contiguous, so the offset is arithmetic.
        return list(itertools.islice(self._history, version - self._compacted, None))

    def wait_for_events(self, version: int, timeout: float) -> list[Event]:
        """Block up to `timeout` for events newer than `version` (or a wake_all)."""
        with self._cond:
            wakeups = self._wakeups
            self._cond.wait_for(
                lambda: self._version > version or self._wakeups != wakeups, timeout
            )
            return self._events_after(version)

    def wake_all(self) -> None:
        """Return every waiting watch early, so it notices it was dropped or stopped."""
        with self._cond:
            self._wakeups += 1
            self._cond.notify_all()


def _check_preconditions(kind: Kind, obj: Object, preconditions: dict[str, Any]) -> None:
    """DeleteOptions.preconditions: uid and resourceVersion must match, else 409 Conflict."""
    metadata = obj["metadata"]
    for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        wanted = preconditions.get(field)
        if wanted and wanted != metadata.get(field):
            raise conflict(
                kind.plural,
                metadata["name"],
                f"Precondition failed: {label} in precondition: {wanted},"
                f" {label} in object meta: {metadata.get(field)}",
            )
