"""The ``pgactor`` command line: run a node, check a config, print the version.

``main`` returns the exit status instead of exiting, so tests call it in
process.  Exit status 2 means the input was wrong (bad arguments or an invalid
config), as argparse already uses it.  Each subcommand is one small function;
``pgactor ctl``, ``pgactor console`` and ``pgactor keys`` live in node.ctl.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Callable, Sequence
from typing import cast

from messages.config import NodeConfig
from node.config import ConfigError, load_config
from node.ctl import add_console, add_ctl, add_keys
from node.logs import setup_logging

FALLBACK_VERSION = "0.1.0"
EXIT_USAGE = 2
"""Bad arguments or an invalid config: the operator must change something."""


def version() -> str:
    try:
        return importlib.metadata.version("pgactor")
    except importlib.metadata.PackageNotFoundError:
        return FALLBACK_VERSION


def _report(path: str, error: ConfigError) -> None:
    count = len(error.problems)
    print(f"{path}: invalid configuration ({count} problem{'s' * (count != 1)})", file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"pgactor {version()}")
    return 0


def _cmd_config_validate(args: argparse.Namespace) -> int:
    try:
        load_config(args.file)
    except ConfigError as exc:
        _report(args.file, exc)
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
        config = load_config(args.config)
    except ConfigError as exc:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgactor", description="PostgreSQL high availability, built of actors."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_node(commands)
    _add_config(commands)
    add_ctl(commands)
    add_console(commands)
    add_keys(commands)
    commands.add_parser("version", help="print the version").set_defaults(handler=_cmd_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler = cast(Callable[[argparse.Namespace], int], args.handler)
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
