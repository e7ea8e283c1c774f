"""A bordered panel that shows its data, or why there is none, and how fresh it is."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.markup import escape
from textual.containers import Vertical
from textual.geometry import Region
from textual.widgets import Static

from ht_dash.api.errors import NotAvailable
from ht_dash.feeds.scheduler import FeedState
from ht_dash.insights.format import duration
from ht_dash.tui.widgets.freshness import freshness

if TYPE_CHECKING:
    from ht_dash.sources.chain import Origin

NOTE_IN_BORDER_MAX = 40  # a longer note belongs in the panel (screen 4 shows it there)
STATE_CLASSES = frozenset({"-stale", "-error", "-paused", "-loading", "-nodata"})


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

    # Classes are set before mounting, and later all at once: each change restyles the panel and
    # everything in it, which made up much of the first screen's start-up.
    def __init__(self, *children, title: str = "", **kwargs) -> None:
        self._message = Static("loading…", classes="panel-message")
        for child in children:
            child.add_class("panel-content")
        super().__init__(self._message, *children, **kwargs)
        self.add_class("-nodata")
        self.border_title = title
        self._subtitle: str | None = None

    def compose_add_child(self, widget) -> None:  # children given in a `with DataPanel():` block
        widget.add_class("panel-content")
        super().compose_add_child(widget)

    def _show_subtitle(self, markup: str) -> None:
        """Repaint only the bottom border: `border_subtitle =` repaints the whole panel and all
        in it, and age texts change every second (screen 4 ticks with two such panels)."""
        if not self.is_mounted or self.outer_size.height < 2:
            self.border_subtitle = markup
            return
        self._border_subtitle = self.render_str(markup).expand_tabs(4).split()[0]
        offset, outer = self.content_offset, self.outer_size
        self.refresh(Region(-offset.x, outer.height - 1 - offset.y, outer.width, 1))

    def show_state(self, state: FeedState, now: datetime, origin: Origin | None = None) -> None:
        text, level = freshness(state, now)
        if origin is not None and state.data is not None:
            short_note = origin.note if 0 < len(origin.note) <= NOTE_IN_BORDER_MAX else ""
            text = " · ".join(part for part in (origin.label, short_note, text) if part)
        if text != self._subtitle:  # setting it repaints the panel, even to the same text
            self._subtitle = text
            self._show_subtitle(escape(text))  # it holds server text (error messages)
        wanted = {f"-{level}"} & STATE_CLASSES
        if state.data is None:
            wanted.add("-nodata")
        if wanted != self.classes & STATE_CLASSES:
            self.set_classes((self.classes - STATE_CLASSES) | wanted)
        if state.data is None:
            if state.not_offered:
                assert state.error is not None
                hint = f"{escape(state.error.hint)}\n" if state.error.hint else ""
                self._message.update(
                    f"[b]{escape(state.error.title)}[/]: {escape(state.error.message)}\n"
                    f"[dim]{hint}ht-dash asks again hourly; r asks now.[/]"
                )
            elif isinstance(state.error, NotAvailable):  # what would answer, not a fault
                hint = f"\n{escape(state.error.hint)}" if state.error.hint else ""
                self._message.update(f"{escape(state.error.message)}{hint}")
            elif state.error is not None:
                hint = f"\n[dim]{escape(state.error.hint)}[/]" if state.error.hint else ""
                self._message.update(
                    f"⚠ [b]{escape(state.error.title)}[/]: {escape(state.error.message)}{hint}"
                )
            elif (held := state.held_s(now)) is not None:
                wait = f"asking in {duration(held)}"
                self._message.update(f"waiting: the API rate-limited this token; {wait}")
            else:
                self._message.update("paused" if state.paused else "loading…")
