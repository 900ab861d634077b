"""The version constant agents report is the one the package is installed as."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

from messages.version import VERSION


def test_the_version_constant_is_pyprojects_and_the_installed_one() -> None:
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert VERSION == project["project"]["version"] == importlib.metadata.version("pgactor")
