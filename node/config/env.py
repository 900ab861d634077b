"""Environment overrides: the variables that may change the file's settings.

A container image ships one config file and each pod varies it through its
environment.  Three kinds of variables apply, in this order, each over the
file:

* named overrides for the settings that usually vary (``PGACTOR_SCOPE``,
  ``PGACTOR_SUPERUSER_PASSWORD``, ...; see :data:`NAMED`);
* the generic form ``PGACTOR__<KEY>__<SUBKEY>...``, which may set any key; its
  value is YAML (so ``30``, ``true`` and ``["a", "b"]`` keep their types)
  unless the key holds text, which is taken verbatim -- a password of ``012``
  stays ``012``;
* the Kubernetes downward API (``POD_NAME``, ``POD_IP``, ``POD_NAMESPACE``),
  which fills only what nothing else set.

Any other ``PGACTOR_`` variable is an error: a misspelt override that is
silently ignored is how a node ends up in the wrong cluster.

``PGACTOR_REQUIRED_ENV`` (names, comma- or space-separated) sets nothing: it
names variables that must be set and not empty.  A Kubernetes pod takes its
passwords from a Secret through optional references, so a missing Secret
starts the container without them; this makes the node stop at once, naming
what is missing in its log, instead of the kubelet failing the container
where only ``kubectl describe`` shows why.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from collections.abc import Mapping
from typing import Any

import yaml

from node.config.base import is_text, section_type, strip_type
from node.config.errors import closest, format_path, nearest
from node.config.schema import NodeModel
from node.config.values import ip_address_text

PREFIX = "PGACTOR_"
GENERIC_PREFIX = "PGACTOR__"

_AUTH = ("postgresql", "authentication")
NAMED: Mapping[str, tuple[str, ...]] = {
    "PGACTOR_SCOPE": ("scope",),
    "PGACTOR_NAME": ("name",),
    "PGACTOR_NAMESPACE": ("namespace",),
    "PGACTOR_RESTAPI_LISTEN": ("restapi", "listen"),
    "PGACTOR_RESTAPI_CONNECT_ADDRESS": ("restapi", "connect_address"),
    "PGACTOR_RESTAPI_USERNAME": ("restapi", "authentication", "username"),
    "PGACTOR_RESTAPI_PASSWORD": ("restapi", "authentication", "password"),
    "PGACTOR_ETCD3_HOSTS": ("etcd3", "hosts"),
    "PGACTOR_POSTGRESQL_DATA_DIR": ("postgresql", "data_dir"),
    "PGACTOR_POSTGRESQL_LISTEN": ("postgresql", "listen"),
    "PGACTOR_POSTGRESQL_CONNECT_ADDRESS": ("postgresql", "connect_address"),
    "PGACTOR_SUPERUSER_USERNAME": (*_AUTH, "superuser", "username"),
    "PGACTOR_SUPERUSER_PASSWORD": (*_AUTH, "superuser", "password"),
    "PGACTOR_REPLICATION_USERNAME": (*_AUTH, "replication", "username"),
    "PGACTOR_REPLICATION_PASSWORD": (*_AUTH, "replication", "password"),
    "PGACTOR_REWIND_USERNAME": (*_AUTH, "rewind", "username"),
    "PGACTOR_REWIND_PASSWORD": (*_AUTH, "rewind", "password"),
    "PGACTOR_KUBERNETES_NAMESPACE": ("kubernetes", "namespace"),
    "PGACTOR_KUBERNETES_LABELS": ("kubernetes", "labels"),
}
"""Named overrides and the key path each one sets."""

_JSON_VALUED = frozenset({"PGACTOR_KUBERNETES_LABELS"})
NOT_FOR_NODES = frozenset({"PGACTOR_CTL_CONFIG", "PGACTOR_DEMO_DIR", "PGACTOR_KEEP_TEST_DIR"})
REQUIRED = "PGACTOR_REQUIRED_ENV"
"""Names the variables that must be set (see the module docstring)."""
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""Variables of pgactor's tools (ctl, console, the demo, the tests), which a node ignores."""


class _Rejected(ValueError):
    """A variable that cannot apply; the text says why (never its value)."""


@dataclasses.dataclass(slots=True)
class Overlay:
    """The file's settings with the environment applied, and what that took."""

    data: dict[str, Any]
    origins: dict[tuple[str, ...], str] = dataclasses.field(default_factory=dict)
    """Key path -> the variable that set it, so a problem can name its source."""
    problems: list[str] = dataclasses.field(default_factory=list)
    pod_ip: str | None = None


def apply_environment(data: Mapping[str, Any], env: Mapping[str, str]) -> Overlay:
    """Apply every override in ``env`` to a copy of ``data``; problems are collected, not raised."""
    overlay = Overlay(data=_copy(data))
    named = sorted(
        n
        for n in env
        if n.startswith(PREFIX)
        and not n.startswith(GENERIC_PREFIX)
        and n not in NOT_FOR_NODES
        and n != REQUIRED
    )
    generic = sorted(n for n in env if n.startswith(GENERIC_PREFIX))
    for name in [*named, *generic]:
        try:
            path, value = _override(name, env[name], overlay.data)
            _set(overlay.data, path, value)
        except _Rejected as exc:
            overlay.problems.append(f"{name}: {exc}")
        else:
            overlay.origins[path] = name
    _apply_downward_api(overlay, env)
    overlay.problems += required_problems(env)
    return overlay


def required_problems(env: Mapping[str, str]) -> list[str]:
    """What PGACTOR_REQUIRED_ENV names but ``env`` lacks (or holds empty), as one problem."""
    names = env.get(REQUIRED, "").replace(",", " ").split()
    bad = sorted({n for n in names if not _ENV_NAME.fullmatch(n)})
    if bad:
        return [f"{REQUIRED}: not variable names: {', '.join(bad)}"]
    missing = [n for n in dict.fromkeys(names) if not env.get(n)]
    if not missing:
        return []
    return [
        f"{REQUIRED}: required but not set: {', '.join(missing)}"
        " (in Kubernetes: the Secret they come from is missing or lacks their keys;"
        " see k8s/README.md)"
    ]


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _override(name: str, value: str, data: Mapping[str, Any]) -> tuple[tuple[str, ...], Any]:
    if name.startswith(GENERIC_PREFIX):
        return _generic(name, value)
    if name not in NAMED:
        raise _unknown_variable(name)
    path = NAMED[name]
    if path[0] == "etcd3" and "etcd" in data and "etcd3" not in data:
        path = ("etcd", *path[1:])  # the file uses Patroni's older name for the section
    return path, _json_object(value) if name in _JSON_VALUED else value


def _unknown_variable(name: str) -> _Rejected:
    # Compared without the shared prefix, which would make every name look close.
    match = closest(name.removeprefix(PREFIX), [n.removeprefix(PREFIX) for n in NAMED])
    hint = f"did you mean {PREFIX}{match}?" if match else f"set keys as {GENERIC_PREFIX}KEY__SUBKEY"
    return _Rejected(f"unknown environment variable ({hint})")


def _json_object(value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise _Rejected(f"expected a JSON object ({exc.msg})") from None
    if not isinstance(parsed, dict):
        raise _Rejected("expected a JSON object")
    return parsed


def _generic(name: str, value: str) -> tuple[tuple[str, ...], Any]:
    path = tuple(part.lower() for part in name[len(GENERIC_PREFIX) :].split("__"))
    if not all(path):
        raise _Rejected(f"expected {GENERIC_PREFIX}KEY__SUBKEY..., with no empty key")
    if is_text(_type_at(path)):
        return path, value
    try:
        return path, yaml.safe_load(value)
    except yaml.YAMLError:
        raise _Rejected(f"{format_path(path)}: the value is not valid YAML or JSON") from None


def _type_at(path: tuple[str, ...]) -> Any:
    """The type the key at ``path`` holds, or _Rejected naming the first wrong key."""
    current: Any = NodeModel
    for depth, key in enumerate(path):
        section = section_type(current)
        if section is not None:
            current = section.child(key)
            if current is None:
                where = format_path(path[: depth + 1])
                raise _Rejected(f"{where}: unknown key" + nearest(key, section.keys()))
            continue
        bare = strip_type(current)
        if typing.get_origin(bare) is not dict:
            where = format_path(path[:depth])
            raise _Rejected(f"{where} holds a single value; set all of it with one variable")
        current = typing.get_args(bare)[1]
    return current


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = data
    for depth, key in enumerate(path[:-1]):
        child = target.get(key)
        if child is None:
            child = target[key] = {}
        if not isinstance(child, dict):
            raise _Rejected(f"{format_path(path[: depth + 1])} is not a mapping in the file")
        target = child
    target[path[-1]] = value


def _fill(overlay: Overlay, path: tuple[str, ...], value: str, source: str) -> None:
    """Set ``path`` from the downward API unless the file or an override already did."""
    target = overlay.data
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            return
        target = target[key]
    if target.get(path[-1]) is None:
        target[path[-1]] = value
        overlay.origins[path] = source


def _apply_downward_api(overlay: Overlay, env: Mapping[str, str]) -> None:
    # POD_NAMESPACE and POD_IP matter only to the Kubernetes DCS, so they fill its
    # section when the file chose it and never create one.
    if env.get("POD_NAME"):
        _fill(overlay, ("name",), env["POD_NAME"], "POD_NAME")
    if "kubernetes" in overlay.data and overlay.data["kubernetes"] is None:
        overlay.data["kubernetes"] = {}
    if env.get("POD_NAMESPACE"):
        _fill(overlay, ("kubernetes", "namespace"), env["POD_NAMESPACE"], "POD_NAMESPACE")
    if env.get("POD_IP"):
        try:
            overlay.pod_ip = ip_address_text(env["POD_IP"])
        except ValueError as exc:
            overlay.problems.append(f"POD_IP: {exc}")
            return
        _fill(overlay, ("kubernetes", "pod_ip"), overlay.pod_ip, "POD_IP")
