"""Which endpoints to listen to: DCS members, static peers, resolved DNS names.

Three sources name peers: the gossip URL each member publishes in the DCS,
the static ``peers`` of the config, and the addresses those static entries
resolve to (a StatefulSet's headless Service name resolves to every pod).
:func:`endpoints` merges them, pure; :func:`resolve_in_background` does the
blocking DNS lookups in a thread of their own and tells the actor the result,
so the actor never waits on a resolver.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Iterable

from actors.runtime.registry import Registry
from actors.runtime.zmq_io import tcp
from actors.runtime.zmq_server import tcp_endpoint
from messages.base import ActorName
from messages.cluster import MemberStatus
from messages.gossip import PeersResolved

log = logging.getLogger(__name__)

Lookup = Callable[[str, int], list[str]]
"""host, port -> the IP addresses of host (may raise OSError)."""


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` or ``tcp://host:port`` (IPv6 in brackets) as (host, port)."""
    text = address.removeprefix("tcp://")
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def endpoints(
    *,
    own: str,
    members: Iterable[MemberStatus],
    static: Iterable[str],
    resolved: Iterable[str],
) -> frozenset[str]:
    """Every peer endpoint to connect to, without our own.

    A static entry that is an IP address is used as is; a DNS name counts only
    through what it resolved to (until the first lookup, not at all).
    """
    found = {m.gossip_url for m in members if m.gossip_url}
    for address in static:
        host, port = split_address(address)
        if is_ip(host):
            found.add(tcp_endpoint(host, port))
    found |= set(resolved)
    return frozenset(tcp(e) for e in found) - {tcp(own)}


def needs_lookups(static: Iterable[str]) -> bool:
    """Whether any static peer is a DNS name (whose addresses may change)."""
    return not all(is_ip(split_address(a)[0]) for a in static)


def default_lookup(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def resolve(static: Iterable[str], lookup: Lookup) -> frozenset[str]:
    """The endpoints the DNS names among `static` resolve to; a failed name adds none."""
    found: set[str] = set()
    for address in static:
        host, port = split_address(address)
        if is_ip(host):
            continue
        try:
            found |= {tcp_endpoint(ip, port) for ip in lookup(host, port)}
        except OSError as exc:
            log.debug("cannot resolve gossip peer %s: %s", host, exc)
    return frozenset(found)


def resolve_in_background(
    static: tuple[str, ...], registry: Registry, owner: ActorName, lookup: Lookup
) -> threading.Thread | None:
    """Resolve the DNS names among `static` in a daemon thread; tell `owner` PeersResolved."""
    if not needs_lookups(static):
        return None

    def work() -> None:
        registry.tell(owner, PeersResolved(endpoints=resolve(static, lookup)))

    thread = threading.Thread(target=work, name=f"{owner}-resolve", daemon=True)
    thread.start()
    return thread
