"""``pgactor console``: a live view of the cluster, and keys to act on it.

The screen shows the members (role, state, timeline, lag) as the watched node
sees them, the leader's lease counting down, the node's own key figures, and
a scrolling log of events and answers.  Keys: ``s`` switch over, ``r``
restart the highlighted member, ``p`` pause, ``u`` resume -- each confirmed
first -- and ``q`` quit.  All talking goes through a :class:`Link` thread;
its messages reach the screen with ``call_from_thread``.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widgets import DataTable, Footer, RichLog, Static

from messages.admin import NodeStatus
from messages.base import MemberName, Message
from messages.console import AdminAction, AdminResponse, FeedEvent
from node.ctl.render import LIST_COLUMNS, member_rows
from node.ctl.target import Target, find_target
from node.tui.link import Link
from node.tui.screens import ANY, CandidateScreen, ConfirmScreen

COLUMNS = (*LIST_COLUMNS, "Pending restart")


def clock(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%H:%M:%S")


def summary(status: NodeStatus | None, lease_left_s: float | None, via: str) -> str:
    if status is None:
        return f"waiting for a node to answer ({via or 'connecting'}) ..."
    leader = status.cluster.leader.name if status.cluster.leader else "none"
    lease = "-" if lease_left_s is None else f"{max(0.0, lease_left_s):4.1f} s"
    return (
        f"Cluster {status.scope}  leader {leader}  lease {lease}\n"
        f"via {status.name} ({via})  TL {int(status.timeline)}  WAL {int(status.wal_position)}  "
        f"DCS {'ok' if status.dcs_reachable else 'UNREACHABLE'}  "
        f"{'PAUSED  ' if status.paused else ''}{status.reason.value}"
    )


class ConsoleApp(App[int]):
    TITLE = "pgactor console"
    CSS = """
    #summary { height: 3; padding: 0 1; background: $boost; }
    #members { height: 1fr; }
    #events { height: 12; border-top: solid $accent; }
    """
    BINDINGS = [
        Binding("s", "switchover", "Switchover"),
        Binding("r", "restart", "Restart"),
        Binding("p", "pause", "Pause"),
        Binding("u", "resume", "Resume"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, link_factory: Callable[[ConsoleApp], Link]) -> None:
        super().__init__()
        self.link_factory = link_factory
        self.link: Link | None = None
        self.status: NodeStatus | None = None
        self.received_at = 0.0

    def compose(self) -> ComposeResult:
        yield Static(summary(None, None, ""), id="summary")
        yield DataTable(id="members", cursor_type="row", zebra_stripes=True)
        yield RichLog(id="events", wrap=True, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.set_interval(0.5, self._refresh_summary)
        self.link = self.link_factory(self)
        self.link.start()

    def on_unmount(self) -> None:
        if self.link is not None:
            self.link.stop()

    # -- from the link thread (through call_from_thread) -------------------------------------

    def deliver(self, msg: Message) -> None:
        if isinstance(msg, AdminResponse):
            if isinstance(msg.data, NodeStatus):
                self.show(msg.data)
            if msg.detail and not msg.detail.startswith("watching"):
                self.log_line(f"{'ok' if msg.ok else 'refused'}: {msg.detail}")
        elif isinstance(msg, NodeStatus):
            self.show(msg)
        elif isinstance(msg, FeedEvent):
            self.log_line(f"{msg.member} {msg.kind.value}: {msg.detail}", msg.wall_time)

    def note(self, text: str) -> None:
        self.log_line(text)

    def show(self, status: NodeStatus) -> None:
        self.status, self.received_at = status, time.monotonic()
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for cells in member_rows(status):
            table.add_row(*(str(cells.get(c, "")) for c in COLUMNS), key=str(cells["Member"]))
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        self._refresh_summary()

    def log_line(self, text: str, at: float | None = None) -> None:
        self.query_one(RichLog).write(f"{clock(at or time.time())}  {text}")

    def _refresh_summary(self) -> None:
        lease = None
        if self.status is not None and self.status.lease_remaining_s is not None:
            lease = self.status.lease_remaining_s - (time.monotonic() - self.received_at)
        via = self.link.address if self.link else ""
        try:
            line = self.query_one("#summary", Static)
        except NoMatches:  # a status before the screen is mounted: the interval draws it
            return
        line.update(summary(self.status, lease, via))

    # -- keys -----------------------------------------------------------------------------------

    def action_switchover(self) -> None:
        status = self.status
        if status is None or status.cluster.leader is None:
            self.notify("no leader to switch over from", severity="warning")
            return
        leader = status.cluster.leader.name
        others = sorted(str(m.name) for m in status.cluster.members if m.name != leader)
        self.push_screen(CandidateScreen(leader, others), self._switchover_to)

    def _switchover_to(self, candidate: str | None) -> None:
        if candidate is None or self.status is None or self.status.cluster.leader is None:
            return
        leader = self.status.cluster.leader.name
        target = None if candidate == ANY else MemberName(candidate)
        question = f"Switch over from {leader} to {target or 'the healthiest member'}?"
        self._confirmed(question, AdminAction.SWITCHOVER, leader=leader, candidate=target)

    def action_restart(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        member = str(table.get_row_at(table.cursor_row)[0])
        self._confirmed(f"Restart PostgreSQL on {member}?", AdminAction.RESTART, member=member)

    def action_pause(self) -> None:
        self._confirmed("Pause automatic failover for the cluster?", AdminAction.PAUSE)

    def action_resume(self) -> None:
        self._confirmed("Resume automatic failover?", AdminAction.RESUME)

    def _confirmed(self, question: str, action: AdminAction, **fields: object) -> None:
        def answered(yes: bool | None) -> None:
            if yes and self.link is not None:
                self.link.request(action, **fields)
                self.log_line(f"{action.value} requested")

        self.push_screen(ConfirmScreen(question), answered)


def link_to(target: Target) -> Callable[[ConsoleApp], Link]:
    """The link factory for `target`: the link's messages reach the app's thread."""

    def make(app: ConsoleApp) -> Link:
        return Link(
            target,
            deliver=lambda msg: app.call_from_thread(app.deliver, msg),
            note=lambda text: app.call_from_thread(app.note, text),
        )

    return make


def run_console(config: str | None, client_key: str | None, timeout_s: float | None) -> int:
    target = find_target(config, client_key=client_key)  # a bad config fails before the screen
    if timeout_s is not None:
        target = dataclasses.replace(target, timeout_s=timeout_s)
    ConsoleApp(link_to(target)).run()
    return 0
