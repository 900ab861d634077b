"""The verbs on resources: from a parsed request to a reply or a watch to start.

Bodies are read the way the real server reads them: POST and PUT take
``application/json``; PATCH takes the three patch media types of
:mod:`patches`; anything else is 415 UnsupportedMediaType (YAML, protobuf and
server-side apply are not offered); JSON that does not parse is 400.  DELETE
takes optional DeleteOptions, of which only ``preconditions`` matter.

Lists carry ``metadata.resourceVersion``; their items, as on the real
server, carry no kind/apiVersion of their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import patches
from .errors import (
    bad_request,
    invalid,
    method_not_allowed,
    success_status,
    unsupported_media_type,
)
from .routing import DEFAULT_WATCH_TIMEOUT, Query, Route, is_watch, selection
from .store import Object, Store
from .watch import WatchOptions

_JSON = "application/json"


@dataclass(frozen=True)
class Request:
    method: str
    route: Route
    query: Query
    content_type: str  # media type only, lower-case, parameters stripped
    body: bytes


@dataclass(frozen=True)
class Reply:
    code: int
    body: dict[str, Any]


def media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


def handle(store: Store, request: Request) -> Reply | WatchOptions:
    """Run the verb; a WatchOptions answer asks the caller to stream a watch."""
    route, method = request.route, request.method
    if route.name is None or route.legacy_watch:
        return _collection_verb(store, request)
    if method == "GET":
        if is_watch(route, request.query):
            return watch_options(request)
        return Reply(200, store.get(route.kind, _namespace(route), route.name))
    if method == "PUT":
        body = _json_body(request, (_JSON,))
        return Reply(200, store.replace(route.kind, _namespace(route), route.name, body))
    if method == "PATCH":
        return Reply(200, _patch(store, request))
    if method == "DELETE":
        return _delete(store, request)
    raise method_not_allowed(method)


def _collection_verb(store: Store, request: Request) -> Reply | WatchOptions:
    route, method = request.route, request.method
    if method == "GET":
        if is_watch(route, request.query):
            return watch_options(request)
        items, version = store.list_objects(selection(route, request.query))
        return Reply(200, _list_body(route, items, version))
    if route.legacy_watch or route.namespace is None:
        raise method_not_allowed(method)
    if method == "POST":
        body = _json_body(request, (_JSON,))
        return Reply(201, store.create(route.kind, route.namespace, body))
    if method == "DELETE":
        deleted, version = store.delete_collection(route.kind, selection(route, request.query))
        return Reply(200, _list_body(route, deleted, version))
    raise method_not_allowed(method)


def watch_options(request: Request) -> WatchOptions:
    return WatchOptions(
        kind=request.route.kind,
        selection=selection(request.route, request.query),
        resource_version=request.query.resource_version(),
        timeout=request.query.seconds("timeoutSeconds", DEFAULT_WATCH_TIMEOUT),
        bookmarks=request.query.flag("allowWatchBookmarks"),
    )


def _namespace(route: Route) -> str:
    assert route.namespace is not None  # parse_path never gives a name without one
    return route.namespace


def _list_body(route: Route, items: list[Object], version: int) -> dict[str, Any]:
    return {
        "kind": route.kind.list_kind,
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(version)},
        "items": [{k: v for k, v in i.items() if k not in ("kind", "apiVersion")} for i in items],
    }


def _json_body(request: Request, accepted: tuple[str, ...]) -> Any:
    # No Content-Type reads as JSON, as on the real server (the official client
    # sends creates and replaces without one).
    if request.content_type and request.content_type not in accepted:
        raise unsupported_media_type(request.content_type, accepted)
    try:
        return json.loads(request.body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"error decoding request body: {exc}") from None


def _patch(store: Store, request: Request) -> Object:
    route = request.route
    assert route.name is not None
    kind, name = route.kind, route.name
    if request.content_type not in patches.PATCH_TYPES:
        raise unsupported_media_type(request.content_type, patches.PATCH_TYPES)
    patch = _json_body(request, patches.PATCH_TYPES)

    def patcher(current: Object) -> Any:
        try:
            return patches.apply_patch(request.content_type, current, patch)
        except patches.PatchError as exc:
            raise invalid(kind.plural, name, str(exc)) from None

    return store.patch(kind, _namespace(route), name, patcher)


def _delete(store: Store, request: Request) -> Reply:
    route = request.route
    assert route.name is not None
    options = _json_body(request, (_JSON,)) if request.body.strip() else {}
    preconditions = options.get("preconditions") if isinstance(options, dict) else None
    if not isinstance(preconditions, dict):
        preconditions = {}
    deleted = store.delete(route.kind, _namespace(route), route.name, preconditions)
    if route.kind.delete_returns_object:
        return Reply(200, deleted)
    return Reply(200, success_status(route.name, route.kind.plural, deleted["metadata"]["uid"]))
