"""The ZAP handler: only CURVE clients of our domain with an allowed key are admitted."""

from __future__ import annotations

import zmq
from zmq.utils import z85

from actors.runtime.zap import ZapHandler, zap_reply
from actors.runtime.zmq_guard import ZAP_DOMAIN, KeyCheck

ALLOWED = z85.encode(b"a" * 32)
OTHER = b"b" * 32


def _request(
    *,
    domain: bytes = ZAP_DOMAIN.encode(),
    mechanism: bytes = b"CURVE",
    credentials: tuple[bytes, ...] = (b"a" * 32,),
    version: bytes = b"1.0",
) -> list[bytes]:
    return [version, b"id7", domain, b"127.0.0.9", b"", mechanism, *credentials]


def _check() -> KeyCheck:
    return KeyCheck(frozenset({ALLOWED}), "test")


def test_an_allowed_curve_key_is_admitted_with_its_z85_key_as_user_id() -> None:
    check = _check()
    assert zap_reply(_request(), check) == [b"1.0", b"id7", b"200", b"OK", ALLOWED, b""]
    assert check.peer == "127.0.0.9"  # the check learnt whom it decided on


def test_everything_else_is_refused_and_named() -> None:
    cases = {
        "Unknown key": _request(credentials=(OTHER,)),
        "Unknown domain": _request(domain=b"other"),
        "Invalid credentials": _request(mechanism=b"PLAIN", credentials=(b"u", b"p")),
        "Invalid version": _request(version=b"2.0"),
        "Not enough frames": [b"1.0", b"id7", b"pgactor"],
    }
    for reason, request in cases.items():
        check = _check()
        reply = zap_reply(request, check)
        assert reply[:4] == [b"1.0", b"id7", b"400", reason.encode()], reason
        assert reply[4] == b"", reason  # no user id for a refused client


def test_a_real_curve_server_admits_the_allowed_client_only() -> None:
    server_public, server_secret = zmq.curve_keypair()
    good_public, good_secret = zmq.curve_keypair()
    bad_public, bad_secret = zmq.curve_keypair()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    handler = ZapHandler(context, KeyCheck(frozenset({good_public}), "test"))
    handler.start()
    try:
        server = context.socket(zmq.ROUTER)
        server.linger = 0
        server.curve_server = True
        server.curve_publickey, server.curve_secretkey = server_public, server_secret
        server.zap_domain = ZAP_DOMAIN.encode()
        port = server.bind_to_random_port("tcp://127.0.0.1")
        for public, secret in ((bad_public, bad_secret), (good_public, good_secret)):
            client = context.socket(zmq.DEALER)
            client.linger = 0
            client.curve_publickey, client.curve_secretkey = public, secret
            client.curve_serverkey = server_public
            client.connect(f"tcp://127.0.0.1:{port}")
            client.send(public)
        assert server.poll(5000)
        frames = server.recv_multipart(copy=False)
        assert frames[1].bytes == good_public  # whatever arrives can only be the allowed one's
        assert frames[1].get("User-Id") == good_public.decode()
        assert not server.poll(300)  # and the refused client's message never does
    finally:
        handler.stop()
        context.destroy(linger=0)
    assert not handler._thread.is_alive()


def test_the_agent_imports_neither_asyncio_nor_ctypes() -> None:
    """pyzmq's ThreadAuthenticator pulled in asyncio (1.7 MB of the agent's RSS), naming
    threads through ctypes another 0.3 MB; the agent needs neither."""
    import subprocess
    import sys

    code = (
        "import sys, node.run, actors.leader_lock.etcd;"
        "print(sorted(m for m in ('asyncio', 'ctypes') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
