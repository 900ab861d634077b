"""Where each of the HA core's messages goes: the actors that carry actions out."""

from __future__ import annotations

from actors.runtime import names
from messages.base import ActorName, Message
from messages.postgres import Bootstrap, CreateReplica, Reinitialize, Rewind

_BOOTSTRAP_ACTIONS = (Bootstrap, CreateReplica, Rewind, Reinitialize)


def target_of(action: Message) -> ActorName:
    if action.TAG.startswith("dcs."):
        return names.LEADER_LOCK
    if isinstance(action, _BOOTSTRAP_ACTIONS):
        return names.BOOTSTRAP
    return names.POSTMASTER
