"""What the sync actor knows between steps: a pure tracker of steps in flight.

:func:`rules.plan` assumes its picture is true.  Between actors it may not be:
a PostgresStatus or a DcsView may predate a step, a step sent may not have
landed yet, and a DCS write may end with an unknown outcome.  The tracker
keeps safety rule 3's order across those gaps:

1. One step in flight.  A names step is done when a status shows exactly the
   text sent, and that text is one the server cannot have shown before it
   (not the text it had when the step began, nor any sent since); a key
   write is done when the leader-lock actor answers.  An overdue names step
   may be sent again or replaced (the postmaster handles its mailbox in
   order, so the last one wins), and unpublishing may go out while one is in
   flight (fewer published standbys is never unsafe); a publish may not, nor
   may a names step go out while a write is in flight.
2. The key planned with is the last one known true.  After our own write a
   view is believed again only once it shows the key the answer implies.
   The leader-lock actor publishes views and answers from one thread, in
   order, so this only guards what a restart of either actor may reorder.
   A write with an unknown outcome leaves the key unproven.
3. Fences.  A step sent by an earlier incarnation of this actor may still sit
   in another actor's mailbox, and an unknown outcome may still land.  So
   before a names step the key must be proven by an applied compare-and-set
   (of the key on itself, if nothing else is due), which the leader-lock
   actor handles after any older write; and before the first publish the
   current names are re-stated in an equivalent but different text and seen
   back, which the postmaster applies after any older names step.
"""

from __future__ import annotations

import dataclasses
import enum

from actors.runtime.evolve import evolve
from actors.sync_replication.names import EVERY_STANDBY, format_names
from actors.sync_replication.rules import NO_KEY, StepKind, SyncPlan, parse_or_none, plan
from messages.base import ActorName, Lsn, MemberName, Message
from messages.cluster import ClusterView, SyncState
from messages.dcs import DcsView
from messages.postgres import PostgresStatus, SetSynchronousStandbyNames
from messages.sync import DeleteSyncState, SyncStateWritten, WriteOutcome, WriteSyncState


class Target(enum.Enum):
    POSTMASTER = "postmaster"
    LEADER_LOCK = "leader_lock"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NamesInFlight:
    text: str
    sent_at: float
    spent: frozenset[str] = frozenset()
    """Texts that prove nothing: the server's when these names steps began, and each sent since."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WriteInFlight:
    request_id: int
    state: SyncState | None
    """None: a delete."""
    expected: SyncState


@dataclasses.dataclass(frozen=True, kw_only=True)  # a dict, not slots: see evolve
class Tracker:
    member: MemberName
    reply_to: ActorName
    pg: PostgresStatus | None = None
    view: ClusterView | None = None
    reachable: bool = False
    key: SyncState = NO_KEY
    believe: frozenset[SyncState] | None = None
    """While set, a view's sync key is believed only if it is one of these."""
    key_proven: bool = False
    names_proven: bool = False
    regime: tuple[object, ...] | None = None
    """What the names mean on this server (state, role, parsed value): a change resets names_lsn."""
    names_lsn: Lsn = Lsn(0)
    names: NamesInFlight | None = None
    write: WriteInFlight | None = None
    next_id: int = 1


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """What to do now: the plan, the messages to send, and why nothing is sent if so."""

    plan: SyncPlan | None
    sends: tuple[tuple[Target, Message], ...] = ()
    waiting: str | None = None


# -- events ------------------------------------------------------------------------------


def on_pg(t: Tracker, status: PostgresStatus) -> Tracker:
    text = status.synchronous_standby_names
    regime = _regime(status)
    lsn = status.wal_position if regime != t.regime else t.names_lsn
    names, proven = t.names, t.names_proven
    if names is not None and text == names.text:
        names, proven = None, True
    return evolve(t, pg=status, regime=regime, names_lsn=lsn, names=names, names_proven=proven)


def _regime(status: PostgresStatus) -> tuple[object, ...]:
    parsed = parse_or_none(status.synchronous_standby_names)
    meaning: object = parsed.meaning() if parsed is not None else status.synchronous_standby_names
    return (status.state, status.role, meaning)


def on_view(t: Tracker, msg: DcsView) -> Tracker:
    key, believe = t.key, t.believe
    if believe is None or msg.view.sync in believe:
        key, believe = msg.view.sync, None
    return evolve(t, view=msg.view, reachable=msg.reachable, key=key, believe=believe)


def on_written(t: Tracker, msg: SyncStateWritten) -> Tracker:
    write = t.write
    if write is None or msg.request_id != write.request_id:
        return t  # an answer to an earlier incarnation's or a superseded request
    t = evolve(t, write=None)
    if msg.outcome is WriteOutcome.APPLIED:
        written = write.state if write.state is not None else NO_KEY
        # the reported key is news only if it is not the stale one we wrote over
        fresh = {msg.current} if msg.current != write.expected else set()
        return evolve(t, key=written, believe=frozenset({written, *fresh}), key_proven=True)
    proven = t.key_proven and msg.outcome is WriteOutcome.REJECTED
    return evolve(t, key=msg.current, believe=frozenset({msg.current}), key_proven=proven)


def on_lost(t: Tracker, target: Target) -> Tracker:
    """The actor a step went to was restarted: its mailbox, and our step, are gone."""
    if target is Target.POSTMASTER:
        return evolve(t, names=None)
    if t.write is None:
        return t
    return evolve(t, write=None, key_proven=False)


# -- the next step -------------------------------------------------------------------------


def next_step(t: Tracker, now: float, resend_after_s: float) -> tuple[Tracker, Step]:
    """The plan for what we know, and the messages that carry it out now (if any may go)."""
    blocked = _blocked(t)
    if blocked is not None or t.pg is None or t.view is None:
        return t, Step(plan=None, waiting=blocked)
    view = dataclasses.replace(t.view, sync=t.key)
    p = plan(
        t.member, t.pg, view, t.view.config, t.pg.synchronous_standby_names, names_lsn=t.names_lsn
    )
    if p.kind is StepKind.SET_NAMES:
        return _names_step(t, p, now, resend_after_s)
    if p.kind is StepKind.PUBLISH:
        return _publish_step(t, p, now, resend_after_s)
    if p.kind is StepKind.NOTHING:
        return t, Step(plan=p)
    return _write(t, p, p.state)  # SHRINK or DELETE_KEY: safe whatever else is in flight


def _blocked(t: Tracker) -> str | None:
    if t.pg is None or t.view is None:
        return "no PostgreSQL status or cluster view yet"
    if t.write is not None:
        return "a sync key write is in flight"
    if not t.reachable:
        return "the DCS is unreachable"
    return None


def _names_step(t: Tracker, p: SyncPlan, now: float, resend_after_s: float) -> tuple[Tracker, Step]:
    assert p.names is not None
    if not t.key_proven:
        if t.names is not None:
            return t, Step(plan=p, waiting="names in flight; the sync key is unproven")
        confirm = SyncPlan(kind=StepKind.SHRINK, reason=p.reason, state=t.key)
        t, step = _write(t, confirm, None if t.key == NO_KEY else t.key)
        return t, dataclasses.replace(step, plan=p, waiting="proving the sync key first")
    if t.names is None:
        return _send_names(t, p, p.names, now)
    if now - t.names.sent_at < resend_after_s:
        return t, Step(plan=p, waiting="waiting to see synchronous_standby_names applied")
    return _send_names(t, p, _unspent(p.names, t.names), now)


def _publish_step(
    t: Tracker, p: SyncPlan, now: float, resend_after_s: float
) -> tuple[Tracker, Step]:
    if t.names is not None:
        if now - t.names.sent_at >= resend_after_s:
            return _send_names(t, p, t.names.text, now)
        return t, Step(plan=p, waiting="waiting to see synchronous_standby_names applied")
    if not t.names_proven:
        assert t.pg is not None
        fence = fence_text(t.pg.synchronous_standby_names)
        if fence is None:  # cannot happen: a publish needs named standbys
            return t, Step(plan=p, waiting="no fence for these names")
        t, step = _send_names(t, p, fence, now)
        return t, dataclasses.replace(step, waiting="re-stating the names before publishing")
    return _write(t, p, p.state)


def _unspent(wanted: str, flight: NamesInFlight) -> str:
    """`wanted` in a text not used since the names steps in flight began, if it has one.

    Otherwise the step in flight is sent again as it is: it still lands last.
    """
    if wanted == flight.text:
        return wanted
    parsed = parse_or_none(wanted)
    variants = [wanted]
    if parsed is not None and not parsed.is_off and parsed != EVERY_STANDBY:
        variants.append(format_names(parsed, keyword_case="lower"))
    used = flight.spent | {flight.text}
    return next((v for v in variants if v not in used), flight.text)


def _send_names(t: Tracker, p: SyncPlan, text: str, now: float) -> tuple[Tracker, Step]:
    assert t.pg is not None
    before = t.names
    if before is None:
        spent = frozenset({t.pg.synchronous_standby_names})
    elif text == before.text:
        spent = before.spent
    else:
        spent = before.spent | {before.text}
    t = evolve(t, names=NamesInFlight(text=text, sent_at=now, spent=spent))
    return t, Step(plan=p, sends=((Target.POSTMASTER, SetSynchronousStandbyNames(value=text)),))


def _write(t: Tracker, p: SyncPlan, state: SyncState | None) -> tuple[Tracker, Step]:
    """Compare-and-set the key on what we know; None deletes it."""
    rid = t.next_id
    msg: Message
    if state is None:
        msg = DeleteSyncState(request_id=rid, expected=t.key, reply_to=t.reply_to)
    else:
        msg = WriteSyncState(request_id=rid, state=state, expected=t.key, reply_to=t.reply_to)
    write = WriteInFlight(request_id=rid, state=state, expected=t.key)
    t = evolve(t, write=write, next_id=rid + 1)
    return t, Step(plan=p, sends=((Target.LEADER_LOCK, msg),))


def fence_text(current: str) -> str | None:
    """The current value in an equivalent but different text; None if it has none."""
    parsed = parse_or_none(current)
    if parsed is None or parsed.is_off or parsed == EVERY_STANDBY:
        return None
    canonical = format_names(parsed)
    return canonical if canonical != current else format_names(parsed, keyword_case="lower")
