"""Two listeners on one address and port: found in the file, not at the second bind.

A node opens up to four listening sockets -- PostgreSQL, the REST API, gossip
and the console (metrics are served by the REST API) -- and a config that
gives two of them the same port fails only when the second one binds, as a
crash of one actor or a PostgreSQL that will not start.  This finds it
beforehand, as :func:`listener_conflicts` over plain (name, hosts, port)
triples, so it is tested without a config file.

Two listeners clash when their ports are equal and their hosts overlap: the
same host (``localhost`` standing for its loopback addresses), or a wildcard
(``*``, ``0.0.0.0``, ``::``) on either side, since a wildcard binds every
interface.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools

from node.config.values import WILDCARD_HOSTS

_LOCALHOST = frozenset({"127.0.0.1", "::1"})


@dataclasses.dataclass(frozen=True, slots=True)
class Listener:
    """One listening socket as the file gives it: the key that sets it, its hosts and port."""

    key: str
    hosts: tuple[str, ...]
    port: int


def _canonical(host: str) -> frozenset[str]:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return _LOCALHOST
    try:
        return frozenset({str(ipaddress.ip_address(name))})
    except ValueError:
        return frozenset({name})


def _shared_host(a: Listener, b: Listener) -> str | None:
    """The host both listen on (or a wildcard one of them uses), None when they are apart."""
    for left, right in itertools.product(a.hosts, b.hosts):
        for host in (left, right):
            if host in WILDCARD_HOSTS:
                return host
        if _canonical(left) & _canonical(right):
            return left
    return None


def listener_conflicts(listeners: list[Listener]) -> list[str]:
    """One problem per pair of listeners that would take the same address and port."""
    problems = []
    for a, b in itertools.combinations(listeners, 2):
        if a.port != b.port:
            continue
        host = _shared_host(a, b)
        if host is not None:
            where = f"[{host}]" if ":" in host else host
            problems.append(
                f"{a.key} and {b.key}: both listen on {where}:{a.port}; give each its own port"
            )
    return problems
