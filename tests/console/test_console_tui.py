"""``pgactor console`` headless (Textual's pilot) against a real ConsoleActor on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from console_support import start_node, status  # type: ignore[import-not-found]
from textual.widgets import DataTable, RichLog, Static

from messages.config import DynamicConfig
from messages.dcs import SetConfig
from node.tui.app import ConsoleApp, link_to
from node.tui.screens import CandidateScreen, ConfirmScreen


async def until(pilot: Any, pred: Callable[[], Any], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def rows(app: ConsoleApp) -> list[list[str]]:
    table = app.query_one(DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def log_text(app: ConsoleApp) -> str:
    return "\n".join(line.text for line in app.query_one(RichLog).lines)


def test_the_console_shows_the_members_and_switches_over_with_its_key(keys: Path) -> None:
    node = start_node(keys)
    node.push(status())

    async def scenario() -> None:
        app = ConsoleApp(link_to(node.target()))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: len(rows(app)) == 3, "the member table")
            table = rows(app)
            assert [r[0] for r in table] == ["node1", "node2", "node3"]
            assert [r[2] for r in table] == ["Leader", "Replica", "Replica"]
            assert table[1][5] == "10"  # 50 MB - 40 MB of WAL behind the leader

            def summary() -> str:
                return str(app.query_one("#summary", Static).render())

            await until(pilot, lambda: "leader node1" in summary(), "the summary line")
            assert "lease" in summary()

            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, CandidateScreen), "the candidates")
            await pilot.press("enter")  # the first candidate: node2
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
            await pilot.press("y")
            await until(
                pilot,
                lambda: ("node1", "node2") in node.switchovers(),
                "the switchover to reach the HA actor",
            )
            await until(pilot, lambda: "ok: done" in log_text(app), "the answer in the log")

    asyncio.run(scenario())


def test_pause_asks_first_and_nothing_happens_on_no(keys: Path) -> None:
    node = start_node(keys)
    node.push(status())

    async def scenario() -> None:
        app = ConsoleApp(link_to(node.target()))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: len(rows(app)) == 3, "the member table")
            await pilot.press("p")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
            await pilot.press("n")
            await pilot.pause(0.3)
            assert not node.ha_received()
            await pilot.press("p")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
            await pilot.press("y")
            await until(
                pilot,
                lambda: any(
                    isinstance(m, SetConfig) and m.config == DynamicConfig(pause=True)
                    for m in node.ha_received()
                ),
                "the pause to reach the HA actor",
            )

    asyncio.run(scenario())
