"""The tab bar on top of every screen: numbered screens, and what the app is connected to."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static, Tab, Tabs

from ht_dash.screens import SCREENS


class NavBar(Horizontal):
    DEFAULT_CSS = """
    NavBar { height: 2; dock: top; background: $panel; }
    NavBar Tabs { width: 1fr; height: 2; }
    NavBar #nav-context { width: auto; max-width: 50%; padding: 0 1; content-align: right middle;
                          height: 1; color: $text-muted; }
    """

    def __init__(self, active: str) -> None:
        super().__init__()
        self.active = active

    def compose(self) -> ComposeResult:
        tabs = [Tab(f"{key} {label}", id=f"nav-{mode}") for mode, key, label, _, _ in SCREENS]
        yield Tabs(*tabs, active=f"nav-{self.active}")
        yield Static(self.app.context_line(), id="nav-context")

    def refresh_context(self) -> None:
        self.query_one("#nav-context", Static).update(self.app.context_line())

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        mode = (event.tab.id or "").removeprefix("nav-")
        if mode and mode != self.active:
            self.app.switch_mode(mode)
