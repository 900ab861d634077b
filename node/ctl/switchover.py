"""switchover and failover, as patronictl does them: ask, confirm, request, wait.

The leader and candidate come from the flags, or from prompts when a person
is at the terminal (the current leader and "any" are the defaults).  After
the request is accepted the command watches the cluster until the leader has
changed, so its exit status says whether the switchover happened.
"""

from __future__ import annotations

import argparse
import datetime
import time

from messages.admin import NodeStatus
from messages.base import MemberName
from messages.console import AdminAction
from node.ctl.client import CtlError
from node.ctl.render import LIST_COLUMNS, cluster_title, member_rows, table, timestamp
from node.ctl.session import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Session

POLL_S = 1.0


def _leader(status: NodeStatus) -> MemberName | None:
    return status.cluster.leader.name if status.cluster.leader else None


def _candidates(status: NodeStatus, leader: MemberName | None) -> list[str]:
    return sorted(m.name for m in status.cluster.members if m.name != leader)


def scheduled_epoch(text: str | None, now: float) -> float | None:
    """``now`` or absent: at once; otherwise an ISO 8601 time with a zone, in the future."""
    if text is None or text.strip().lower() in ("", "now"):
        return None
    try:
        at = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise CtlError(
            f"cannot parse --scheduled {text!r}: use ISO 8601 with a zone", EXIT_USAGE
        ) from None
    if at.tzinfo is None:
        raise CtlError("--scheduled needs a time zone, e.g. 2030-01-01T10:00:00+00:00", EXIT_USAGE)
    if at.timestamp() <= now:
        raise CtlError("--scheduled is in the past", EXIT_USAGE)
    return at.timestamp()


def switchover(s: Session, args: argparse.Namespace) -> int:
    status = s.status()
    current = _leader(status)
    leader = args.leader or s.prompt("Primary", current or "")
    if not leader:
        return s.fail("there is no leader to switch over from; use failover", EXIT_FAILED)
    if current is not None and leader != current:
        return s.fail(f"{leader} is not the leader (the leader is {current})", EXIT_FAILED)
    choices = _candidates(status, current)
    candidate = args.candidate or s.prompt(f"Candidate {choices}", "") or None
    if candidate is not None and candidate not in choices:
        return s.fail(f"{candidate} is not a member other than the leader", EXIT_FAILED)
    at_text = args.scheduled or s.prompt("When should the switchover take place (e.g. now)", "now")
    at = scheduled_epoch(at_text, time.time())
    question = (
        f"Are you sure you want to switchover cluster {status.scope}, "
        f"demoting current leader {leader}"
    )
    if at is not None:
        question += f" at {timestamp(at)}"
    if not s.confirm(question + "?"):
        return s.fail("Aborted")
    response = s.request(
        AdminAction.SWITCHOVER,
        leader=MemberName(leader),
        candidate=MemberName(candidate) if candidate else None,
        scheduled_at=at,
    )
    if not response.ok or at is not None or args.wait <= 0:
        return s.result(response)
    return _await_new_leader(s, leader, candidate, args.wait, "switched over")


def failover(s: Session, args: argparse.Namespace) -> int:
    status = s.status()
    current = _leader(status)
    choices = _candidates(status, current)
    candidate = args.candidate or s.prompt(f"Candidate {choices}", "")
    if not candidate:
        return s.fail("failover needs a candidate (--candidate)", EXIT_USAGE)
    if not s.confirm(f"Are you sure you want to failover cluster {status.scope}?"):
        return s.fail("Aborted")
    response = s.request(AdminAction.FAILOVER, candidate=MemberName(candidate))
    if not response.ok or args.wait <= 0:
        return s.result(response)
    return _await_new_leader(s, current, candidate, args.wait, "failed over")


def _await_new_leader(
    s: Session, old: str | None, candidate: str | None, wait_s: float, done: str
) -> int:
    s.print(f"{timestamp(time.time())} accepted; waiting up to {wait_s:g} s for the new leader")
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        time.sleep(POLL_S)
        try:
            status = s.status()
        except CtlError:
            continue  # the answering node may be the one restarting
        leader = _leader(status)
        if leader is not None and leader != old and (candidate is None or leader == candidate):
            s.print(f'{timestamp(time.time())} Successfully {done} to "{leader}"')
            s.print(table(member_rows(status), LIST_COLUMNS, cluster_title(status)))
            return EXIT_OK
    return s.fail(f"the request was accepted, but {old} still leads after {wait_s:g} s")
