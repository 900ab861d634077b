"""The kinds this server stores, and small value-parsing helpers.

Only core/v1 Endpoints, ConfigMaps, Pods and Services exist.  What differs
between them is captured in :class:`Kind`, copied from the real registry:
DELETE of a pod or service answers the object while endpoints and configmaps
answer a ``Status``; an Endpoints PUT to a missing name creates it
(``AllowCreateOnUpdate``); pods support a few more field selectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import bad_request

_METADATA_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
_POD_FIELDS = _METADATA_FIELDS | {
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
}


@dataclass(frozen=True)
class Kind:
    """One resource type: its URL plural, its ``kind`` and its registry quirks."""

    plural: str
    kind: str
    delete_returns_object: bool = False
    create_on_update: bool = False
    has_status: bool = False
    field_labels: frozenset[str] = _METADATA_FIELDS

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


KINDS: dict[str, Kind] = {
    k.plural: k
    for k in (
        Kind("endpoints", "Endpoints", create_on_update=True),
        Kind("configmaps", "ConfigMap"),
        Kind("pods", "Pod", delete_returns_object=True, has_status=True, field_labels=_POD_FIELDS),
        Kind("services", "Service", delete_returns_object=True),
    )
}

_TRUE = frozenset({"1", "t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"0", "f", "F", "false", "False", "FALSE"})
_DIGITS = re.compile(r"[0-9]+")


def parse_bool(name: str, value: str) -> bool:
    """Go's ``strconv.ParseBool``, which is how the API server reads boolean params."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise bad_request(f'invalid value for {name}: strconv.ParseBool: parsing "{value}"')


def parse_int(name: str, value: str) -> int:
    """A non-negative decimal integer query parameter (timeoutSeconds, resourceVersion)."""
    if not _DIGITS.fullmatch(value):
        raise bad_request(f'invalid value for {name}: "{value}"')
    return int(value)


def now_timestamp() -> str:
    """RFC 3339 in UTC at second precision, as metav1.Time serialises."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
