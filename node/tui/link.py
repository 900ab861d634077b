"""The console's connection to the cluster: one DEALER socket in a thread of its own.

The socket is a ZeroMQ socket, so one thread owns it: it watches a node
(renewing the watch well within its lapse), sends the requests the screen
queues, and hands every message it receives -- NodeStatus, FeedEvent,
AdminResponse -- to ``deliver``.  When the watched node goes quiet it moves on
to the next address.  ``note`` gets one line whenever the connection changes.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from messages.base import Message
from messages.codec import DecodeError, decode, encode
from messages.console import AdminAction, AdminRequest
from node.ctl.client import dealer, new_request_id
from node.ctl.target import Target

RENEW_S = 5.0
"""Well inside the node's 15 s watch lapse."""


class Link:
    def __init__(
        self, target: Target, deliver: Callable[[Message], None], note: Callable[[str], None]
    ) -> None:
        self.target = target
        self.deliver = deliver
        self.note = note
        self.address = ""
        self._outbox: queue.SimpleQueue[AdminRequest] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="console-link", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def request(self, action: AdminAction, **fields: Any) -> AdminRequest:
        """Queue a request (any thread); its AdminResponse arrives through ``deliver``."""
        req = AdminRequest(request_id=new_request_id(), action=action, **fields)
        self._outbox.put(req)
        return req

    # -- the link's own thread ---------------------------------------------------------

    def _run(self) -> None:
        context: zmq.Context[Any] = zmq.Context()
        try:
            index = 0
            while not self._stop.is_set():
                self.address = self.target.addresses[index % len(self.target.addresses)]
                self._session(context)
                index += 1
        finally:
            context.destroy(linger=0)

    def _session(self, context: zmq.Context[Any]) -> None:
        """Watch one node until it is silent for longer than the timeout."""
        sock = dealer(context, self.target, self.address)
        try:
            self.note(f"connecting to {self.address}")
            heard = renewed = time.monotonic()
            self._send(sock, AdminRequest(request_id=new_request_id(), action=AdminAction.WATCH))
            while not self._stop.is_set():
                now = time.monotonic()
                if now - renewed >= RENEW_S:
                    self._send(
                        sock, AdminRequest(request_id=new_request_id(), action=AdminAction.WATCH)
                    )
                    renewed = now
                if now - heard > max(self.target.timeout_s, RENEW_S + 1):
                    self.note(f"{self.address} did not answer; trying the next node")
                    return
                self._flush(sock)
                if sock.poll(100):
                    self._receive(sock)
                    heard = time.monotonic()
        finally:
            sock.close(linger=0)

    def _flush(self, sock: zmq.Socket[bytes]) -> None:
        while True:
            try:
                self._send(sock, self._outbox.get_nowait())
            except queue.Empty:
                return

    @staticmethod
    def _send(sock: zmq.Socket[bytes], req: AdminRequest) -> None:
        # Not connected yet: a watch is renewed anyway; an action shows no answer.
        with contextlib.suppress(zmq.Again):
            sock.send(encode(req), flags=zmq.NOBLOCK)

    def _receive(self, sock: zmq.Socket[bytes]) -> None:
        while True:
            try:
                frame = sock.recv(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                msg = decode(frame)
            except DecodeError:
                continue
            self.deliver(msg)
