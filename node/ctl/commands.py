"""The read commands and the simple actions of ``pgactor ctl``.

Each command is a small function of (session, arguments) returning the exit
status.  Reads print a table (or JSON / YAML); actions confirm first where a
mistake would hurt, then print the node's answer.
"""

from __future__ import annotations

import argparse
import dataclasses

from messages.base import MemberName
from messages.console import AdminAction, AdminRequest, AdminResponse
from node.config import ConfigError, dynamic_config_to_dict
from node.ctl import client, editconfig
from node.ctl.render import (
    HISTORY_COLUMNS,
    LIST_COLUMNS,
    cluster_title,
    history_rows,
    member_rows,
    structured,
    table,
    topology,
    with_cluster,
)
from node.ctl.session import EXIT_FAILED, EXIT_OK, Session
from node.ctl.target import Target


def list_members(s: Session, args: argparse.Namespace) -> int:
    status = s.status()
    rows = topology(status) if args.ctl_command == "topology" else member_rows(status)
    if s.fmt == "pretty":
        s.print(table(rows, LIST_COLUMNS, cluster_title(status)))
    else:
        s.print(structured(with_cluster(rows, status), s.fmt))
    return EXIT_OK


def history(s: Session, args: argparse.Namespace) -> int:
    rows = history_rows(s.status())
    s.print(table(rows, HISTORY_COLUMNS) if s.fmt == "pretty" else structured(rows, s.fmt))
    return EXIT_OK


def show_config(s: Session, args: argparse.Namespace) -> int:
    config = s.config_now()
    fmt = "yaml" if s.fmt == "pretty" else s.fmt
    s.print(structured(dynamic_config_to_dict(config), fmt))
    return EXIT_OK


def edit_config(s: Session, args: argparse.Namespace) -> int:
    current = s.config_now()
    before = editconfig.config_text(current)
    try:
        after = editconfig.apply_sets(before, args.set) if args.set else editconfig.edit(before)
        config = editconfig.parse(after)
    except ConfigError as exc:
        return s.fail("invalid configuration:\n  " + "\n  ".join(exc.problems))
    changes = editconfig.diff(before, editconfig.config_text(config))
    if not changes:
        s.print("Not changed")
        return EXIT_OK
    s.print(changes)
    if not s.confirm("Apply these changes?"):
        return s.fail("Aborted")
    return s.result(s.request(AdminAction.EDIT_CONFIG, config=config, expected_config=current))


def version(s: Session, args: argparse.Namespace) -> int:
    from node.cli import version as local_version

    s.print(f"pgactor ctl version {local_version()}")
    req = AdminRequest(request_id=client.new_request_id(), action=AdminAction.VERSION)
    for address, answer in client.ask_each(s.target, req).items():
        if isinstance(answer, AdminResponse):
            s.print(f"  {answer.member or address}: {answer.detail}")
        else:
            s.print(f"  {address}: {answer.value}")
    return EXIT_OK


def _at_member(s: Session, member: str) -> Target:
    """The target narrowed to `member`'s own console (its PostgreSQL is the one to act on)."""
    req = AdminRequest(request_id=client.new_request_id(), action=AdminAction.VERSION)
    answers = client.ask_each(s.target, req)
    for address, answer in answers.items():
        if isinstance(answer, AdminResponse) and answer.member == member:
            return dataclasses.replace(s.target, addresses=(address,))
    heard = sorted(str(a.member) for a in answers.values() if isinstance(a, AdminResponse))
    raise client.CtlError(
        f"no console answers as {member} (answering: {', '.join(heard) or 'none'})", EXIT_FAILED
    )


def restart(s: Session, args: argparse.Namespace) -> int:
    target = _at_member(s, args.member)
    if not s.confirm(f"Are you sure you want to restart members {args.member}?"):
        return s.fail("Aborted")
    role = None if args.role == "any" else args.role
    fields = {"member": MemberName(args.member), "role": role, "pending": args.pending}
    return s.result(s.request(AdminAction.RESTART, at=target, **fields))


def reinit(s: Session, args: argparse.Namespace) -> int:
    target = _at_member(s, args.member)
    if not s.confirm(f"Are you sure you want to reinitialize members {args.member}?"):
        return s.fail("Aborted")
    fields = {"member": MemberName(args.member), "force": args.force}
    return s.result(s.request(AdminAction.REINIT, at=target, **fields))


def reload(s: Session, args: argparse.Namespace) -> int:
    if not s.confirm("Are you sure you want to reload every member's configuration?"):
        return s.fail("Aborted")
    req = AdminRequest(request_id=client.new_request_id(), action=AdminAction.RELOAD)
    code = EXIT_OK
    for address, answer in client.ask_each(s.target, req).items():
        if isinstance(answer, AdminResponse):
            s.print(f"{answer.member or address}: {answer.detail}")
            code = code if answer.ok else EXIT_FAILED
        else:
            s.print(f"{address}: {answer.value}")
            code = EXIT_FAILED
    return code


def pause(s: Session, args: argparse.Namespace) -> int:
    return s.result(s.request(AdminAction.PAUSE))


def resume(s: Session, args: argparse.Namespace) -> int:
    return s.result(s.request(AdminAction.RESUME))
