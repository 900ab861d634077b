"""edit-config: the cluster config as YAML, changed in $EDITOR or by ``--set``, diffed.

The text is the DCS's Patroni-compatible shape (``ttl``, ``loop_wait``,
``postgresql.parameters`` ...), and the edited text is validated by the same
schema that validates ``bootstrap.dcs``, so a typo is reported before anything
is sent.
"""

from __future__ import annotations

import difflib
import os
import shlex
import subprocess
import tempfile
from collections.abc import Iterable
from typing import Any

import yaml

from messages.config import DynamicConfig
from node.config import ConfigError, dynamic_config_from_dict, dynamic_config_to_dict


def config_text(config: DynamicConfig) -> str:
    return yaml.safe_dump(dynamic_config_to_dict(config), sort_keys=False)


def apply_sets(text: str, sets: Iterable[str]) -> str:
    """``key.sub=value`` (YAML value; empty removes the key) applied to the YAML `text`."""
    data = yaml.safe_load(text) or {}
    for item in sets:
        path, eq, raw = item.partition("=")
        if not eq or not path.strip():
            raise ConfigError([f"--set {item!r}: expected key=value"])
        _set(data, [p for p in path.strip().split(".") if p], yaml.safe_load(raw) if raw else None)
    return yaml.safe_dump(data, sort_keys=False)


def _set(data: dict[str, Any], path: list[str], value: Any) -> None:
    target = data
    for key in path[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = target[key] = {}
        target = child
    if value is None:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


def edit(text: str, env: dict[str, str] | None = None) -> str:
    """Open `text` in $VISUAL/$EDITOR (vi without either); returns what was saved."""
    env = dict(os.environ if env is None else env)
    editor = env.get("VISUAL") or env.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile(
        "w", suffix=".yaml", prefix="pgactor-config-", delete=False
    ) as f:
        f.write(text)
        path = f.name
    try:
        subprocess.run([*shlex.split(editor), path], check=True)
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ConfigError([f"editor {editor!r} failed: {exc}"]) from None
    finally:
        os.unlink(path)


def parse(text: str) -> DynamicConfig:
    """The edited text as a validated DynamicConfig, or ConfigError listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML ({type(exc).__name__})"]) from None
    if not isinstance(data, dict):
        raise ConfigError(["expected a mapping of settings"])
    return dynamic_config_from_dict(data)


def diff(old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), "current", "edited"
    )
    return "".join(lines)
