"""Where ``pgactor ctl`` and ``pgactor console`` find the cluster and their keys.

In order: ``-c FILE``, then ``$PGACTOR_CTL_CONFIG``, then the file the demo
writes (``$PGACTOR_DEMO_DIR/ctl.yaml``, by default
``/tmp/pgactor-demo/ctl.yaml``).  The file is either a ctl file::

    scope: demo
    console: [127.0.0.1:7101, 127.0.0.1:7102, 127.0.0.1:7103]
    server_key: /tmp/pgactor-demo/curve/server.key        # the cluster public key
    client_key: /tmp/pgactor-demo/curve/admin.key_secret  # this admin's keypair
    timeout: 5

or a node's own config, whose ``console`` section gives the address and whose
CURVE keys directory gives ``server.key`` (the client keypair then defaults
to ``<keys dir>/admin.key_secret``; ``--client-key`` overrides it).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from actors.runtime import zmq_io
from node.config.errors import ConfigError
from node.config.loader import read_yaml

CTL_CONFIG_VAR = "PGACTOR_CTL_CONFIG"
DEMO_DIR_VAR = "PGACTOR_DEMO_DIR"
DEMO_DIR = "/tmp/pgactor-demo"
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_CLIENT = "admin"


class TargetError(ValueError):
    """No usable cluster description; the text says what to fix."""


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    addresses: tuple[str, ...]
    """Console endpoints (host:port), tried in order."""
    server_key: bytes
    client: zmq_io.KeyPair
    scope: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    source: str = ""


def config_path(explicit: str | None, env: Mapping[str, str]) -> Path:
    if explicit:
        return Path(explicit)
    if env.get(CTL_CONFIG_VAR):
        return Path(env[CTL_CONFIG_VAR])
    return Path(env.get(DEMO_DIR_VAR) or DEMO_DIR) / "ctl.yaml"


def find_target(
    explicit: str | None,
    env: Mapping[str, str] | None = None,
    client_key: str | None = None,
) -> Target:
    """The cluster to talk to, or TargetError saying where we looked and what was wrong."""
    env = os.environ if env is None else env
    path = config_path(explicit, env)
    if not explicit and not env.get(CTL_CONFIG_VAR) and not path.exists():
        raise TargetError(
            f"no cluster given: use -c FILE or set {CTL_CONFIG_VAR} "
            f"(the demo writes {path} when it starts)"
        )
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        raise TargetError(str(exc)) from None
    try:
        if "console" in data and isinstance(data["console"], list):
            return _from_ctl_file(data, path, client_key)
        return _from_node_config(data, path, client_key)
    except zmq_io.KeysError as exc:
        raise TargetError(f"{path}: {exc}") from None


def _from_ctl_file(data: Mapping[str, Any], path: Path, client_key: str | None) -> Target:
    addresses = tuple(str(a) for a in data["console"])
    if not addresses:
        raise TargetError(f"{path}: console: list at least one host:port")
    server = _required(data, "server_key", path)
    client = client_key or _required(data, "client_key", path)
    return Target(
        addresses=addresses,
        server_key=zmq_io.load_public_key(_beside(path, server)),
        client=zmq_io.load_keypair(_beside(path, client)),
        scope=str(data["scope"]) if data.get("scope") else None,
        timeout_s=_timeout(data.get("timeout"), path),
        source=str(path),
    )


def _from_node_config(data: Mapping[str, Any], path: Path, client_key: str | None) -> Target:
    console = data.get("console")
    if not isinstance(console, Mapping):
        raise TargetError(
            f"{path}: neither a ctl file (console: [...]) nor a node config with console"
        )
    gossip_section = data.get("gossip")
    gossip: Mapping[str, Any] = gossip_section if isinstance(gossip_section, Mapping) else {}
    address = console.get("connect_address") or console.get("listen") or "127.0.0.1:7100"
    keys_dir = console.get("curve_keys_dir") or gossip.get("curve_keys_dir")
    public = console.get("curve_public_key") or gossip.get("curve_public_key")
    if public:
        server_key = zmq_io.z85_key(str(public), "curve_public_key")
    elif keys_dir:
        server_key = zmq_io.load_public_key(_beside(path, f"{keys_dir}/{zmq_io.SERVER_CERT}.key"))
    else:
        raise TargetError(f"{path}: no CURVE keys in console or gossip")
    if client_key is None and not keys_dir:
        raise TargetError(f"{path}: keys are inline; give this admin's keypair with --client-key")
    client = client_key or f"{keys_dir}/{DEFAULT_CLIENT}.key_secret"
    return Target(
        addresses=(str(address),),
        server_key=server_key,
        client=zmq_io.load_keypair(_beside(path, client)),
        scope=str(data["scope"]) if data.get("scope") else None,
        source=str(path),
    )


def _required(data: Mapping[str, Any], key: str, path: Path) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise TargetError(f"{path}: {key}: required (a file path)")
    return value


def _beside(config: Path, name: str) -> Path:
    """A path from the file, relative to the file's own directory."""
    path = Path(name).expanduser()
    return path if path.is_absolute() else config.parent / path


def _timeout(value: object, path: Path) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_S
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise TargetError(f"{path}: timeout: expected a number of seconds > 0")
    return float(value)
