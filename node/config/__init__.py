"""A node's configuration: Patroni-style YAML, environment overrides, validation.

The loader turns a file (plus the process environment) into the frozen
:class:`messages.config.NodeConfig` that the actors receive, or raises
:class:`ConfigError` listing every problem with its key path.  The dynamic
(cluster-wide) config has its own pair of functions because the DCS stores it
as a Patroni-compatible JSON object.
"""

from __future__ import annotations

from node.config.dynamic import dynamic_config_from_dict, dynamic_config_to_dict
from node.config.env import NAMED as ENV_OVERRIDES
from node.config.errors import ConfigError
from node.config.loader import load_config, parse_config

__all__ = [
    "ENV_OVERRIDES",
    "ConfigError",
    "dynamic_config_from_dict",
    "dynamic_config_to_dict",
    "load_config",
    "parse_config",
]
