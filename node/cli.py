"""The ``pgactor`` command line: run a node, check a config, print the version.

``main`` returns the exit status instead of exiting, so tests call it in
process.  Exit status 2 means the input was wrong (bad arguments or an invalid
config), as argparse already uses it.  Each subcommand is one small function;
``pgactor ctl``, ``pgactor console`` and ``pgactor keys`` live in node.ctl.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import cast

from messages.codec import DecodeError, decode
from messages.config import NodeConfig
from messages.version import VERSION
from node.logs import setup_logging

EXIT_USAGE = 2
"""Bad arguments or an invalid config: the operator must change something."""


def version() -> str:
    return VERSION


class InvalidConfig(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _report(path: str, error: InvalidConfig) -> None:
    count = len(error.problems)
    print(f"{path}: invalid configuration ({count} problem{'s' * (count != 1)})", file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)


def load_in_child(path: str) -> NodeConfig:
    """The validated config, from a child process (node.config.emit): the agent
    itself never imports pydantic or PyYAML, and stays that much smaller."""
    argv = [sys.executable, "-m", "node.config.emit", path]
    done = subprocess.run(argv, capture_output=True, check=False)
    stderr = done.stderr.decode(errors="replace")
    if done.returncode == EXIT_USAGE:
        raise InvalidConfig(stderr.splitlines())
    if done.returncode != 0:
        raise InvalidConfig([f"(validation failed: exit {done.returncode}) {stderr.strip()}"])
    try:
        config = decode(done.stdout)
    except DecodeError as exc:
        raise InvalidConfig([f"(validation returned an unreadable config) {exc}"]) from None
    if not isinstance(config, NodeConfig):
        raise InvalidConfig([f"(validation returned a {type(config).__name__})"])
    return config


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"pgactor {version()}")
    return 0


def _cmd_config_validate(args: argparse.Namespace) -> int:
    from node.config import ConfigError, load_config  # pydantic: only where validation runs

    try:
        load_config(args.file)
    except ConfigError as exc:
        _report(args.file, InvalidConfig(exc.problems))
        return EXIT_USAGE
    print(f"{args.file}: OK")
    return 0


def _run_node() -> Callable[[NodeConfig], int]:
    # Imported by name at run time: the runtime pulls in every actor, which
    # `config validate` and `version` must neither need nor be type-checked against.
    module = importlib.import_module("node.run")
    return cast(Callable[[NodeConfig], int], module.run_node)


def _cmd_node(args: argparse.Namespace) -> int:
    try:
        config = load_in_child(args.config)
    except InvalidConfig as exc:
        _report(args.config, exc)
        return EXIT_USAGE
    setup_logging(args.log_level or config.log_level, args.log_format, config.name)
    return _run_node()(config)


def _add_node(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    node = commands.add_parser("node", help="run the pgactor node beside one PostgreSQL server")
    node.add_argument("-c", "--config", required=True, metavar="FILE", help="YAML config file")
    node.add_argument("--log-format", choices=("text", "json"), default="text")
    node.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        help="overrides log.level of the config file",
    )
    node.set_defaults(handler=_cmd_node)


def _add_config(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = commands.add_parser("config", help="work with config files")
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    validate = actions.add_parser(
        "validate", help="check a config file (with this environment's overrides applied)"
    )
    validate.add_argument("file", metavar="FILE")
    validate.set_defaults(handler=_cmd_config_validate)


def build_parser(*, node_only: bool = False) -> argparse.ArgumentParser:
    """All commands; with `node_only`, just `node`: the agent's process then never
    imports what ctl, console and keys need (PyYAML, pydantic, the TUI)."""
    parser = argparse.ArgumentParser(
        prog="pgactor", description="PostgreSQL high availability, built of actors."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_node(commands)
    if not node_only:
        from node.ctl import add_console, add_ctl, add_keys

        _add_config(commands)
        add_ctl(commands)
        add_console(commands)
        add_keys(commands)
        commands.add_parser("version", help="print the version").set_defaults(handler=_cmd_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(node_only=argv[:1] == ["node"]).parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler = cast(Callable[[argparse.Namespace], int], args.handler)
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
