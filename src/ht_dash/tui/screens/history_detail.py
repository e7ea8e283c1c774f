"""Dialogs of the history screen: one entry in full, and where to write a CSV export."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from ht_dash.api.models import HistoryEntry
from ht_dash.insights.export import resolve_export_path
from ht_dash.insights.format import MISSING, money_or_none
from ht_dash.insights.history_view import KIND_LABELS
from ht_dash.tui.keymap import key_for

_DIALOG_CSS = """
{name} {{ align: center middle; background: $background 60%; }}
{name} > Vertical {{
    width: 90%; max-width: 90; height: auto; max-height: 90%;
    border: round $accent; background: $surface; padding: 0 1;
}}
{name} .dialog-help {{ color: $text-muted; }}
{name} VerticalScroll {{ height: auto; max-height: 100%; }}
"""


def kind_label(kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return label.rstrip("s") if label and kind != "support" else (label or kind)


class HistoryDetailScreen(ModalScreen[None]):
    """Every field of one history entry, the ticket's or invoice's text in full, and `w` to open
    it in the web dashboard (where the API keeps what tokens cannot read)."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="HistoryDetailScreen")
    BINDINGS = [
        Binding("escape,enter,q", "dismiss", "Close", id="history.detail.close"),
        Binding("w", "web_dashboard", "Web dashboard", id="history.detail.web"),
    ]

    def __init__(self, entry: HistoryEntry) -> None:
        super().__init__()
        self.entry = entry

    def compose(self) -> ComposeResult:
        e = self.entry
        rows = [
            ("Date", f"{e.at:%Y-%m-%d %H:%M:%S} UTC"),
            ("Kind", kind_label(e.kind)),
            ("Status", e.status),
            ("Amount", money_or_none(e.amount_cents, e.currency) or MISSING),
            ("Reference", e.reference or "—"),
            ("Entry id", e.id),
        ]
        body = "\n".join(f"[dim]{name:<10}[/] {escape(value)}" for name, value in rows)
        with Vertical() as box:
            box.border_title = f"{escape(kind_label(e.kind))} · {e.at:%Y-%m-%d}"
            with VerticalScroll():
                yield Static(f"[b]{escape(e.description)}[/]\n", id="detail-description")
                yield Static(body, id="detail-fields")
            keys = {b: key_for(self.app._keymap, self.BINDINGS, b) for b in self._KEYS}
            yield Label(
                f"{keys['history.detail.web']}: open in the web dashboard · "
                f"{keys['history.detail.close']}: close",
                classes="dialog-help",
            )

    _KEYS = ("history.detail.web", "history.detail.close")

    def action_web_dashboard(self) -> None:
        from ht_dash.tui.web import open_web_dashboard

        e = self.entry
        what = f"{kind_label(e.kind)} {e.reference or e.id}"
        self.run_worker(
            open_web_dashboard(self.app, what), group="history-web", exit_on_error=False
        )


class ExportPathScreen(ModalScreen[Path | None]):
    """Asks where to write the CSV; Enter accepts the suggested path, Esc cancels."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ExportPathScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="history.export.cancel")]

    def __init__(self, what: str, default: Path) -> None:
        super().__init__()
        self.what = what
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Export to CSV"
            yield Label(escape(self.what))
            yield Input(value=str(self.default), id="export-path", select_on_focus=False)
            yield Label(
                "Enter: write · Esc: cancel · a folder keeps the suggested file name",
                classes="dialog-help",
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(resolve_export_path(event.value, self.default))

    def action_cancel(self) -> None:
        self.dismiss(None)
