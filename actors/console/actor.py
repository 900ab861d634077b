"""ConsoleActor: the admin endpoint of one node, for ``pgactor ctl`` and ``pgactor console``.

A shell: requests arrive undecoded from the socket thread, are checked and
planned by plain code (``requests``), answered from the reply cache when they
are retries (``cache``), and the live feed is derived from the HA actor's
NodeStatus (``feed``).  A switchover is *asked* of the HA actor -- the console
is an edge -- but from a worker thread, which tells the answer back, so this
actor's mailbox never waits on another's.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import uuid
from typing import Unpack

from actors.console import feed
from actors.console.cache import Envelope, Key, ReplyCache
from actors.console.requests import HaRequest, plan
from actors.console.transport import ROUTER, open_console
from actors.runtime.actor import ActorArgs, BaseActor, ask, handles
from actors.runtime.zmq_io import Endpoint
from messages.admin import AdminReply, NodeStatus, SwitchoverRequest
from messages.base import ActorName, Message
from messages.codec import DecodeError, decode, encode
from messages.config import ConsoleSettings
from messages.console import (
    ActionFinished,
    AdminAction,
    AdminRequest,
    AdminResponse,
    ConsoleFrame,
    ConsoleStats,
    GetConsoleStats,
)
from messages.dcs import ConfigOutcome, ConfigResult, FailoverResult, SetConfig

ASK_TIMEOUT_S = 10.0


class ConsoleActor(BaseActor):
    def __init__(
        self,
        *,
        settings: ConsoleSettings,
        version: str = "",
        ha_actor: ActorName = ActorName("ha"),
        ask_timeout_s: float = ASK_TIMEOUT_S,
        **base: Unpack[ActorArgs],
    ) -> None:
        super().__init__(**base)
        self.settings = settings
        self.version = version
        self.ha_actor = ha_actor
        self.ask_timeout_s = ask_timeout_s
        self.cache = ReplyCache()
        self.watchers = feed.Watchers()
        self.recent = feed.recent(())
        self.status: NodeStatus | None = None
        self.counts: collections.Counter[str] = collections.Counter()
        self.endpoint: Endpoint | None = None
        self.workers: concurrent.futures.ThreadPoolExecutor | None = None
        self.writes: dict[str, Key] = {}
        """DCS writes awaiting their outcome (ConfigResult, FailoverResult): write id -> the
        request's key.  The HA core's reply only says a request was accepted."""
        self.accepted: dict[str, str] = {}
        """What the HA core said of an accepted switchover, told once it is stored."""
        self.early: dict[str, FailoverResult] = {}
        """A switchover's outcome that came before the HA core's reply."""

    def started(self) -> None:
        """Actor thread: bind the ROUTER; a bind or key error fails the start."""
        self.workers = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix=self.name)
        self.endpoint = open_console(self.settings, self.registry, self.name)
        s = self.settings
        self.log.info("console on %s:%d (CURVE)", s.listen_host, s.listen_port)

    def stopping(self) -> None:
        """Actor thread: close the socket and context; asks in flight are abandoned."""
        endpoint, self.endpoint = self.endpoint, None
        if endpoint is not None:
            endpoint.close()
        if self.workers is not None:
            self.workers.shutdown(wait=False, cancel_futures=True)

    # -- requests --------------------------------------------------------------------------

    @handles(ConsoleFrame)
    def handle_frame(self, msg: ConsoleFrame) -> None:
        request = self._decode(msg)
        if request is None:
            return
        self.counts["requests"] += 1
        if request.action is AdminAction.WATCH:
            self._watch(msg.envelope, request)
            return
        key: Key = (msg.client_key, request.request_id)
        known = self.cache.answer(key, msg.envelope, self.runtime.clock())
        if isinstance(known, AdminResponse):
            self.counts["cached"] += 1
            self._send(msg.envelope, known)
        elif not known:
            self._execute(key, msg.envelope, request)

    def _decode(self, msg: ConsoleFrame) -> AdminRequest | None:
        try:
            request = decode(msg.frames[0]) if len(msg.frames) == 1 else None
        except DecodeError as exc:
            self.log.debug("dropped an undecodable console request: %s", exc)
            request = None
        if not isinstance(request, AdminRequest):
            self.counts["dropped"] += 1
            return None
        return request

    def _execute(self, key: Key, envelope: Envelope, request: AdminRequest) -> None:
        self.counts["executed"] += 1
        planned = plan(request, self.status, self.version)
        self.cache.begin(key, envelope, self.runtime.clock())
        if isinstance(planned, AdminResponse):
            self._finish(key, planned)
            return
        if isinstance(planned, SetConfig | SwitchoverRequest):
            # the HA actor only passes the write on; the DCS's outcome is told to us
            write_id = uuid.uuid4().hex
            self.writes[write_id] = key
            planned = dataclasses.replace(planned, request_id=write_id, reply_to=self.name)
        self.log.info("console: %s requested by %s", request.action.value, key[0][:8])
        assert self.workers is not None
        self.workers.submit(self._ask_ha, key, request.request_id, planned)

    def _ask_ha(self, key: Key, request_id: str, request: HaRequest) -> None:
        """Worker thread: ask the HA actor and tell the answer back to this actor."""
        try:
            reply = ask(self.registry, self.ha_actor, request, self.ask_timeout_s)
        except Exception as exc:  # LookupError (not running), pykka's Timeout, ActorDeadError
            reply = AdminReply(
                ok=False, detail=f"the HA actor did not answer ({type(exc).__name__})"
            )
        if not isinstance(reply, AdminReply):
            reply = AdminReply(ok=False, detail="the HA actor gave no answer")
        response = AdminResponse(request_id=request_id, ok=reply.ok, detail=reply.detail)
        self.registry.tell(self.name, ActionFinished(client_key=key[0], response=response))

    @handles(ActionFinished)
    def handle_finished(self, msg: ActionFinished) -> None:
        key = (msg.client_key, msg.response.request_id)
        write = next((w for w, k in self.writes.items() if k == key), None)
        if write is None:
            self._finish(key, msg.response)
        elif not msg.response.ok:
            del self.writes[write]
            self.early.pop(write, None)
            self._finish(key, msg.response)
        else:  # passed on to the DCS: the answer is its outcome, which may be here already
            self.accepted[write] = msg.response.detail
            early = self.early.pop(write, None)
            if early is not None:
                self.handle_write_result(early)

    @handles(ConfigResult, FailoverResult)
    def handle_write_result(self, msg: ConfigResult | FailoverResult) -> None:
        write = msg.request_id
        if write not in self.writes:
            return  # not ours, or a write we already gave up on
        if isinstance(msg, FailoverResult) and write not in self.accepted:
            self.early[write] = msg  # ahead of the HA core's reply, whose words we tell
            return
        key = self.writes.pop(write)
        accepted = self.accepted.pop(write, "")
        stored = msg.outcome is ConfigOutcome.STORED
        if isinstance(msg, ConfigResult):
            done, data = "configuration changed", msg.config
        else:
            done, data = accepted, None
        detail = done if stored else msg.detail or msg.outcome.value
        response = AdminResponse(request_id=key[1], ok=stored, detail=detail, data=data)
        self._finish(key, response)

    def _finish(self, key: Key, response: AdminResponse) -> None:
        member = self.status.name if self.status else None
        if response.member is None and member is not None:
            response = AdminResponse(
                request_id=response.request_id,
                ok=response.ok,
                detail=response.detail,
                member=member,
                data=response.data,
            )
        for envelope in self.cache.finish(key, response, self.runtime.clock()):
            self._send(envelope, response)

    # -- the live feed -----------------------------------------------------------------------

    def _watch(self, envelope: Envelope, request: AdminRequest) -> None:
        self.watchers.watch(envelope, self.runtime.clock())
        ok = AdminResponse(
            request_id=request.request_id,
            ok=True,
            detail=f"watching for {self.watchers.ttl_s:.0f} s",
            member=self.status.name if self.status else None,
            data=self.status,
        )
        self._send(envelope, ok)
        for event in self.recent:
            self._send(envelope, event)

    @handles(NodeStatus)
    def handle_node_status(self, msg: NodeStatus) -> None:
        msg = feed.with_lease(msg, self.runtime.clock())
        made = feed.events(self.status, msg, self.runtime.wall())
        self.status = msg
        self.recent.extend(made)
        for envelope in self.watchers.live(self.runtime.clock()):
            self._send(envelope, msg)
            for event in made:
                self._send(envelope, event)

    def _send(self, envelope: Envelope, msg: Message) -> None:
        if self.endpoint is not None and self.endpoint.loop is not None:
            self.endpoint.loop.send(ROUTER, [*envelope, encode(msg)])

    @handles(GetConsoleStats)
    def handle_stats(self, msg: GetConsoleStats) -> ConsoleStats:
        return ConsoleStats(
            requests=self.counts["requests"],
            executed=self.counts["executed"],
            cached_replies=self.counts["cached"],
            dropped=self.counts["dropped"],
            watchers=len(self.watchers.live(self.runtime.clock())),
        )
