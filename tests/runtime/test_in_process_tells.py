"""In-process tells: a message with nothing mutable in it travels as itself, one that
could be changed (a dict inside) as its encoding, so no actor sees another's change.
A read-only mapping (a field hinted Mapping, frozen at construction) is not a dict:
the DCS view and the node status, which hold the cluster's parameters, travel as
themselves."""

from __future__ import annotations

import importlib
import pkgutil
import queue
from typing import Any

import pytest

import messages
from actors.runtime.actor import BaseActor, handles
from actors.runtime.context import Runtime
from actors.runtime.timers import Scheduler
from messages.base import REGISTRY, ActorName, Message
from messages.cluster import ClusterView
from messages.codec import shareable
from messages.config import DynamicConfig, KubernetesSettings
from messages.dcs import DcsView, RenewLock
from messages.gossip import InboundFrame
from messages.postgres import PostgresStatus
from messages.runtime import Tick
from node.tree import new_registry

for _module in pkgutil.iter_modules(messages.__path__):
    importlib.import_module(f"messages.{_module.name}")


class Keeper(BaseActor):
    def __init__(self, *, got: queue.SimpleQueue[Any], **base: Any) -> None:
        super().__init__(**base)
        self.got = got

    @handles(Tick, DcsView, RenewLock)
    def keep(self, msg: Message) -> None:
        self.got.put(msg)


@pytest.mark.parametrize("cls", [Tick, PostgresStatus, InboundFrame, DynamicConfig, DcsView])
def test_frozen_all_the_way_down_is_shareable(cls: type[Message]) -> None:
    assert shareable(cls)


@pytest.mark.parametrize("cls", [KubernetesSettings, RenewLock])
def test_a_dict_anywhere_inside_is_not(cls: type[Message]) -> None:
    assert not shareable(cls)


def test_no_registered_message_with_a_dict_field_is_called_shareable() -> None:
    for tag, cls in REGISTRY.items():
        if shareable(cls):
            for field in cls.__dataclass_fields__.values():  # type: ignore[attr-defined]
                assert "dict" not in str(field.type), f"{tag}.{field.name} is {field.type}"


def test_a_shareable_message_arrives_as_itself_and_a_mutable_one_as_a_copy() -> None:
    got: queue.SimpleQueue[Any] = queue.SimpleQueue()
    scheduler = Scheduler()
    registry = new_registry()
    runtime = Runtime(registry=registry, scheduler=scheduler)
    keeper = Keeper.start(name=ActorName("keeper"), runtime=runtime, got=got)
    try:
        tick = Tick(timer="t")
        parameters = {"work_mem": "8MB"}
        view = DcsView(view=ClusterView(config=DynamicConfig(postgresql_parameters=parameters)))
        renew = RenewLock(slots={"node2": 5})
        for msg in (tick, view, renew):
            assert registry.tell(ActorName("keeper"), msg)
        assert got.get(timeout=5) is tick
        assert got.get(timeout=5) is view
        parameters["work_mem"] = "1GB"  # the sender's dict: the view kept a copy
        assert view.view.config is not None
        assert view.view.config.postgresql_parameters == {"work_mem": "8MB"}
        with pytest.raises(TypeError):
            view.view.config.postgresql_parameters["work_mem"] = "1GB"  # type: ignore[index]
        arrived = got.get(timeout=5)
        assert arrived == renew and arrived is not renew
        assert arrived.slots is not renew.slots
    finally:
        keeper.stop()
