"""A bordered panel that shows its data, or why there is none, and how fresh it is."""

from __future__ import annotations

from datetime import datetime

from rich.markup import escape
from textual.containers import Vertical
from textual.widgets import Static

from ht_dash.refresh import FeedState
from ht_dash.widgets.freshness import freshness


class DataPanel(Vertical):
    """Children are the panel's content; a message line appears when loading or failing."""

    DEFAULT_CSS = """
    DataPanel {
        border: round $primary 60%;
        border-title-color: $text;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        height: auto;
        padding: 0 1;
    }
    DataPanel.-stale { border-subtitle-color: $warning; }
    DataPanel.-error { border: round $error 70%; border-subtitle-color: $error; }
    DataPanel.-paused { border-subtitle-color: $accent; }
    DataPanel > .panel-message { color: $text-muted; display: none; height: auto; }
    DataPanel.-nodata > .panel-message { display: block; }
    DataPanel.-nodata.-error > .panel-message { color: $error; }
    DataPanel.-nodata > .panel-content { display: none; }
    """

    def __init__(self, *children, title: str = "", **kwargs) -> None:
        super().__init__(*children, **kwargs)
        self.border_title = title
        self._message = Static("loading…", classes="panel-message")
        self._subtitle: str | None = None

    def on_mount(self) -> None:
        self.mount(self._message, before=0)
        for child in self.children:
            if child is not self._message:
                child.add_class("panel-content")
        self.add_class("-nodata")

    def show_state(self, state: FeedState, now: datetime) -> None:
        text, level = freshness(state, now)
        if text != self._subtitle:  # setting it repaints the panel, even to the same text
            self._subtitle = self.border_subtitle = text
        for name in ("stale", "error", "paused", "loading"):
            self.set_class(level == name, f"-{name}")
        self.set_class(state.data is None, "-nodata")
        if state.data is None:
            if state.error is not None:
                hint = f"\n[dim]{escape(state.error.hint)}[/]" if state.error.hint else ""
                self._message.update(f"⚠ [b]{escape(state.error.title)}[/]: {escape(state.error.message)}{hint}")
            elif (held := state.held_s(now)) is not None:
                wait = f"asking in {held:.0f} s"
                self._message.update(f"waiting: the API rate-limited this token; {wait}")
            else:
                self._message.update("paused" if state.paused else "loading…")
