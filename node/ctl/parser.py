"""The ``ctl``, ``console`` and ``keys`` subcommands of the ``pgactor`` parser.

Options shared by every ctl command (``-c``, ``--format``, ``--timeout``,
``--client-key``) are accepted before or after the command name, as
patronictl users type them both ways.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actors.runtime import zmq_io
from node.ctl import commands, switchover
from node.ctl.client import CtlError
from node.ctl.session import EXIT_USAGE, Session
from node.ctl.target import TargetError

Handler = Callable[[Session, argparse.Namespace], int]
if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c", "--config", metavar="FILE", default=argparse.SUPPRESS,
        help="a ctl file or a node config (default: $PGACTOR_CTL_CONFIG, then the demo's)",
    )  # fmt: skip
    common.add_argument(
        "-f", "--format", choices=("pretty", "json", "yaml"), default=argparse.SUPPRESS
    )
    common.add_argument(
        "--timeout", type=float, metavar="SECONDS", default=argparse.SUPPRESS,
        help="how long to wait for each node's answer",
    )  # fmt: skip
    common.add_argument(
        "--client-key", metavar="FILE", default=argparse.SUPPRESS,
        help="this admin's keypair (a .key_secret file)",
    )  # fmt: skip
    return common


def _force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="do not ask for confirmation")


def _wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait", type=float, default=60.0, metavar="SECONDS",
        help="wait this long for the new leader (0: do not wait)",
    )  # fmt: skip


def _switchover_args(sub: Commands, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("switchover", parents=[common], help="hand the leader role over")
    p.add_argument("--leader", "--primary", dest="leader", help="the current leader")
    p.add_argument("--candidate", help="the member to take over (default: the best)")
    p.add_argument("--scheduled", help='when: "now" or an ISO 8601 time with a zone')
    _force(p)
    _wait(p)
    p.set_defaults(ctl_handler=switchover.switchover)
    p = sub.add_parser("failover", parents=[common], help="promote a candidate (no leader)")
    p.add_argument("--candidate", help="the member to promote")
    _force(p)
    _wait(p)
    p.set_defaults(ctl_handler=switchover.failover)


def _member_args(sub: Commands, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("restart", parents=[common], help="restart PostgreSQL on a member")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("--role", choices=("leader", "primary", "replica", "any"), default="any")
    p.add_argument("--pending", action="store_true", help="only if a restart is pending")
    _force(p)
    p.set_defaults(ctl_handler=commands.restart)
    p = sub.add_parser("reinit", parents=[common], help="rebuild a replica from the leader")
    p.add_argument("member", metavar="MEMBER")
    _force(p)
    p.set_defaults(ctl_handler=commands.reinit)
    p = sub.add_parser("reload", parents=[common], help="reload every member's config")
    _force(p)
    p.set_defaults(ctl_handler=commands.reload)


def _config_args(sub: Commands, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("edit-config", parents=[common], help="change the cluster config")
    p.add_argument(
        "-s", "--set", action="append", default=[], metavar="KEY=VALUE",
        help="set a key (dotted path, YAML value; empty removes it) instead of opening $EDITOR",
    )  # fmt: skip
    _force(p)
    p.set_defaults(ctl_handler=commands.edit_config)


def add_ctl(commands_: Commands) -> None:
    # Two copies of the shared options: parents share action objects, and the defaults
    # set on `ctl` must not become defaults of its commands (which would overwrite them).
    common = _common()
    ctl = commands_.add_parser(
        "ctl", parents=[_common()], help="manage the cluster (patronictl's commands)"
    )
    ctl.set_defaults(
        handler=run_ctl, config=None, format="pretty", timeout=None, client_key=None, force=False
    )
    sub = ctl.add_subparsers(dest="ctl_command", metavar="COMMAND", required=True)
    simple: dict[str, tuple[Handler, str]] = {
        "list": (commands.list_members, "members, roles, states, lag"),
        "topology": (commands.list_members, "members as a replication tree"),
        "history": (commands.history, "the timeline history"),
        "show-config": (commands.show_config, "the cluster config"),
        "version": (commands.version, "versions of ctl and the nodes"),
        "pause": (commands.pause, "stop automatic failover"),
        "resume": (commands.resume, "resume automatic failover"),
    }
    for name, (handler, text) in simple.items():
        sub.add_parser(name, parents=[common], help=text).set_defaults(ctl_handler=handler)
    _switchover_args(sub, common)
    _member_args(sub, common)
    _config_args(sub, common)


def run_ctl(args: argparse.Namespace) -> int:
    session = Session(
        config=args.config,
        fmt=args.format,
        timeout_s=args.timeout,
        client_key=args.client_key,
        force=getattr(args, "force", False),
    )
    handler: Handler = args.ctl_handler
    try:
        return handler(session, args)
    except TargetError as exc:
        return session.fail(f"pgactor ctl: {exc}", EXIT_USAGE)
    except CtlError as exc:
        return session.fail(f"pgactor ctl: {exc}", exc.exit_code)
    except BrokenPipeError:  # `pgactor ctl list | head`: the reader has gone, say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def add_keys(commands_: Commands) -> None:
    keys = commands_.add_parser("keys", help="make CURVE keys for gossip and the console")
    actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate", help="the cluster keypair (unless present) and a client keypair"
    )
    generate.add_argument("dir", metavar="DIR")
    generate.add_argument(
        "--client", action="append", metavar="NAME",
        help="a console client to authorise (repeatable; default: admin)",
    )  # fmt: skip
    generate.set_defaults(handler=_generate_keys)


def _generate_keys(args: Any) -> int:
    clients = args.client or ["admin"]
    base = zmq_io.generate_keys(args.dir, clients)
    print(f"{base}/{zmq_io.SERVER_CERT}.key_secret: the cluster keypair (every member)")
    print(f"{base}/{zmq_io.SERVER_CERT}.key: the cluster public key (clients)")
    for name in clients:
        print(f"{base}/{name}.key_secret: console client {name!r} (authorised in clients/)")
    return 0


def add_console(commands_: Commands) -> None:
    console = commands_.add_parser(
        "console", parents=[_common()], help="a live terminal console of the cluster"
    )
    console.set_defaults(handler=_run_console, config=None, timeout=None, client_key=None)


def _run_console(args: argparse.Namespace) -> int:
    from node.tui.app import run_console  # Textual loads only for the console

    try:
        return run_console(args.config, args.client_key, args.timeout)
    except TargetError as exc:
        print(f"pgactor console: {exc}", file=sys.stderr)
        return EXIT_USAGE
