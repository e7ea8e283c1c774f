"""A small card: a label, a big value, and how it changed (▲/▼ coloured good or bad)."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Resize
from textual.widgets import Static

from ht_dash.insights.metrics import Card


class StatCard(Vertical):
    DEFAULT_CSS = """
    StatCard { height: 3; width: 1fr; background: $boost; padding: 0 1; margin-right: 1; }
    StatCard:last-of-type { margin-right: 0; }
    StatCard > Static { text-wrap: nowrap; text-overflow: ellipsis; }
    StatCard > .stat-label { color: $text-muted; }
    StatCard > .stat-value { text-style: bold; }
    StatCard > .stat-change.-good { color: $success; }
    StatCard > .stat-change.-bad { color: $error; text-style: bold; }
    /* NO_COLOR greys colours by lightness ($error went dark grey on near-black): there "worse"
       is the brightest text, bold and underlined; "better" is plain. */
    StatCard > .stat-change.-bad:nocolor { color: $foreground; text-style: bold underline; }
    StatCard > .stat-change.-good:nocolor { color: $foreground 80%; }
    StatCard > .stat-change.-neutral { color: $foreground; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.card: Card | None = None
        self.compared_with = ""

    def compose(self) -> ComposeResult:
        yield Static("", classes="stat-label")
        yield Static("–", classes="stat-value")
        yield Static("", classes="stat-change")

    def show(self, card: Card, compared_with: str) -> None:
        """`compared_with` ends the change line when the card is wide enough ("vs prev 30 d"),
        shortened to "vs prev" when it is not."""
        self.card, self.compared_with = card, compared_with
        self.query_one(".stat-label", Static).update(escape(card.label))
        self.query_one(".stat-value", Static).update(escape(card.value))
        self._show_change()

    def on_resize(self, event: Resize) -> None:
        self._show_change()

    def _show_change(self) -> None:
        if self.card is None:
            return
        line = self.query_one(".stat-change", Static)
        change = self.card.change
        verdict = "neutral" if change is None else change.verdict
        for name in ("good", "bad", "neutral"):
            line.set_class(name == verdict, f"-{name}")
        text = "no earlier period" if change is None else change.text
        room = self.content_size.width
        suffixes = (
            (self.compared_with, "vs prev")
            if change is not None and change.direction != "flat"
            else ()
        )
        suffix = next((s for s in suffixes if len(text) + 1 + len(s) <= room), "")
        line.update(f"{escape(text)} [dim]{escape(suffix)}[/]" if suffix else escape(text))
