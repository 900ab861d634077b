"""Talking to a node's console endpoint: one request, one answer, any node that answers.

Each attempt uses a fresh DEALER socket (CURVE client with this admin's
keypair) and a monitor on it, so three outcomes are told apart quickly: an
answer; the node refused our key (its ZAP handler said no); nobody there
(connection refused) or no answer in time.  Nodes are tried in order; a node
that was absent or timed out is tried again in the next round with the
*same* request id, so a node performs the action at most once however often
we ask.
"""

from __future__ import annotations

import enum
import time
import uuid
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from actors.runtime import zmq_io
from messages.codec import MAX_MESSAGE_BYTES, DecodeError, decode, encode
from messages.console import AdminRequest, AdminResponse
from node.ctl.target import Target

EXIT_FAILED = 1
EXIT_UNREACHABLE = 3

_WATCHED = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_CONNECT_RETRIED
)


class CtlError(Exception):
    """A request that got no answer; ``exit_code`` is what the command returns."""

    def __init__(self, text: str, exit_code: int = EXIT_UNREACHABLE) -> None:
        super().__init__(text)
        self.exit_code = exit_code


class Outcome(enum.Enum):
    REFUSED_KEY = "refused our key (is it in the node's clients/ directory?)"
    BAD_SERVER_KEY = "failed the CURVE handshake (wrong server key?)"
    NOT_LISTENING = "is not listening"
    TIMED_OUT = "did not answer in time"


FINAL = frozenset({Outcome.REFUSED_KEY, Outcome.BAD_SERVER_KEY})
ROUND_PAUSE_S = 0.5


def new_request_id() -> str:
    return uuid.uuid4().hex


REPLY_MAX_BYTES = MAX_MESSAGE_BYTES
"""The most a client accepts in one message: what the codec would decode at all.  The
largest reply measured, a list from a 16-member cluster with 1,000 history entries and
300 parameters of 200 bytes, is 690 KB."""


def client_socket(context: zmq.Context[Any], target: Target) -> zmq.Socket[bytes]:
    """A DEALER that speaks CURVE as this admin and takes no message over REPLY_MAX_BYTES."""
    sock = zmq_io.make_socket(context, zmq.DEALER)
    sock.setsockopt(zmq.MAXMSGSIZE, REPLY_MAX_BYTES)
    zmq_io.curve_client(sock, target.client, target.server_key)
    return sock


def dealer(context: zmq.Context[Any], target: Target, address: str) -> zmq.Socket[bytes]:
    sock = client_socket(context, target)
    sock.connect(zmq_io.tcp(address))
    return sock


def request(target: Target, req: AdminRequest, rounds: int = 2) -> AdminResponse:
    """The first answer from any node; CtlError when none answers."""
    context: zmq.Context[Any] = zmq.Context()
    outcomes: dict[str, Outcome] = {}
    try:
        for round_no in range(rounds):
            if round_no and all(o in FINAL for o in outcomes.values()):
                break
            if round_no:
                time.sleep(ROUND_PAUSE_S)
            for address in target.addresses:
                if outcomes.get(address) in FINAL:
                    continue  # a key problem: asking again will not help
                answer = _attempt(context, target, address, req)
                if isinstance(answer, AdminResponse):
                    return answer
                outcomes[address] = answer
    finally:
        context.destroy(linger=0)
    raise CtlError(_explain(outcomes, target))


def ask_each(target: Target, req: AdminRequest) -> dict[str, AdminResponse | Outcome]:
    """Ask every node once (for version): address -> its answer or why none came."""
    context: zmq.Context[Any] = zmq.Context()
    try:
        return {a: _attempt(context, target, a, req) for a in target.addresses}
    finally:
        context.destroy(linger=0)


def _attempt(
    context: zmq.Context[Any], target: Target, address: str, req: AdminRequest
) -> AdminResponse | Outcome:
    sock = client_socket(context, target)
    monitor = sock.get_monitor_socket(_WATCHED)
    try:
        sock.connect(zmq_io.tcp(address))
        sock.send(encode(req))
        return _await(sock, monitor, req.request_id, time.monotonic() + target.timeout_s)
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close(linger=0)


def _await(
    sock: zmq.Socket[bytes], monitor: zmq.Socket[bytes], request_id: str, deadline: float
) -> AdminResponse | Outcome:
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(monitor, zmq.POLLIN)
    connected = False
    while (left := deadline - time.monotonic()) > 0:
        ready = dict(poller.poll(int(left * 1000) + 1))
        if monitor in ready:
            event = recv_monitor_message(monitor)["event"]
            connected = connected or event == zmq.EVENT_HANDSHAKE_SUCCEEDED
            problem = _problem(event, connected)
            if problem is not None:
                return problem
        if sock in ready:
            answer = _answer(sock.recv(), request_id)
            if answer is not None:
                return answer
    return Outcome.TIMED_OUT


def _problem(event: int, connected: bool) -> Outcome | None:
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return Outcome.REFUSED_KEY
    if event in (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL):
        return Outcome.BAD_SERVER_KEY
    if event == zmq.EVENT_CONNECT_RETRIED and not connected:
        return Outcome.NOT_LISTENING
    return None


def _answer(frame: bytes, request_id: str) -> AdminResponse | None:
    try:
        msg = decode(frame)
    except DecodeError:
        return None
    if isinstance(msg, AdminResponse) and msg.request_id == request_id:
        return msg
    return None  # a feed message or a stale answer: not ours


def _explain(outcomes: dict[str, Outcome], target: Target) -> str:
    lines = [f"no node answered (cluster from {target.source}):"]
    lines += [f"  {address} {outcome.value}" for address, outcome in outcomes.items()]
    if any(o is Outcome.TIMED_OUT for o in outcomes.values()):
        lines.append(f"  (waited {target.timeout_s:g} s per attempt; --timeout changes it)")
    return "\n".join(lines)
