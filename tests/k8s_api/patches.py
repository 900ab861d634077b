"""The three PATCH flavours the server understands.

- ``application/merge-patch+json`` (RFC 7386): objects merge key by key, a
  null deletes the key, anything else (lists included) replaces.
- ``application/strategic-merge-patch+json``: what the official client sends
  for a dict body.  Implemented as a merge patch that also honours the
  ``$patch: replace|delete`` directive on maps; lists are replaced whole (the
  real server merges some lists by key, e.g. pod containers by name; none of
  the fields pgactor patches need that, and Endpoints.subsets is atomic).
- ``application/json-patch+json`` (RFC 6902): add, remove, replace, move,
  copy, test over JSON pointers (``~0``/``~1`` escapes, ``-`` to append).

Errors follow the real server: an undecodable patch is 400 BadRequest, a
patch that does not apply (failed test, missing path) is 422 Invalid.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import bad_request

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH)


class PatchError(Exception):
    """A patch that decodes but does not apply; reported as 422 Invalid."""


def apply_patch(content_type: str, target: dict[str, Any], patch: Any) -> Any:
    """Apply `patch` of the given media type to a copy of `target`."""
    if content_type == JSON_PATCH:
        return json_patch(target, patch)
    if not isinstance(patch, dict):
        raise bad_request("a merge patch must be a JSON object")
    if content_type == MERGE_PATCH:
        return merge_patch(target, patch)
    return strategic_merge_patch(target, patch)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386; never mutates `target`."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Merge patch plus the map-level ``$patch`` directive; other ``$`` keys are dropped."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return _strip_directives(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # $retainKeys, $setElementOrder/..., $deleteFromPrimitiveList/...
        if value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(key, None)
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not k.startswith("$") and v is not None
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 over a deep copy of `target`; 400 if undecodable, PatchError if it fails."""
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise bad_request(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            " (a JSON patch must be a list of operation objects)"
        )
    doc = copy.deepcopy(target)
    for operation in operations:
        doc = _apply_operation(doc, operation)
    return doc


def _apply_operation(doc: Any, operation: dict[str, Any]) -> Any:
    op = operation.get("op")
    path = _pointer(operation, "path")
    if op == "add":
        return _add(doc, path, copy.deepcopy(_value(operation)))
    if op == "remove":
        return _remove(doc, path)[0]
    if op == "replace":
        _get(doc, path)  # must exist
        return _add(_remove(doc, path)[0], path, copy.deepcopy(_value(operation)))
    if op == "test":
        if not json_equal(_get(doc, path), _value(operation)):
            raise PatchError(f"testing value {operation.get('path')} failed: test failed")
        return doc
    if op in ("move", "copy"):
        source = _pointer(operation, "from")
        if op == "move" and path[: len(source)] == source and len(path) > len(source):
            raise PatchError("move: a location cannot be moved into one of its children")
        value = copy.deepcopy(_get(doc, source))
        if op == "move":
            doc = _remove(doc, source)[0]
        return _add(doc, path, value)
    raise PatchError(f"Unexpected kind: {op}")


def _value(operation: dict[str, Any]) -> Any:
    if "value" not in operation:
        raise PatchError(f"{operation.get('op')} operation does not apply: missing value")
    return operation["value"]


def _pointer(operation: dict[str, Any], key: str) -> list[str]:
    text = operation.get(key)
    if not isinstance(text, str):
        raise PatchError(f"{operation.get('op')} operation missing {key!r} string")
    if text == "":
        return []
    if not text.startswith("/"):
        raise PatchError(f"JSON pointer must start with '/': {text!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in text[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"array index {index} out of bounds")
    return index


def _get(doc: Any, path: list[str]) -> Any:
    node = doc
    for token in path:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, allow_end=False)]
        else:
            raise PatchError(f"path /{'/'.join(path)} does not exist")
    return node


def _add(doc: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _get(doc, path[:-1])
    if isinstance(parent, dict):
        parent[path[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, path[-1], allow_end=True), value)
    else:
        raise PatchError(f"add: parent of /{'/'.join(path)} is not a container")
    return doc


def _remove(doc: Any, path: list[str]) -> tuple[Any, Any]:
    """Remove the value at `path`; returns (new doc, removed value)."""
    if not path:
        return None, doc
    parent = _get(doc, path[:-1])
    if isinstance(parent, dict) and path[-1] in parent:
        return doc, parent.pop(path[-1])
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, path[-1], allow_end=False))
    raise PatchError(f"remove: path /{'/'.join(path)} does not exist")


def json_equal(a: Any, b: Any) -> bool:
    """JSON value equality: unlike Python's ==, true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b
