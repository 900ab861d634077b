"""A message field hinted Mapping is read-only: frozen, on a copy, at construction.

The codec lets a message with such fields reach several actors of a process as
itself (codec.shareable), which is only sound while nobody can change what
another actor holds.  Dict fields stay dicts, and their messages stay encoded.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import importlib
import pkgutil
import types
import typing

import pytest

import messages
from messages.admin import NodeStatus
from messages.base import REGISTRY
from messages.cluster import ClusterView
from messages.codec import decode, encode, shareable
from messages.config import DynamicConfig
from messages.dcs import DcsView

for _module in pkgutil.iter_modules(messages.__path__):
    importlib.import_module(f"messages.{_module.name}")

FROZEN = {(DynamicConfig, "postgresql_parameters")}
"""Every Mapping field, each with a test below that it is frozen at construction."""


def test_every_mapping_field_is_one_known_to_be_frozen() -> None:
    found = set()
    for cls in REGISTRY.values():
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            if typing.get_origin(hints[field.name]) is collections.abc.Mapping:
                found.add((cls, field.name))
    assert found == FROZEN, "a new Mapping field must be frozen at construction, and tested"


def test_the_parameters_are_a_read_only_copy_of_what_was_given() -> None:
    given = {"work_mem": "8MB"}
    config = DynamicConfig(postgresql_parameters=given)
    given["work_mem"] = "1GB"
    assert config.postgresql_parameters == {"work_mem": "8MB"}
    assert isinstance(config.postgresql_parameters, types.MappingProxyType)
    with pytest.raises(TypeError):
        config.postgresql_parameters["shared_buffers"] = "1GB"  # type: ignore[index]
    assert isinstance(DynamicConfig().postgresql_parameters, types.MappingProxyType)


def test_they_stay_frozen_through_the_codec_and_replace_and_compare_as_before() -> None:
    config = DynamicConfig(postgresql_parameters={"work_mem": "8MB"})
    for other in (decode(encode(config)), dataclasses.replace(config, ttl_s=20.0)):
        assert isinstance(other, DynamicConfig)
        assert isinstance(other.postgresql_parameters, types.MappingProxyType)
        assert other.postgresql_parameters == {"work_mem": "8MB"}
    assert decode(encode(config)) == config
    assert config != DynamicConfig(postgresql_parameters={"work_mem": "9MB"})
    assert dict(config.postgresql_parameters) == {"work_mem": "8MB"}


@pytest.mark.parametrize("cls", [DynamicConfig, ClusterView, DcsView, NodeStatus])
def test_the_views_and_statuses_that_hold_them_are_shareable(cls: type) -> None:
    """The DCS view and the node status were encoded and decoded for every subscriber."""
    assert shareable(cls)
