"""Where a regenerated token that could not be stored is shown, so it can be copied, not lost."""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from ht_dash.auth.errors import TokenStoreError
from ht_dash.auth.flows import RegenerateOutcome
from ht_dash.auth.storage import TokenStore
from ht_dash.tui.clipboard import copy_and_report
from ht_dash.tui.typed_app import typed_app


class NewTokenScreen(ModalScreen[None]):
    """Shows the new token in full, with copy and (when the keyring failed) a plain-text save."""

    app = typed_app()

    DEFAULT_CSS = """
    NewTokenScreen { align: center middle; background: $background 70%; }
    NewTokenScreen > Vertical {
        width: 90%; max-width: 100; height: auto; max-height: 95%;
        border: thick $error; border-title-style: bold; background: $surface; padding: 0 1;
    }
    NewTokenScreen #new-token-why { margin-top: 1; }
    NewTokenScreen #new-token-value {
        margin: 1 0; padding: 0 1; background: $boost; color: $text; text-style: bold;
    }
    NewTokenScreen #new-token-saved { color: $success; display: none; margin-bottom: 1; }
    NewTokenScreen #new-token-buttons { height: auto; margin-bottom: 1; }
    NewTokenScreen #new-token-buttons Button { margin-right: 2; }
    NewTokenScreen .dialog-help { color: $text-muted; }
    """
    BINDINGS = [
        Binding("c", "copy", "Copy token", id="new-token.copy"),
        Binding("f", "save_file", "Save in plain-text file", id="new-token.file"),
        Binding("escape", "close", "Close", id="new-token.close"),
    ]

    def __init__(self, outcome: RegenerateOutcome) -> None:
        super().__init__()
        self.outcome = outcome
        self.saved_to_file = False

    @property
    def can_save_file(self) -> bool:
        store = self.app.token_state.store
        return (
            isinstance(store, TokenStore)
            and self.outcome.store_error is not None
            and not self.saved_to_file
        )

    def compose(self) -> ComposeResult:
        outcome = self.outcome
        if outcome.store_error is not None:
            why = f"It could not be stored: {escape(outcome.store_error.message)}."
        else:
            why = escape(outcome.not_saved_reason or "It was not stored") + "."
        save = " — or save it in a plain-text file (f, insecure)" if self.can_save_file else ""
        with Vertical() as box:
            box.border_title = "Your new API token — copy it now"
            yield Static(
                f"The token was regenerated; the old one no longer works. {why}\n"
                f"[b]This is the only copy[/]: copy it (c) and keep it somewhere safe{save}.",
                id="new-token-why",
            )
            yield Static(escape(outcome.token.reveal()), id="new-token-value")
            yield Static("", id="new-token-saved")
            with Horizontal(id="new-token-buttons"):
                yield Button("Copy (c)", variant="primary", id="new-token-copy", compact=True)
                if self.can_save_file:
                    yield Button("Save in plain-text file (f)", id="new-token-file", compact=True)
                yield Button("Close (Esc)", id="new-token-close", compact=True)
            yield Label(
                "Until you quit, the Token screen has it too (v shows, c copies).",
                classes="dialog-help",
            )

    def on_mount(self) -> None:
        self.query_one("#new-token-copy", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "save_file":
            return self.can_save_file
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        actions = {
            "new-token-copy": self.action_copy,
            "new-token-file": self.action_save_file,
            "new-token-close": self.action_close,
        }
        if (action := actions.get(event.button.id or "")) is not None:
            action()

    def action_copy(self) -> None:
        self.run_worker(
            copy_and_report(self.app, self.outcome.token),
            group="new-token-copy",
            exit_on_error=False,  # a crash report would print the revealed token among its locals
        )

    @work(exclusive=True, group="new-token-save", exit_on_error=False)
    async def action_save_file(self) -> None:
        if not self.can_save_file:
            return
        store = self.app.token_state.store
        try:
            saved = await store.asave(self.outcome.token, insecure=True)
        except TokenStoreError as exc:
            self.notify(f"{exc.message}. {exc.hint}.", title=exc.title, severity="error")
            return
        self.saved_to_file = True
        self.app.token_state.location = saved.location
        self.query_one("#new-token-saved", Static).update(
            f"✓ Saved in the {escape(saved.location.label)}."
        )
        self.query_one("#new-token-saved", Static).display = True
        if self.query("#new-token-file"):
            self.query_one("#new-token-file", Button).remove()
        self.refresh_bindings()
        self.notify(f"New token saved in the {saved.location.label}.", title="Token saved")

    def action_close(self) -> None:
        if not self.saved_to_file:
            self.app.notify(
                "The new token is stored nowhere: before you quit, copy it from the Token screen "
                "(c), or set HT_DASH_TOKEN.",
                title="Token not stored",
                severity="warning",
                timeout=15,
            )
        self.dismiss(None)
