"""Where each action goes: the names of the actors that carry actions out."""

from __future__ import annotations

import dataclasses

from messages.base import ActorName, Message
from messages.postgres import Bootstrap, CreateReplica, Reinitialize, Rewind

_BOOTSTRAP_ACTIONS = (Bootstrap, CreateReplica, Rewind, Reinitialize)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Targets:
    leader_lock: ActorName = ActorName("leader_lock")
    postmaster: ActorName = ActorName("postmaster")
    bootstrap: ActorName = ActorName("bootstrap")
    api: ActorName = ActorName("api")
    watchdog: ActorName = ActorName("watchdog")


def target_of(action: Message, targets: Targets) -> ActorName:
    if action.TAG.startswith("dcs."):
        return targets.leader_lock
    if isinstance(action, _BOOTSTRAP_ACTIONS):
        return targets.bootstrap
    return targets.postmaster
