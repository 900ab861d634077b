"""Registers the API tests' fixtures; they and the helpers live in api_harness.py."""

from __future__ import annotations

from api_harness import api, registry, start_api, stop_every_actor

__all__ = ["api", "registry", "start_api", "stop_every_actor"]
