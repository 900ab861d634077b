"""The etcd client's transport (http.client): what it imports, keep-alive reuse, a
connection the server dropped while idle, and TLS.  Real etcd, as the rest of the suite."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.leader_lock.contract import DcsUnreachable
from actors.leader_lock.etcd_client import EtcdClient, put_op
from actors.leader_lock.etcd_watch import EtcdWatcher
from messages.config import EtcdSettings

from .etcd_server import ETCD_BINARY, EtcdServer, _die_with_parent
from .fault_proxy import FaultProxy
from .test_etcd_backend import RecordingSink
from .waiting import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]

_NODE_WITHOUT_TLS = """
import json, sys, threading
from actors.leader_lock.contract import DcsParams
from actors.leader_lock.etcd import EtcdDcs
from actors.leader_lock.etcd_client import EtcdClient
from messages.base import MemberName
from messages.config import EtcdSettings

host, scope = sys.argv[1], sys.argv[2]
settings = EtcdSettings(hosts=(host,))
params = DcsParams(scope=scope, name=MemberName("a"), namespace="/service/",
                   ttl_s=3, retry_timeout_s=2)
dcs = EtcdDcs(params, settings=settings)
changed = threading.Event()
dcs.watch(changed.set)
raw = EtcdClient(settings, retry_timeout_s=2)
lease, _ = raw.lease_grant(5)
raw.lease_keepalive(lease)
raw.put(f"/service/{scope}/members/b".encode(), b"{}", lease)
kvs, _ = raw.range_prefix(f"/service/{scope}/".encode())
assert len(kvs) == 1, kvs
assert changed.wait(5), "the watch saw no change"
raw.lease_revoke(lease)
dcs.close()
raw.close()
print(json.dumps({name: name in sys.modules for name in ("urllib3", "importlib.metadata")}))
"""


def test_an_etcd_node_without_tls_imports_no_urllib3(etcd_server: EtcdServer, scope: str) -> None:
    """urllib3 (and the importlib.metadata it pulls in) cost an etcd node memory for nothing."""
    done = subprocess.run(
        [sys.executable, "-c", _NODE_WITHOUT_TLS, etcd_server.host, scope],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert imported == {"urllib3": False, "importlib.metadata": False}


def _connections_made(proxy: FaultProxy) -> int:
    """Connections the proxy accepted (it keeps a client and an upstream socket for each)."""
    with proxy._lock:
        return len(proxy._sockets) // 2


@pytest.fixture
def proxy(etcd_server: EtcdServer) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(("127.0.0.1", etcd_server.client_port))
    yield fault_proxy
    fault_proxy.close()


def test_requests_of_one_thread_reuse_one_connection(proxy: FaultProxy, scope: str) -> None:
    client = EtcdClient(EtcdSettings(hosts=(proxy.host,)), retry_timeout_s=3)
    try:
        for i in range(10):
            client.put(f"/{scope}/k".encode(), str(i).encode())
        client.range_prefix(f"/{scope}/".encode())
        assert _connections_made(proxy) == 1
    finally:
        client.close()


def test_a_connection_the_server_dropped_while_idle_is_replaced_unnoticed(
    tmp_path: Path, scope: str
) -> None:
    """No failed attempt, so a write after a server restart is not taken as maybe repeated."""
    server = EtcdServer(tmp_path)
    server.start()
    client = EtcdClient(EtcdSettings(hosts=(server.host,)), retry_timeout_s=3)
    try:
        client.put(f"/{scope}/k".encode(), b"1")
        server.restart()
        before = client.requests_made
        result = client.txn([], [put_op(f"/{scope}/k".encode(), b"2")], [])
        assert result.succeeded
        assert not result.repeated
        assert client.requests_made == before + 1
    finally:
        client.close()
        server.stop()


class _TlsEtcdServer(EtcdServer):
    """An etcd answering clients on https only, with a certificate for 127.0.0.1."""

    def __init__(self, workdir: Path, certfile: Path, keyfile: Path) -> None:
        super().__init__(workdir)
        self.certfile, self.keyfile = certfile, keyfile

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def start(self, timeout_s: float = 20.0) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        args = [
            ETCD_BINARY, "--name", "t", "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
            "--cert-file", str(self.certfile), "--key-file", str(self.keyfile),
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"t={peer}",
        ]  # fmt: skip
        with (self.workdir / "etcd.log").open("ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )
        self._wait_healthy(timeout_s)


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_TlsEtcdServer]:
    """The certificate is its own CA, trusted through SSL_CERT_FILE as a private CA would be."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl CLI")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(keyfile), "-out", str(certfile)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(certfile))
    server = _TlsEtcdServer(tmp_path, certfile, keyfile)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_https_hosts_are_served_over_verified_tls(tls_server: _TlsEtcdServer, scope: str) -> None:
    prefix = f"/service/{scope}/".encode()
    client = EtcdClient(EtcdSettings(hosts=(tls_server.host,), protocol="https"), retry_timeout_s=3)
    sink = RecordingSink(prefix)
    watcher = EtcdWatcher(client, sink, on_change=lambda: None)
    watcher.start()
    try:
        wait_for(lambda: sink.reads, 5, "the first read over TLS")
        client.put(prefix + b"config", b"{}")
        assert [kv.value for kv in client.range_prefix(prefix)[0]] == [b"{}"]
        wait_for(lambda: sink.events, 5, "the change on the TLS watch stream")
    finally:
        watcher.stop()
        client.close()
    assert not watcher.alive


def test_an_https_host_with_an_untrusted_certificate_is_unreachable(
    tls_server: _TlsEtcdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.workdir / "missing.pem"))
    client = EtcdClient(EtcdSettings(hosts=(f"https://{tls_server.host}",)), retry_timeout_s=0.5)
    try:
        with pytest.raises(DcsUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
            client.range_prefix(b"/")
    finally:
        client.close()
