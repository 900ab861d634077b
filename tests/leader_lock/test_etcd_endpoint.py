"""How a configured etcd host becomes an address to connect to."""

from __future__ import annotations

import pytest

from actors.leader_lock.etcd_transport import Endpoint


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:2379", (False, "127.0.0.1", 2379)),
        ("http://etcd-0", (False, "etcd-0", 2379)),
        ("https://etcd-0", (True, "etcd-0", 443)),
        ("https://etcd-0:2379", (True, "etcd-0", 2379)),
        ("http://[::1]:12379", (False, "::1", 12379)),
    ],
)
def test_a_host_url_names_scheme_host_and_port(url: str, expected: tuple[bool, str, int]) -> None:
    endpoint = Endpoint.parse(url)
    assert (endpoint.tls, endpoint.host, endpoint.port) == expected
    assert endpoint.url == url


@pytest.mark.parametrize("url", ["ftp://etcd-0:2379", "http://", "http://etcd-0:port"])
def test_a_host_that_is_no_http_address_is_refused_by_name(url: str) -> None:
    with pytest.raises(ValueError, match="etcd host"):
        Endpoint.parse(url)
