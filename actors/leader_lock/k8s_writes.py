"""Writes to the records objects: compare-and-set, create-if-absent, upsert, clear.

A record's version is its object's resourceVersion, so a compare-and-set is
a JSON merge patch naming ``metadata.resourceVersion`` (409 if the object
moved on), and "only if the object does not exist" is a create (409 if it
does).  Every answer -- the written object, or the object read back after a
lost compare -- goes into the feed, so the cache learns what won.

"Only if the *record* is absent" is subtler: several records share one
object (config, initialize and history live on ``<scope>-config``), so the
write names the version of the object as it was seen without the record, and
a conflict caused by another record's change is retried.  The cache may lag,
so a record the cache shows as present is believed only once the server
confirms it.
"""

from __future__ import annotations

import dataclasses
import logging

from actors.leader_lock import k8s_records as kr
from actors.leader_lock.backoff import Deadline
from actors.leader_lock.contract import DcsConflict, DcsError
from actors.leader_lock.k8s_client import (
    AlreadyExists,
    ApiRejected,
    Conflict,
    K8sClient,
    NotFound,
)
from actors.leader_lock.k8s_feed import Family, Feed, ObjectState

log = logging.getLogger(__name__)

_TRIES = 4
"""Attempts of a write that keeps meeting concurrent changes before it gives up."""
_OBJECTS = Family.OBJECTS


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Write:
    """What one write puts on one records object."""

    name: str
    annotations: kr.Annotations
    subsets: list[kr.Json] | None = None
    """Endpoints mode, leader object only: the new subsets (None: leave them)."""
    identifiable: bool = True
    """The annotations are unique to this write, so finding them on the object
    after a retried attempt's conflict proves the write was ours."""


class ObjectWriter:
    """Writes for one cluster's records objects; thread-safe (the feed and client are)."""

    def __init__(self, client: K8sClient, feed: Feed, layout: kr.Layout) -> None:
        self._client = client
        self._feed = feed
        self._layout = layout

    def cas(self, write: Write, version: int | None, deadline: Deadline) -> bool:
        """Write iff the object is still at ``version`` (None: iff it does not exist)."""
        try:
            if version is None:
                self._create(write, deadline)
            else:
                self._patch(write, deadline, version)
            return True
        except NotFound:
            self._feed.forget(_OBJECTS, write.name)
            return False
        except Conflict as e:
            current = self.read(write.name, deadline)  # a lost compare updates the cache
            if not (e.repeated and write.identifiable and current is not None):
                return False
            # After a retry the conflict may be our own first attempt's doing.
            return kr.holds(current.annotations, write.annotations)

    def put_if_absent(self, write: Write, key: str, deadline: Deadline) -> bool:
        """Write iff record ``key`` is absent from the object (or the object is missing)."""
        state = self._feed.state(_OBJECTS, write.name)
        confirmed = False
        for _ in range(_TRIES):
            if state is not None and kr.record_raw(key, state.annotations) is not None:
                if confirmed:
                    return False
                state, confirmed = self.read(write.name, deadline), True  # the cache may lag
                continue
            if self.cas(write, None if state is None else state.version, deadline):
                return True
            state, confirmed = self._feed.state(_OBJECTS, write.name), True  # as read back
        return False

    def upsert(self, write: Write, deadline: Deadline) -> bool:
        """Write unconditionally, creating the object if it is missing."""
        exists = self._feed.state(_OBJECTS, write.name) is not None
        for _ in range(_TRIES):
            try:
                if exists:
                    self._patch(write, deadline)
                else:
                    self._create(write, deadline)
                return True
            except NotFound:
                self._feed.forget(_OBJECTS, write.name)
                exists = False
            except AlreadyExists:
                exists = True
        raise DcsConflict(f"{write.name} keeps appearing and disappearing; not written")

    def clear(self, write: Write, deadline: Deadline) -> bool:
        """Remove annotations unconditionally; a missing object holds nothing to remove."""
        try:
            self._patch(write, deadline)
        except NotFound:
            self._feed.forget(_OBJECTS, write.name)
        return True

    def read(self, name: str, deadline: Deadline) -> ObjectState | None:
        """The object as the server holds it now (None: missing), applied to the feed."""
        try:
            obj = self._client.get(self._layout.kind, name, deadline)
        except NotFound:
            self._feed.forget(_OBJECTS, name)
            return None
        self._feed.apply(_OBJECTS, obj)
        return ObjectState.of(obj)

    def _create(self, write: Write, deadline: Deadline) -> None:
        body = kr.new_object(self._layout, write.name, write.annotations, write.subsets)
        self._feed.apply(_OBJECTS, self._client.create(self._layout.kind, body, deadline))
        if write.name == self._layout.config and self._layout.use_endpoints:
            self._guard_config_endpoints(deadline)

    def _patch(self, write: Write, deadline: Deadline, version: int | None = None) -> None:
        body = kr.object_patch(self._layout, write.annotations, version, write.subsets)
        obj = self._client.patch(self._layout.kind, write.name, body, deadline)
        self._feed.apply(_OBJECTS, obj)

    def _guard_config_endpoints(self, deadline: Deadline) -> None:
        """Create the headless Service ``<scope>-config``, as Patroni does.

        Without a Service of the same name the endpoints controller may delete
        the Endpoints as orphaned.  Failing here does not fail the write, and a
        Role need not allow it (k8s/ ships the Service; see k8s_permissions).
        """
        try:
            self._client.create("services", kr.config_service(self._layout), deadline)
        except AlreadyExists:
            pass
        except ApiRejected as e:  # not granted (403): the deployment must ship it
            log.info(
                "not creating the Service %s (%s): the deployment must provide it",
                self._layout.config,
                e,
            )
        except DcsError as e:
            log.warning("could not create the Service %s: %s", self._layout.config, e)
