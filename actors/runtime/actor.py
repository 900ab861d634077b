"""The actor base: msgpack messages in, dispatched by type to handler methods.

A message reaches an actor as msgpack bytes, or, from a neighbour in the same
process, as the message itself when it holds nothing mutable (codec.shareable:
frozen all the way down, which skips the codec's cost for ticks and statuses).
Either way every message stays encodable, so an actor could move to another
process without a change, and no actor ever shares a mutable object with
another.  A handler is declared
with :func:`handles`; an unknown or undecodable message is logged and
dropped, never fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar, NotRequired, TypedDict, TypeVar

import pykka

from actors.runtime.context import Runtime
from actors.runtime.names import Topic
from actors.runtime.registry import Registry
from actors.runtime.thread_name import name_os_thread
from messages.base import ActorName, Message
from messages.codec import DecodeError, decode, encode, shareable
from messages.runtime import ChildExit, ExitKind, Ping

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)
Handler = Callable[[Any, Any], Message | None]


def handles(*types: type[Message]) -> Callable[[Callable[[Any, M], Message | None]], Any]:
    """Mark a method as the handler of the given message types."""

    def mark(fn: Callable[[Any, M], Message | None]) -> Any:
        fn.__pgactor_handles__ = types  # type: ignore[attr-defined]
        return fn

    return mark


class ActorArgs(TypedDict):
    """What every actor takes, and the supervisor gives every child.

    A subclass declares only its own keywords and passes the rest on:
    ``def __init__(self, *, settings: S, **base: Unpack[ActorArgs])``.
    """

    name: ActorName
    runtime: Runtime
    on_exit: NotRequired[Callable[[ChildExit], None] | None]


class BaseActor(pykka.ThreadingActor):
    """A named actor that reports its own failure to its supervisor.

    Subclasses implement `started()` / `stopping()` instead of pykka's hooks;
    both run in the actor's own thread.  `stopping()` runs on a normal stop
    and after a failure alike, so resources are released either way.  What
    every actor of the node shares (registry, scheduler, clocks) arrives as
    one :class:`Runtime`, among the :class:`ActorArgs`.
    """

    _dispatch: ClassVar[dict[type[Message], Handler]] = {}
    # An actor that failed to stop must not keep the node process alive after the
    # supervisor has given up on it: the node exits and its own supervisor restarts it.
    use_daemon_thread = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = dict(cls._dispatch)
        for attr_name, attr in vars(cls).items():
            types = getattr(attr, "__pgactor_handles__", ())
            if types and hasattr(pykka.ThreadingActor, attr_name):
                # pykka's own methods (its `_stop`, say) must never be replaced by a handler
                raise TypeError(f"{cls.__name__}.{attr_name} shadows a pykka method")
            for msg_type in types:
                table[msg_type] = attr
        cls._dispatch = table

    def __init__(
        self,
        *,
        name: ActorName,
        runtime: Runtime,
        on_exit: Callable[[ChildExit], None] | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.runtime = runtime
        self.supervisor = on_exit
        self.log = logging.getLogger(f"{type(self).__module__}.{name}")

    @property
    def registry(self) -> Registry:
        """The node's registry (the runtime's: there is no other)."""
        return self.runtime.registry

    # -- subclass hooks ---------------------------------------------------------

    def started(self) -> None:
        """Set up; runs in the actor's thread before the first message."""

    def stopping(self) -> None:
        """Release resources; runs in the actor's thread on stop and after a failure."""

    # -- sending ------------------------------------------------------------------

    def send(self, to: ActorName, msg: Message) -> bool:
        return self.registry.tell(to, msg)

    def publish(self, topic: Topic, msg: Message) -> int:
        """Tell `msg` to whoever the node declared hears `topic` (see Registry)."""
        return self.registry.publish(topic, msg)

    def tell_self(self, msg: Message) -> None:
        self.actor_ref.tell(msg if shareable(type(msg)) else encode(msg))

    # -- pykka hooks (actor thread) -------------------------------------------------

    def on_start(self) -> None:
        # Register before started() runs: replies to what started() sends must find us.
        self.registry.register(self.name, self.actor_ref)
        name_os_thread()
        try:
            self.started()
        except Exception as exc:
            self._report_exit(ExitKind.FAILED, f"in start: {type(exc).__name__}: {exc}")
            self._safe_stopping()
            raise

    def on_stop(self) -> None:
        self._safe_stopping()
        self._report_exit(ExitKind.NORMAL, "")

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._safe_stopping()
        self._report_exit(
            ExitKind.FAILED, f"{getattr(exception_type, '__name__', '?')}: {exception_value}"
        )

    def on_receive(self, raw: Any) -> Any:
        if isinstance(raw, bytes):
            try:
                msg = decode(raw)
            except DecodeError as exc:
                self.log.warning("dropped undecodable message: %s", exc)
                return None
        else:
            msg = raw
        if isinstance(msg, Ping):
            return encode(Ping())
        handler = self._dispatch.get(type(msg))
        if handler is None:
            self.log.warning("dropped message of unhandled type %s", getattr(msg, "TAG", type(msg)))
            return None
        reply = handler(self, msg)
        return encode(reply) if reply is not None else None

    def _safe_stopping(self) -> None:
        try:
            self.stopping()
        except Exception:
            self.log.exception("error while releasing resources")

    def _report_exit(self, kind: ExitKind, error: str) -> None:
        if self.supervisor is not None:
            self.supervisor(ChildExit(name=self.name, kind=kind, error=error))


def ask(registry: Registry, name: ActorName, msg: Message, timeout_s: float) -> Message | None:
    """Ask `name` and wait for its reply: for the edges only (API, console, tests)."""
    ref = registry.get(name)
    if ref is None:
        raise LookupError(f"no actor named {name}")
    raw = ref.ask(encode(msg), timeout=timeout_s)
    return decode(raw) if raw is not None else None
