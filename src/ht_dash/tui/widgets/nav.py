"""The tab bar on top of every screen: numbered screens, and what the app is connected to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static, Tab, Tabs

from ht_dash.feeds.registry import PROFILE, SUBSCRIPTION
from ht_dash.sanitize import terminal_safe
from ht_dash.tui.screens import SCREENS
from ht_dash.tui.typed_app import typed_app

if TYPE_CHECKING:
    from ht_dash.tui.app import HtDashApp

TABS_WIDTH = sum(len(f"{key} {label}") + 2 for _, key, label, _, _ in SCREENS)
BADGE_ROOM = 8  # " DEMO " and a margin: what the context line needs at the least


def tab_labels(active: str, width: int) -> dict[str, str]:
    """Every tab's label: "key label" when they all fit beside the badge, else only the active
    tab keeps its name and the others show their number (the bar never scrolls)."""
    full = width == 0 or width >= TABS_WIDTH + BADGE_ROOM
    return {
        mode: f"{key} {label}" if full or mode == active else key
        for mode, key, label, _, _ in SCREENS
    }


def choice_strip(head: str, choices: list[str], tail: str, width: int) -> str:
    """A line of choices in markup ("Kind:  All  Payments …  f / F") that breaks between choices,
    never inside one, when `width` cells cannot hold it (a 60-column pane). The tail (a key hint
    the footer repeats) goes where the last line has no room for it."""

    def cells(markup: str) -> int:
        return Content.from_markup(markup).cell_length  # Textual markup: $variables, @click

    lines, line = [], head
    for item in choices:
        if width and cells(line) + 1 + cells(item) > width and line.strip():
            lines.append(line)
            line = " " * len(head)
        line += " " + item
    if not width or cells(line) + 1 + cells(tail) <= width:
        line += " " + tail
    return "\n".join([*lines, line])


def _width(parts: list[str]) -> int:
    return Text.from_markup(" · ".join(parts)).cell_len


def context_line(app: HtDashApp) -> str:
    """Demo or meter, the account's email, its plan, and whether live polling is paused."""
    parts = []
    if app.runtime.demo:
        parts.append("[b $text-warning]DEMO[/]")
    if app.runtime.settings.source == "meter":
        store = getattr(app.feeds.source, "store", None)
        # a shared store (PostgreSQL) says which one, password masked; a local file needs no name
        remote = store is not None and store.remote
        parts.append(f"meter {escape(terminal_safe(store.label))}" if remote else "local meter")
    if (profile := app.feeds.state(PROFILE).data) is not None:
        parts.append(escape(profile.email))
    if (sub := app.feeds.state(SUBSCRIPTION).data) is not None:
        parts.append(f"{escape(sub.plan.name)} plan")
    if app.feeds.paused:
        parts.append("[b $text-accent]⏸ live paused[/]")
    return " · ".join(parts)


class NavBar(Horizontal):
    DEFAULT_CSS = """
    NavBar { height: 2; dock: top; background: $panel; }
    NavBar Tabs { width: 1fr; height: 2; }
    NavBar #nav-context { max-width: 50%; padding: 0 1; height: 1; color: $text-muted;
                          text-wrap: nowrap; text-overflow: ellipsis; }
    """

    app = typed_app()

    def __init__(self, active: str) -> None:
        super().__init__()
        self.active = active

    def compose(self) -> ComposeResult:
        labels = tab_labels(self.active, self.app.size.width)
        tabs = [Tab(labels[mode], id=f"nav-{mode}") for mode, *_ in SCREENS]
        yield Tabs(*tabs, active=f"nav-{self.active}")
        yield Static(id="nav-context")

    def on_mount(self) -> None:
        self.refresh_context()

    def refresh_context(self) -> None:
        # Sized to its text: an auto-width Static beside a 1fr Tabs does not re-measure on update.
        found = self.query("#nav-context").results(Static)
        if (context := next(found, None)) is None:  # data came before compose: on_mount shows it
            return
        parts = [p for p in context_line(self.app).split(" · ") if p]
        tabs_width = sum(len(label) + 2 for label in self._fit_tabs().values())
        # At most half the bar (its max-width), and never the tabs' room.
        room = (
            min(self.size.width - tabs_width, self.size.width // 2) - 2 if self.size.width else 200
        )
        # Drop the least telling parts (the email first) until the tabs keep their room.
        while len(parts) > 1 and _width(parts) > room:
            email = (i for i, p in enumerate(parts) if "@" in p and "://" not in p)
            parts.pop(next(email, len(parts) - 1))
        text = " · ".join(parts) if _width(parts) <= room else ""
        context.update(text)
        context.styles.width = _width([text]) + 2 if text else 0

    def _fit_tabs(self) -> dict[str, str]:
        labels = tab_labels(self.active, self.size.width)
        for tab in self.query(Tab):
            label = labels[(tab.id or "").removeprefix("nav-")]
            if str(tab.label) != label:
                tab.label = label
        return labels

    def on_resize(self) -> None:
        self.refresh_context()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        mode = (event.tab.id or "").removeprefix("nav-")
        if mode and mode != self.active:
            self.app.switch_mode(mode)
