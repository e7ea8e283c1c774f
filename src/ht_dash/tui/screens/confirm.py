"""A yes/no dialog for actions that cannot be undone: True only on an explicit yes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """`push_screen(ConfirmScreen(...), callback)`: callback(True) on confirm, (False) otherwise.

    The safe choice has the focus, so an Enter pressed out of habit cancels.
    """

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; background: $background 60%; }
    ConfirmScreen > Vertical {
        width: 90%; max-width: 76; height: auto; max-height: 90%;
        border: round $warning; border-title-style: bold; background: $surface; padding: 0 1;
    }
    ConfirmScreen.-danger > Vertical { border: round $error; }
    ConfirmScreen #confirm-message { margin: 1 0; }
    ConfirmScreen #confirm-buttons { height: auto; align-horizontal: right; }
    ConfirmScreen #confirm-buttons Button { margin-left: 2; }
    ConfirmScreen .dialog-help { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape,n", "answer(False)", "Cancel", id="confirm.no"),
        Binding("y", "answer(True)", "Confirm", id="confirm.yes"),
    ]

    def __init__(
        self, title: str, message: str, *, confirm_label: str = "Yes", danger: bool = True
    ) -> None:
        super().__init__(classes="-danger" if danger else "")
        self.title_text = title
        self.message = message
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(self.message, id="confirm-message")
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="confirm-cancel")
                yield Button(self.confirm_label, variant="error", id="confirm-ok")
            yield Label("y: confirm · n / Esc: cancel", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one("#confirm-cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-ok")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
