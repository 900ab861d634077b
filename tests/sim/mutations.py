"""Deliberately broken rules, to show the simulator notices when a rule is wrong."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

MUTATIONS: dict[str, str] = {}


@contextlib.contextmanager
def applied(name: str | None) -> Iterator[None]:
    yield
