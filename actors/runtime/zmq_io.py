"""ZeroMQ plumbing shared by the gossip and console actors: keys, ZAP, a socket thread.

Keys.  A cluster has one CURVE keypair: every member serves with it and, for
gossip, connects with it too, so a member proves it belongs by holding the
secret.  Console clients have keypairs of their own, authorised by their
public keys.  On disk (``pgactor keys generate DIR`` writes it, in ZeroMQ's
certificate format)::

    DIR/server.key_secret   the cluster keypair (every member; keep it secret)
    DIR/server.key          the cluster public key (what clients need)
    DIR/clients/NAME.key    an authorised console client's public key
    DIR/NAME.key_secret     a console client's keypair (give it to that admin)

Authentication.  Each actor makes its own Context and a ZAP authenticator in
it that accepts exactly the given client public keys for the ``pgactor``
domain; a peer or client with any other key never completes the handshake,
so nothing it sends is ever received (:mod:`actors.runtime.zmq_guard` holds
the check and logs refusals sparingly).  Every socket that receives has a
maximum message size, and libzmq applies it to the handshake's own frames
too: a client that announces a huge frame before it has authenticated is
dropped instead of making the node allocate it.

Threads.  ZeroMQ sockets are not thread-safe and a pykka actor's thread waits
on its mailbox, so an actor makes (and binds) its sockets and hands them to a
:class:`SocketLoop`, whose thread owns them from then on: it polls them, gives
every received message to a callback (which tells the actor), and performs
the sends, connects and disconnects that other threads queue for it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import zmq
import zmq.auth

from actors.runtime.thread_name import name_os_thread
from actors.runtime.zap import ZapHandler
from actors.runtime.zap import start_authenticator as start_authenticator
from actors.runtime.zmq_guard import ZAP_DOMAIN as ZAP_DOMAIN  # re-exported: callers use these
from actors.runtime.zmq_guard import KeyCheck as KeyCheck
from actors.runtime.zmq_guard import RefusalWatch
from messages.config import CurveKeys

log = logging.getLogger(__name__)

SERVER_CERT = "server"
CLIENTS_DIR = "clients"
Z85_KEY_CHARS = 40
_Z85 = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)


class KeysError(ValueError):
    """Keys that cannot be used; the text names the file or setting, never a secret."""


@dataclasses.dataclass(frozen=True, slots=True)
class KeyPair:
    public: bytes
    secret: bytes = dataclasses.field(repr=False)


# -- keys -------------------------------------------------------------------------------


def z85_key(text: str | bytes, what: str) -> bytes:
    """A Z85 CURVE key (40 characters) as bytes, or KeysError naming `what`."""
    raw = text.encode() if isinstance(text, str) else text
    raw = raw.strip()
    if len(raw) != Z85_KEY_CHARS or not set(raw.decode(errors="replace")) <= _Z85:
        raise KeysError(f"{what}: not a Z85 CURVE key ({Z85_KEY_CHARS} characters)")
    return raw


def load_keypair(path: str | os.PathLike[str]) -> KeyPair:
    """A keypair from a ``*.key_secret`` certificate file."""
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise KeysError(f"{os.fspath(path)}: cannot read a CURVE certificate ({exc})") from None
    if secret is None:
        raise KeysError(f"{os.fspath(path)}: holds no secret key")
    where = os.fspath(path)
    return KeyPair(z85_key(public, where), z85_key(secret, where))


def load_public_key(path: str | os.PathLike[str]) -> bytes:
    try:
        public, _ = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise KeysError(f"{os.fspath(path)}: cannot read a CURVE certificate ({exc})") from None
    return z85_key(public, os.fspath(path))


def server_keypair(curve: CurveKeys) -> KeyPair:
    """The cluster keypair: inline when given, else ``<keys_dir>/server.key_secret``."""
    if curve.public_key and curve.secret_key:
        return KeyPair(
            z85_key(curve.public_key, "curve public key"),
            z85_key(curve.secret_key, "curve secret key"),
        )
    if not curve.keys_dir:
        raise KeysError("no CURVE keys: set curve_keys_dir or the keys inline")
    return load_keypair(Path(curve.keys_dir) / f"{SERVER_CERT}.key_secret")


def client_public_keys(curve: CurveKeys, extra: Iterable[str] = ()) -> frozenset[bytes]:
    """Authorised console clients: ``<keys_dir>/clients/*.key`` plus `extra` (Z85 text)."""
    keys = {z85_key(k, "console client key") for k in extra}
    if curve.keys_dir:
        folder = Path(curve.keys_dir) / CLIENTS_DIR
        keys |= {load_public_key(p) for p in sorted(folder.glob("*.key"))}
    return frozenset(keys)


def generate_keys(directory: str | os.PathLike[str], clients: Sequence[str] = ("admin",)) -> Path:
    """Write the cluster keypair (unless present) and a keypair per named client.

    Secret files are made readable by their owner only.
    """
    base = Path(directory)
    (base / CLIENTS_DIR).mkdir(parents=True, exist_ok=True)
    if not (base / f"{SERVER_CERT}.key_secret").exists():
        _create(base, SERVER_CERT)
    for name in clients:
        public, _ = _create(base, name)
        os.replace(public, base / CLIENTS_DIR / f"{name}.key")
    return base


def _create(base: Path, name: str) -> tuple[str, str]:
    old = os.umask(0o077)
    try:
        public, secret = zmq.auth.create_certificates(base, name)
    finally:
        os.umask(old)
    os.chmod(secret, 0o600)
    os.chmod(public, 0o644)
    return public, secret


# -- authentication and sockets ------------------------------------------------------------


def make_socket(context: zmq.Context[Any], kind: int) -> zmq.Socket[bytes]:
    """A socket that drops unsent messages at close (LINGER 0) and reconnects quickly."""
    sock: zmq.Socket[bytes] = context.socket(kind)
    sock.linger = 0
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
    return sock


def curve_server(sock: zmq.Socket[bytes], keys: KeyPair) -> None:
    sock.curve_server = True
    sock.curve_publickey = keys.public
    sock.curve_secretkey = keys.secret
    sock.zap_domain = ZAP_DOMAIN.encode()


def curve_client(sock: zmq.Socket[bytes], keys: KeyPair, server_public: bytes) -> None:
    sock.curve_publickey = keys.public
    sock.curve_secretkey = keys.secret
    sock.curve_serverkey = server_public


def tcp(address: str) -> str:
    """``host:port`` (or a ``tcp://`` URL) as a ZeroMQ TCP endpoint."""
    return address if address.startswith("tcp://") else f"tcp://{address}"


# -- the socket thread -------------------------------------------------------------------

Receive = Callable[[str, list[bytes], str], None]
"""on_receive(socket key, frames, authenticated client key or "")"""


@dataclasses.dataclass(frozen=True, slots=True)
class Monitor:
    """A socket monitor's PAIR socket and what reads its events (in the loop's thread)."""

    socket: zmq.Socket[bytes]
    on_event: Callable[[list[bytes]], None]


class Alarm(Protocol):
    """Something the socket thread must act on at a time, without a thread of its own."""

    def seconds_left(self) -> float | None:
        """Until it is due (None: nothing to watch); asked after every wake-up."""

    def ring(self) -> None:
        """It is due (seconds_left() <= 0): act, and move or clear the time."""


_STOP = ("stop", "", ())


class SocketLoop:
    """One thread owning a set of sockets; every method is safe from any thread.

    Commands go through a queue and a socketpair wakes the poll, so no other
    thread ever touches a ZeroMQ socket.  A send that would block (a slow or
    absent peer) is dropped and counted: every message here is a full
    statement that the next one repeats.
    """

    def __init__(
        self,
        name: str,
        sockets: Mapping[str, zmq.Socket[bytes]],
        on_receive: Receive,
        monitors: Sequence[Monitor] = (),
        alarm: Alarm | None = None,
    ):
        self.name = name
        self._alarm = alarm
        self.dropped_sends = 0
        self._sockets = dict(sockets)
        self._monitors = tuple(monitors)
        self._on_receive = on_receive
        self._commands: queue.SimpleQueue[tuple[str, str, Any]] = queue.SimpleQueue()
        self._repeats: dict[str, tuple[tuple[bytes, ...], float, float]] = {}
        """key -> (frames, every_s, next due on the monotonic clock): sends this thread
        repeats on its own, without a command (and a wake-up) each time."""
        self._next_repeat = math.inf
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._run, name=f"zmq-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def send(self, key: str, frames: Sequence[bytes]) -> None:
        self._put(("send", key, tuple(frames)))

    def repeat(self, key: str, frames: Sequence[bytes] | None, every_s: float = 0.0) -> None:
        """Send `frames` now and again every `every_s` until replaced; None stops it."""
        self._put(("repeat", key, None if frames is None else (tuple(frames), every_s)))

    def connect(self, key: str, endpoint: str) -> None:
        self._put(("connect", key, endpoint))

    def disconnect(self, key: str, endpoint: str) -> None:
        self._put(("disconnect", key, endpoint))

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close every socket (in the loop's thread) and wait for the thread to end."""
        if self._thread.is_alive():
            self._put(_STOP)
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("%s: socket thread did not stop within %.0f s", self.name, timeout_s)
                return
        else:  # never started: the sockets were never handed over
            self._close()

    def _put(self, command: tuple[str, str, Any]) -> None:
        self._commands.put(command)
        # a full pipe means a wake-up is already pending; a closed one, that we stopped
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    # -- the loop's own thread -------------------------------------------------------------
    #
    # An idle agent's gossip is this thread waking three times a second (our heartbeat
    # out, one in from each peer), and at one wake-up a second the interpreter's caches
    # are cold: each wake-up cost about 200 us, most of it Python.  So a wake-up runs
    # only what it must: no exception on the way (the empty-queue and would-block ends
    # are checked, not raised), frames copied as bytes unless the socket authenticates
    # clients, and one poll list built once.

    def _run(self) -> None:
        name_os_thread()
        readers: dict[Any, Callable[[], None]] = {
            sock: functools.partial(self._receive, key, sock, _serves_curve(sock))
            for key, sock in self._sockets.items()
        }
        for monitor in self._monitors:
            readers[monitor.socket] = functools.partial(self._read_events, monitor)
        items: list[tuple[Any, int]] = [(sock, zmq.POLLIN) for sock in readers]
        items.append((self._wake_r.fileno(), zmq.POLLIN))
        try:
            while self._step(items, readers):
                pass
        except Exception:
            log.exception("%s: socket thread failed", self.name)
        finally:
            self._close()

    def _step(
        self, items: list[tuple[Any, int]], readers: Mapping[Any, Callable[[], None]]
    ) -> bool:
        # No timeout but the next repeat: every command writes to the wake socket, so
        # an idle loop costs nothing (a periodic wake-up was a measurable share of the
        # idle CPU).
        ready = zmq.zmq_poll(items, self._timeout_ms())
        for what, _ in ready:
            if what == self._wake_r.fileno():
                self._drain_wake()
                # every command is queued before its wake-up is written: none is left behind
                if not self._run_commands():
                    return False
        if self._repeats and self._next_repeat <= time.monotonic():
            self._send_repeats_due()
        alarm = self._alarm
        if alarm is not None and (left := alarm.seconds_left()) is not None and left <= 0:
            alarm.ring()
        for what, _ in ready:
            reader = readers.get(what)
            if reader is not None:
                reader()
        return True

    def _timeout_ms(self) -> int:
        """Until the next repeat or alarm, rounded up (so it is due on waking); -1: none."""
        left = self._next_repeat - time.monotonic() if self._repeats else math.inf
        if self._alarm is not None:
            alarm = self._alarm.seconds_left()
            left = left if alarm is None else min(left, alarm)
        return -1 if left == math.inf else max(0, math.ceil(left * 1000))

    def _set_repeat(self, key: str, arg: tuple[tuple[bytes, ...], float] | None) -> None:
        if arg is None:
            self._repeats.pop(key, None)
        else:
            frames, every_s = arg
            self._repeats[key] = (frames, every_s, time.monotonic())  # the first one now
        self._next_repeat = min((due for _, _, due in self._repeats.values()), default=math.inf)

    def _send_repeats_due(self) -> None:
        now = time.monotonic()
        for key, (frames, every_s, next_at) in list(self._repeats.items()):
            if next_at <= now:
                self._command("send", self._sockets[key], frames)
                self._repeats[key] = (frames, every_s, next_beat(now, time.time(), every_s))
        self._next_repeat = min(due for _, _, due in self._repeats.values())

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while self._wake_r.recv(4096):
                pass

    def _run_commands(self) -> bool:
        commands = self._commands
        while not commands.empty():
            command, key, arg = commands.get_nowait()
            if command == "stop":
                return False
            if command == "repeat":
                self._set_repeat(key, arg)
                continue
            try:
                self._command(command, self._sockets[key], arg)
            except zmq.ZMQError as exc:
                log.warning("%s: %s on %s failed: %s", self.name, command, key, exc)
        return True

    def _command(self, command: str, sock: zmq.Socket[bytes], arg: Any) -> None:
        if command == "send":
            try:
                sock.send_multipart(arg, flags=zmq.NOBLOCK)
            except zmq.Again:
                self.dropped_sends += 1
        elif command == "connect":
            sock.connect(arg)
        elif command == "disconnect":
            try:
                sock.disconnect(arg)
            except zmq.ZMQError as exc:  # never connected: nothing to undo
                log.debug("%s: disconnect %s: %s", self.name, arg, exc)

    def _receive(self, key: str, sock: zmq.Socket[bytes], user_ids: bool, batch: int = 100) -> None:
        # A bounded batch per wake-up, so one busy socket cannot starve the commands.
        # ZMQ_EVENTS says whether another message waits, where a would-block recv raised.
        for _ in range(batch):
            if not cast(int, sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                return
            parts = _recv_parts(sock, copy=not user_ids)
            if user_ids:
                frames, user = [f.bytes for f in parts], _user_id(parts[-1])
            else:
                frames, user = parts, ""
            try:
                self._on_receive(key, frames, user)
            except Exception:
                log.exception("%s: receive callback failed", self.name)

    def _read_events(self, monitor: Monitor, batch: int = 100) -> None:
        for _ in range(batch):
            try:
                frames = monitor.socket.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                monitor.on_event(frames)
            except Exception:
                log.exception("%s: monitor callback failed", self.name)

    def _close(self) -> None:
        # the monitored sockets first: closing one ends its monitor
        for sock in (*self._sockets.values(), *(m.socket for m in self._monitors)):
            sock.close(linger=0)
        self._wake_r.close()
        self._wake_w.close()


def next_beat(now: float, wall: float, every_s: float) -> float:
    """When a repeat is next due, on the monotonic clock `now` is read on (`wall` is the
    wall clock at the same moment): at the next multiple of `every_s` on the wall
    clock, at least half of `every_s` away.

    Members whose clocks agree (NTP) then beat at the same instant, so each one's
    heartbeat out and its peers' heartbeats in come as one burst a period instead of
    three wake-ups spread over it: a thread woken again at once runs on warm caches.
    Whatever the wall clock does, the gap stays within [every_s / 2, 1.5 * every_s].
    """
    gap = every_s - wall % every_s
    if gap < every_s / 2:
        gap += every_s
    return now + gap


def _serves_curve(sock: zmq.Socket[bytes]) -> bool:
    """Only a CURVE server's messages carry the client's key (ZAP's User-Id)."""
    return bool(sock.getsockopt(zmq.CURVE_SERVER))


def _recv_parts(sock: zmq.Socket[bytes], *, copy: bool) -> list[Any]:
    """One whole message: bytes, or Frames (copy=False) whose properties can be read."""
    parts = [sock.recv(zmq.NOBLOCK, copy=copy)]
    while sock.getsockopt(zmq.RCVMORE):
        parts.append(sock.recv(zmq.NOBLOCK, copy=copy))
    return parts


def _user_id(frame: zmq.Frame) -> str:
    try:
        return str(frame.get("User-Id"))
    except (zmq.ZMQError, KeyError, UnicodeDecodeError):
        return ""


@dataclasses.dataclass
class Endpoint:
    """An actor's ZeroMQ resources: its context, authenticator and socket loop."""

    context: zmq.Context[Any]
    auth: ZapHandler | None
    loop: SocketLoop | None = None
    check: KeyCheck | None = None
    refusals: list[RefusalWatch] = dataclasses.field(default_factory=list)
    """One per bound CURVE server socket: clients refused for not speaking CURVE."""

    def close(self) -> None:
        """Stop the loop (closing its sockets), then the authenticator, then the context."""
        if self.loop is not None:
            self.loop.stop()
        if self.auth is not None:
            self.auth.stop()
        self.context.destroy(linger=0)


def open_endpoint(owner: str, allowed: frozenset[bytes]) -> Endpoint:
    """A fresh Context with a ZAP authenticator allowing exactly `allowed` client keys."""
    context: zmq.Context[Any] = zmq.Context()
    check = KeyCheck(allowed, owner)
    try:
        auth = start_authenticator(context, check)
    except Exception:
        context.destroy(linger=0)
        raise
    return Endpoint(context=context, auth=auth, check=check)
