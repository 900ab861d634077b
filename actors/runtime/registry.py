"""The name registry: actors address each other by name, never by reference.

A restart replaces an actor's reference; whoever sends by name reaches the new
one.  News several actors need (the cluster view, PostgreSQL's status, the
node's status) is published on a topic instead; who hears a topic is declared
once, where the node is assembled (node/tree.py), so no actor relays another's
news and no publisher knows its listeners.

Sending to a name with no live actor drops the message with a debug line:
the supervisor is already restarting it, and every pgactor message is a full
statement of state or an idempotent command, so a lost one is repaired by
the next.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from actors.runtime.names import Topic
from messages.base import ActorName, Message
from messages.codec import encode, shareable

log = logging.getLogger(__name__)


class Registry:
    """Thread-safe map of actor name to pykka ActorRef, one per node."""

    def __init__(self, subscriptions: Mapping[Topic, Iterable[ActorName]] | None = None) -> None:
        self._lock = threading.Lock()
        self._refs: dict[ActorName, Any] = {}
        self._topics: dict[Topic, tuple[ActorName, ...]] = {}
        for topic, names in (subscriptions or {}).items():
            for name in names:
                self.subscribe(topic, name)

    def subscribe(self, topic: Topic, name: ActorName) -> None:
        """`name` hears everything published on `topic` (whichever actor has the name)."""
        with self._lock:
            if name not in self._topics.get(topic, ()):
                self._topics[topic] = (*self._topics.get(topic, ()), name)

    def subscribers(self, topic: Topic) -> tuple[ActorName, ...]:
        with self._lock:
            return self._topics.get(topic, ())

    def publish(self, topic: Topic, msg: Message) -> int:
        """Tell `msg` to every live subscriber of `topic`; how many got it."""
        data = _payload(msg)
        return sum(self.tell_raw(name, data) for name in self.subscribers(topic))

    def register(self, name: ActorName, ref: Any) -> None:
        with self._lock:
            self._refs[name] = ref

    def unregister(self, name: ActorName, ref: Any | None = None) -> None:
        """Forget `name`; when `ref` is given, only if it is still the current one."""
        with self._lock:
            if ref is None or self._refs.get(name) is ref:
                self._refs.pop(name, None)

    def get(self, name: ActorName) -> Any | None:
        with self._lock:
            return self._refs.get(name)

    def names(self) -> tuple[ActorName, ...]:
        with self._lock:
            return tuple(self._refs)

    def tell(self, name: ActorName, msg: Message) -> bool:
        """Encode and deliver `msg` to `name`; False when nobody alive has that name."""
        ref = self.get(name)
        if ref is None or not ref.is_alive():
            log.debug("dropped %s for %s: not running", type(msg).TAG, name)
            return False
        try:
            ref.tell(_payload(msg))
        except Exception:  # ActorDeadError: it died between the check and the tell
            log.debug("dropped %s for %s: died", type(msg).TAG, name)
            return False
        return True

    def tell_raw(self, name: ActorName, data: bytes | Message) -> bool:
        """Deliver as is: bytes undecoded (from outside: a peer, a console), or what
        :func:`_payload` made of a message (published)."""
        ref = self.get(name)
        if ref is None or not ref.is_alive():
            return False
        try:
            ref.tell(data)
        except Exception:  # ActorDeadError: it died between the check and the tell
            return False
        return True


def _payload(msg: Message) -> bytes | Message:
    """What travels to an actor of this process: the message itself when nothing in it
    can change (see codec.shareable), its encoding when something could (a dict)."""
    return msg if shareable(type(msg)) else encode(msg)
