"""Loading a node's config: the YAML file, then the environment, then validation.

Every stage collects its problems instead of stopping at the first, and one
:class:`ConfigError` reports them all.  Nothing here starts anything: a config
that loads is only data.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import Any

import yaml
from pydantic import ValidationError

from messages.config import NodeConfig
from node.config.convert import to_node_config
from node.config.env import apply_environment
from node.config.errors import ConfigError, redact, render_errors, secrets_in
from node.config.host import LoadContext, pg_config_bin_dir
from node.config.pg_server import parameter_problems
from node.config.schema import NodeModel
from node.config.whole import whole_file_problems


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping.

    PyYAML keeps the last of two equal keys; in a config that hides a mistake
    (two ``postgresql:`` sections, say), so it is an error here.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else ():
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` may be overridden key by key, by design
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
                )
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """The file's top-level mapping, or ConfigError saying why it cannot be read."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as stream:
            data = yaml.load(stream, Loader=_Loader)  # _Loader is a SafeLoader
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read ({exc.strerror})"]) from None
    except yaml.MarkedYAMLError as exc:
        # Only the position and the problem: PyYAML's snippet could quote a password.
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(
            [f"{name}: {where}{exc.problem or exc.context or 'not valid YAML'}"]
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{name}: not valid YAML ({type(exc).__name__})"]) from None
    if not isinstance(data, Mapping):
        raise ConfigError([f"{name}: expected a mapping of sections (scope, postgresql, ...)"])
    return data


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> NodeConfig:
    """Load, override from ``env`` (default: the process environment) and validate a file."""
    return parse_config(read_yaml(path), env)


def parse_config(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> NodeConfig:
    """Validate a config already parsed from YAML; raise ConfigError listing every problem."""
    if not isinstance(data, Mapping):
        raise ConfigError(["(top level): expected a mapping of sections (scope, postgresql, ...)"])
    env = os.environ if env is None else env
    overlay = apply_environment(data, env)
    problems = overlay.problems + _dcs_section_problems(overlay.data)
    search_path = env.get("PATH", os.defpath)
    context = LoadContext(
        pod_ip=overlay.pod_ip,
        find_bin_dir=lambda: pg_config_bin_dir(search_path),
        check_parameters=parameter_problems,
    )
    model: NodeModel | None = None
    try:
        model = NodeModel.model_validate(overlay.data, context=context)
    except ValidationError as exc:
        problems += render_errors(exc, NodeModel, overlay.origins)
    if model is not None and not problems:
        problems += whole_file_problems(model, context)
    if problems or model is None:
        raise ConfigError(redact(problems, secrets_in(data) | secrets_in(overlay.data)))
    return to_node_config(model)


def _dcs_section_problems(data: Mapping[str, Any]) -> list[str]:
    # Checked on the raw mapping, so it is reported even when other sections fail.
    chosen = [name for name in ("etcd3", "etcd", "kubernetes") if name in data]
    if len(chosen) == 1 or set(chosen) == {"etcd3", "etcd"}:
        return []  # etcd written twice under both names is reported by the schema
    if not chosen:
        return ["etcd3/kubernetes: no DCS section; configure exactly one (etcd3 or kubernetes)"]
    return [f"{'/'.join(chosen)}: configure exactly one DCS section, found {len(chosen)}"]
