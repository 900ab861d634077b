"""Settings whose defaults depend on the host the node runs on.

A config file can leave out where PostgreSQL's binaries are and which address
the other members should use: the loader asks ``pg_config`` and the pod's
downward API (``POD_IP``); and whether PostgreSQL would take the configured
parameter values is for those binaries to say.  Validation reaches these through a
:class:`LoadContext`, so tests supply their own and nothing here reads the
process environment directly.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Callable, Mapping

from pydantic import ValidationInfo

from node.config.values import HostPort, ListenAddress, parse_host_port

CheckParameters = Callable[[str, str | None, Mapping[str, Mapping[str, str]]], list[str]]
"""(bin_dir, os_user, {path in the file: parameters}) -> one problem per refused value."""


@dataclasses.dataclass(frozen=True, slots=True)
class LoadContext:
    """What validation may learn from the host: the pod IP and where PostgreSQL lives."""

    pod_ip: str | None = None
    find_bin_dir: Callable[[], str] | None = None
    """Returns PostgreSQL's bin directory, or raises ValueError saying why it cannot."""
    check_parameters: CheckParameters | None = None
    """Asks the configured PostgreSQL which parameter values it would refuse."""


def pg_config_bin_dir(path: str | None) -> str:
    """``pg_config --bindir`` of the first pg_config on ``path`` (a PATH string)."""
    pg_config = shutil.which("pg_config", path=path)
    if pg_config is None:
        raise ValueError("not set, and no pg_config on PATH to ask; set bin_dir")
    try:
        done = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ValueError(f"not set, and `{pg_config} --bindir` failed ({exc})") from None
    return done.stdout.strip()


def context_of(info: ValidationInfo) -> LoadContext:
    return info.context if isinstance(info.context, LoadContext) else LoadContext()


def resolve_connect_address(value: object, listen: object, info: ValidationInfo) -> HostPort | None:
    """An explicit address, else POD_IP or the one concrete listen host, on the listen port."""
    if value is not None:
        return parse_host_port(value)
    if isinstance(listen, HostPort):
        listen = ListenAddress((listen.host,), listen.port)
    if not isinstance(listen, ListenAddress):
        return None  # listen itself is invalid, and reported as such
    host = context_of(info).pod_ip or listen.sole_host()
    if host is None:
        raise ValueError("required: listen is not one concrete host, and POD_IP is not set")
    return HostPort(host, listen.port)
