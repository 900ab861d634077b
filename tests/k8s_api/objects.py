"""Checking and completing object bodies on their way into the store.

The server does what the real API server's generic registry does to every
body it persists, and no schema validation beyond that: the body must be a
JSON object of the URL's kind; ``metadata.namespace`` comes from the URL (a
different one is a 400); the name comes from ``metadata.name``, from the URL
(PUT/PATCH, where a different one is a 400) or from ``generateName`` plus five
random characters; labels and annotations must be maps of strings (the Go
decoder rejects anything else with a 400); ``uid`` and ``creationTimestamp``
are set once and never change.
"""

from __future__ import annotations

import copy
import random
import re
import uuid
from typing import Any

from .errors import bad_request, invalid
from .kinds import Kind, now_timestamp
from .patches import json_equal

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# The alphabet of k8s.io/apimachinery/pkg/util/rand: no vowels, no confusable digits.
_RAND_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_IMMUTABLE = ("uid", "creationTimestamp")


def checked_body(kind: Kind, namespace: str, body: Any, url_name: str | None) -> dict[str, Any]:
    """A deep copy of `body` with kind, apiVersion and namespace filled in, or a 400."""
    if not isinstance(body, dict):
        raise bad_request(f"the body of a {kind.kind} must be a JSON object")
    body_kind = body.get("kind") or kind.kind
    if body_kind != kind.kind or (body.get("apiVersion") or "v1") != "v1":
        raise bad_request(
            f"{body.get('apiVersion')}, Kind={body_kind} cannot be handled as a {kind.kind}"
        )
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise bad_request("metadata must be a JSON object")
    if metadata.get("namespace") and metadata["namespace"] != namespace:
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    if url_name is not None and metadata.get("name") and metadata["name"] != url_name:
        raise bad_request(
            f"the name of the object ({metadata['name']}) does not match the name on the URL"
            f" ({url_name})"
        )
    for field in ("labels", "annotations"):
        _check_string_map(field, metadata.get(field))
    result = copy.deepcopy(body)
    result["kind"], result["apiVersion"] = kind.kind, "v1"
    result["metadata"] = {**result.get("metadata", {}), "namespace": namespace}
    if url_name is not None:
        result["metadata"]["name"] = url_name
    return result


def _check_string_map(field: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise bad_request(
            f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{field}"
            " of type map[string]string"
        )


def new_object(kind: Kind, obj: dict[str, Any], taken: set[str]) -> dict[str, Any]:
    """Name (generateName), uid, timestamp and defaults for an object being created."""
    metadata = obj["metadata"]
    if not metadata.get("name"):
        metadata["name"] = _generate_name(kind, metadata.get("generateName"), taken)
    check_name(kind, metadata["name"])
    metadata["uid"] = str(uuid.uuid4())
    metadata["creationTimestamp"] = now_timestamp()
    if kind.has_status and obj.get("status") is None:
        obj["status"] = {}
    return obj


def _generate_name(kind: Kind, prefix: Any, taken: set[str]) -> str:
    if not prefix or not isinstance(prefix, str):
        raise invalid(
            kind.plural,
            "",
            f'{kind.kind} "" is invalid: metadata.name: Required value:'
            " name or generateName is required",
        )
    while True:
        name = prefix + "".join(random.choices(_RAND_ALPHABET, k=5))
        if name not in taken:
            return name


def check_name(kind: Kind, name: str) -> None:
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        raise invalid(
            kind.plural,
            name,
            f'{kind.kind} "{name}" is invalid: metadata.name: Invalid value: "{name}":'
            " a lowercase RFC 1123 subdomain must consist of lower case alphanumeric"
            " characters, '-' or '.', and must start and end with an alphanumeric character",
        )


def updated_object(kind: Kind, old: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` replacing `old`: the immutable metadata stays what it was."""
    for field in _IMMUTABLE:
        obj["metadata"][field] = old["metadata"][field]
    if kind.has_status and obj.get("status") is None:
        obj["status"] = {}
    return obj


def resource_version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for resourceVersion: such a write changes nothing and bumps nothing."""
    return json_equal(without_version(a), without_version(b))


def without_version(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": metadata}


def with_version(obj: dict[str, Any], version: int) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(version)}}
