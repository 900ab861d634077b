"""Static peers given by DNS name are looked up on a timer; addresses need none."""

from __future__ import annotations

from gossip_support import GOSSIP, StartMember, node_status  # type: ignore[import-not-found]
from loopback_support import free_port, wait_until  # type: ignore[import-not-found]

from actors.gossip.peers import needs_lookups


def test_only_a_dns_name_among_the_static_peers_needs_lookups() -> None:
    assert not needs_lookups(())
    assert not needs_lookups(("127.0.0.1:5000", "[::1]:5000", "tcp://10.0.0.1:7"))
    assert needs_lookups(("127.0.0.1:5000", "pgactor-1.pgactor:5000"))


def test_a_peer_known_only_by_its_dns_name_is_heard(start_member: StartMember) -> None:
    """node1 knows node2 only as localhost:<port>: the lookup timer must run for it."""
    ports = [free_port() for _ in range(2)]
    a = start_member("node1", ports[0], [], peer_names=(f"localhost:{ports[1]}",))
    b = start_member("node2", ports[1], [ports[0]])
    for m in (a, b):
        m.registry.tell(GOSSIP, node_status(m.name))
    wait_until(lambda: a.up() == {"node2"}, 5, "node1 hears node2 through the looked-up name")
