"""The console's dialogs: pick a candidate, confirm an action."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList
from textual.widgets.option_list import Option

ANY = "__any__"


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; y and n answer it, Escape says no."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 64; height: auto; border: thick $warning; padding: 1 2; }
    ConfirmScreen Horizontal { height: auto; margin-top: 1; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            with Horizontal():
                yield Button("Yes (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class CandidateScreen(ModalScreen[str | None]):
    """Choose the member to switch over to; Escape cancels."""

    DEFAULT_CSS = """
    CandidateScreen { align: center middle; }
    CandidateScreen > Vertical { width: 48; height: auto; border: thick $accent; padding: 1 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, leader: str, candidates: list[str]) -> None:
        super().__init__()
        self.leader = leader
        self.candidates = candidates

    def compose(self) -> ComposeResult:
        options = [Option(name, id=name) for name in self.candidates]
        options.append(Option("any (the healthiest)", id=ANY))
        with Vertical():
            yield Label(f"Switch over from {self.leader} to:")
            yield OptionList(*options, id="candidates")

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
