"""URL paths and query strings, turned into what the verbs need.

Paths understood (core/v1 only)::

    /api/v1/namespaces/{ns}/{kind}           list, watch, create, delete collection
    /api/v1/namespaces/{ns}/{kind}/{name}    get, replace, patch, delete
    /api/v1/{kind}                           list or watch across namespaces
    /api/v1/watch/namespaces/{ns}/{kind}[/{name}], /api/v1/watch/{kind}
                                             the legacy watch paths

where kind is endpoints, configmaps, pods or services.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from .kinds import KINDS, Kind, parse_bool, parse_int
from .selectors import FieldRequirement, LabelSelector, ObjectFilter, parse_field_selector

# A watch without timeoutSeconds: the real server picks 30-60 minutes.
DEFAULT_WATCH_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Route:
    kind: Kind
    namespace: str | None  # None: across all namespaces
    name: str | None  # None: the collection
    legacy_watch: bool = False


def parse_path(path: str) -> Route | None:
    """The resource a path names, or None for a path the server does not serve."""
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts[:2] != ["api", "v1"]:
        return None
    rest = parts[2:]
    legacy_watch = bool(rest) and rest[0] == "watch"
    rest = rest[1:] if legacy_watch else rest
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not 1 <= len(rest) <= 2 or rest[0] not in KINDS or not all(rest):
        return None
    if namespace is None and len(rest) == 2:
        return None  # these kinds are namespaced: a name needs a namespace
    name = rest[1] if len(rest) == 2 else None
    return Route(KINDS[rest[0]], namespace, name, legacy_watch)


class Query:
    """Query parameters (the last of repeated ones wins), read the way the API server does."""

    def __init__(self, query_string: str) -> None:
        self._params = dict(parse_qsl(query_string, keep_blank_values=True))

    def get(self, name: str) -> str | None:
        return self._params.get(name)

    def flag(self, name: str) -> bool:
        value = self._params.get(name)
        return False if value is None else parse_bool(name, value)

    def seconds(self, name: str, default: float) -> float:
        value = self._params.get(name)
        number = 0 if value is None else parse_int(name, value)
        return float(number) if number > 0 else default

    def resource_version(self) -> int | None:
        """The resourceVersion to watch from; None (also for "" and "0"): the current state."""
        value = self._params.get("resourceVersion") or "0"
        number = parse_int("resourceVersion", value)
        return number or None


def is_watch(route: Route, query: Query) -> bool:
    return route.legacy_watch or query.flag("watch")


def selection(route: Route, query: Query) -> ObjectFilter:
    """What a list, watch or collection delete on `route` selects."""
    fields = parse_field_selector(query.get("fieldSelector") or "", route.kind.field_labels)
    if route.name is not None:  # watching one object by name
        fields = (*fields, FieldRequirement("metadata.name", "=", route.name))
    return ObjectFilter(
        plural=route.kind.plural,
        namespace=route.namespace,
        labels=LabelSelector.parse(query.get("labelSelector") or ""),
        fields=fields,
    )
