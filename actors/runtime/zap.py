"""The ZAP handler (ZeroMQ RFC 27) of one context: CURVE clients with an allowed key only.

libzmq asks the handler bound at ``inproc://zeromq.zap.01`` of a context about
every client that completes a CURVE handshake with a server socket of that
context whose ZAP domain is set; the answer admits or refuses it, and an
admitted client's messages carry the user id given here (its public key in
Z85, which the console reads to know who asks).

pyzmq has such a handler (``zmq.auth.thread.ThreadAuthenticator``), but it
runs an asyncio event loop in its thread: importing it alone made the agent
1.7 MB larger.  What pgactor needs of it is this much: one REP socket, one
decision per request, in a thread of its own, and a stop.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import zmq
from zmq.utils import z85

from actors.runtime.thread_name import name_os_thread
from actors.runtime.zmq_guard import ZAP_DOMAIN, KeyCheck

log = logging.getLogger(__name__)

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
"""Where libzmq sends a context's ZAP requests (fixed by RFC 27)."""
_VERSION = b"1.0"
_REQUEST_FRAMES = 6
"""version, request id, domain, address, identity, mechanism; the credentials follow."""
_CURVE_KEY_BYTES = 32


def zap_reply(request: list[bytes], check: KeyCheck) -> list[bytes]:
    """The reply to one ZAP request: 200 and the client's Z85 key as user id, or 400 and why.

    Only a CURVE client of our domain whose key `check` allows is admitted;
    anything else (another mechanism, domain or ZAP version, a malformed
    request) is refused.  The check learns the client's address first.
    """
    request_id = request[1] if len(request) > 1 else b""
    if len(request) < _REQUEST_FRAMES:
        return _refuse(request_id, b"Not enough frames")
    version, _, domain, address, _, mechanism = request[:_REQUEST_FRAMES]
    credentials = request[_REQUEST_FRAMES:]
    if version != _VERSION:
        return _refuse(request_id, b"Invalid version")
    if mechanism != b"CURVE" or len(credentials) != 1 or len(credentials[0]) != _CURVE_KEY_BYTES:
        return _refuse(request_id, b"Invalid credentials")
    if domain != ZAP_DOMAIN.encode():
        return _refuse(request_id, b"Unknown domain")
    check.peer = address.decode("utf-8", "replace")[:100]
    key = z85.encode(credentials[0])
    if not check.callback(ZAP_DOMAIN, key):
        return _refuse(request_id, b"Unknown key")
    return [_VERSION, request_id, b"200", b"OK", key, b""]


def _refuse(request_id: bytes, reason: bytes) -> list[bytes]:
    return [_VERSION, request_id, b"400", reason, b"", b""]


class ZapHandler:
    """Answers a context's ZAP requests in a thread of its own; see the module docstring.

    :meth:`start` binds before it returns, so a server socket made afterwards
    never meets a context without its handler.  Stop it before the context is
    terminated.
    """

    def __init__(self, context: zmq.Context[Any], check: KeyCheck) -> None:
        self.check = check
        self._context = context
        self._zap: zmq.Socket[bytes] | None = None
        self._stop: zmq.Socket[bytes] | None = None
        self._wake: zmq.Socket[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name=f"zap-{check.owner}", daemon=True)
        self._endpoint = f"inproc://pgactor-zap-stop-{id(self)}"

    def start(self) -> None:
        """Bind the ZAP socket and start answering; raises when another handler holds it."""
        made: list[zmq.Socket[bytes]] = []
        try:
            zap, stop, wake = (self._socket(kind, made) for kind in (zmq.REP, zmq.PAIR, zmq.PAIR))
            zap.bind(ZAP_ENDPOINT)
            stop.bind(self._endpoint)
            # connected here, so a stop always has somewhere to go, even before the thread runs
            wake.connect(self._endpoint)
        except zmq.ZMQError:
            for sock in made:
                sock.close()
            raise
        self._zap, self._stop, self._wake = zap, stop, wake
        self._thread.start()  # the sockets move to the thread: its start is the memory barrier

    def _socket(self, kind: int, made: list[zmq.Socket[bytes]]) -> zmq.Socket[bytes]:
        sock: zmq.Socket[bytes] = self._context.socket(kind)
        sock.linger = 0
        made.append(sock)
        return sock

    def stop(self, timeout_s: float = 5.0) -> None:
        """Any thread but the handler's: end the thread, which closes the ZAP socket."""
        stop, self._stop = self._stop, None
        if stop is None:
            return
        stop.send(b"")
        self._thread.join(timeout_s)
        stop.close()
        if self._thread.is_alive():
            log.error("zap-%s: ZAP thread did not stop within %.0f s", self.check.owner, timeout_s)

    def _run(self) -> None:
        """The handler's thread: one request at a time until stopped."""
        name_os_thread()
        zap, wake = self._zap, self._wake
        assert zap is not None and wake is not None
        poller = zmq.Poller()
        poller.register(zap, zmq.POLLIN)
        poller.register(wake, zmq.POLLIN)
        try:
            while wake not in dict(poller.poll()):
                self._answer(zap)
        except Exception:
            log.exception("zap-%s: ZAP thread failed", self.check.owner)
        finally:
            zap.close()
            wake.close()

    def _answer(self, zap: zmq.Socket[bytes]) -> None:
        request = zap.recv_multipart()
        try:
            reply = zap_reply(request, self.check)
        except Exception:  # a REP socket must answer, or it never reads again
            log.exception("zap-%s: refusing a request the check failed on", self.check.owner)
            reply = _refuse(request[1] if len(request) > 1 else b"", b"Internal error")
        zap.send_multipart(reply)


def start_authenticator(context: zmq.Context[Any], check: KeyCheck) -> ZapHandler:
    """A ZAP handler in `context` that lets only `check`'s keys through; stop it before term."""
    handler = ZapHandler(context, check)
    handler.start()
    return handler
