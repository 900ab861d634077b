"""TLS: HTTPS with a self-signed certificate, and client certificates for actions."""

from __future__ import annotations

import contextlib
import http.client
import queue
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from api_harness import API, StartApi
from cluster_states import PRIMARY

from actors.api import ApiActor
from actors.runtime.context import Runtime
from actors.runtime.registry import Registry
from messages.config import RestApiSettings
from messages.runtime import ChildExit, ExitKind

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, used as server cert, client cert and CA."""
    where = tmp_path_factory.mktemp("tls")
    certfile, keyfile = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(keyfile), "-out", str(certfile)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(certfile), str(keyfile)


def tls_settings(cert: tuple[str, str], verify_client: str | None = None) -> RestApiSettings:
    certfile, keyfile = cert
    return RestApiSettings(
        listen_port=0,
        certfile=certfile,
        keyfile=keyfile,
        cafile=certfile if verify_client else None,
        verify_client=verify_client,
    )


def client(cert: tuple[str, str], *, present_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cert[0])
    if present_cert:
        context.load_cert_chain(*cert)
    return context


def https(
    port: int, context: ssl.SSLContext, method: str, path: str, body: str | None = None
) -> int:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.request(method, path, body=body)
        return conn.getresponse().status
    finally:
        conn.close()


def test_https_serves_checks(cert: tuple[str, str], start_api: StartApi) -> None:
    api = start_api(tls_settings(cert))
    api.push(PRIMARY)
    assert https(api.port, client(cert, present_cert=False), "GET", "/primary") == 200


def test_plain_http_to_an_https_port_harms_nothing(
    cert: tuple[str, str], start_api: StartApi
) -> None:
    api = start_api(tls_settings(cert))
    api.push(PRIMARY)
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
        sock.sendall(b"GET /primary HTTP/1.0\r\n\r\n")
        with contextlib.suppress(OSError):  # the server answers a TLS alert or nothing
            sock.recv(100)
    assert https(api.port, client(cert, present_cert=False), "GET", "/primary") == 200
    assert api.ref.is_alive()


def test_a_required_client_certificate_is_enforced(
    cert: tuple[str, str], start_api: StartApi
) -> None:
    api = start_api(tls_settings(cert, "required"))
    api.push(PRIMARY)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException, OSError)):
        https(api.port, client(cert, present_cert=False), "GET", "/primary")
    assert https(api.port, client(cert, present_cert=True), "GET", "/primary") == 200


def test_with_optional_client_certificates_actions_still_need_one(
    cert: tuple[str, str], start_api: StartApi
) -> None:
    api = start_api(tls_settings(cert, "optional"))
    api.push(PRIMARY)
    anonymous, known = client(cert, present_cert=False), client(cert, present_cert=True)
    body = '{"leader": "pg1", "candidate": "pg2"}'
    assert https(api.port, anonymous, "GET", "/primary") == 200
    assert https(api.port, anonymous, "POST", "/switchover", body) == 403
    assert https(api.port, known, "POST", "/switchover", body) == 200
    assert len(api.ha_received()) == 1


def test_a_missing_certificate_file_fails_the_start_with_a_report(
    tmp_path: Path, registry: Registry
) -> None:
    missing = str(tmp_path / "none.pem")
    settings = RestApiSettings(listen_port=0, certfile=missing, keyfile=missing)
    exits: queue.Queue[ChildExit] = queue.Queue()
    runtime = Runtime(registry=registry)
    ApiActor.start(name=API, runtime=runtime, on_exit=exits.put, settings=settings, scope="demo")
    report = exits.get(timeout=10)
    assert report.kind is ExitKind.FAILED
    assert "FileNotFoundError" in report.error
