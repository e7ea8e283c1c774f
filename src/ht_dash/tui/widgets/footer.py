"""The footer: Help and Quit always in view on the right; other keys give way from the end.

While a filter box has the focus the footer shows the filter's keys (`?` would type a "?").

Textual's footer lays every key out in a row and lets the row run off the edge, so at 80 columns
`? Help` and `q Quit` (the last keys) were the first to disappear. Here they sit on the right
beside the palette key; the screen's keys fill what is left, most important (first) kept, and a
key that does not fit whole is left out rather than cut.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey

PINNED_ACTIONS = ("help", "app.help", "quit", "app.quit")
PALETTE_MIN_WIDTH = 100  # below this the palette key gives its room to the screen's keys


def key_width(key: FooterKey) -> int:
    """Columns a (non-compact) footer key takes: " k " + "description "."""
    if not key.description:
        return len(key.key_display)
    return len(key.key_display) + len(key.description) + 3


class DashFooter(Footer):
    DEFAULT_CSS = """
    DashFooter .footer-pinned { dock: right; width: auto; height: 1; }
    DashFooter .footer-pinned FooterKey.-command-palette { dock: none; }
    """

    _shown: tuple | None = None  # what the keys on view were made of

    def _keys_depend_on(self) -> tuple:
        """What the keys shown are made of: the bindings the footer shows, the width, typing."""
        palette = self.app.COMMAND_PALETTE_BINDING
        shown = [
            (key, active.binding, active.enabled, active.tooltip)
            for key, active in self.screen.active_bindings.items()
            if active.binding.show or key == palette
        ]
        typing = isinstance(self.screen.focused, Input)
        return typing, self.app.size.width, self.compact, self.show_command_palette, shown

    def bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen and self._keys_depend_on() == self._shown:
            return  # the same keys: a recompose would only cost time (~15 ms)
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        self._shown = self._keys_depend_on() if self._bindings_ready else None
        for key in self._compose_keys():
            if isinstance(key, FooterKey):  # born with its look: no two restyles on mount
                # bound to the footer's `compact`, but the palette key, which stays compact
                compact = key.has_class("-command-palette") or self.compact
                key.set_reactive(FooterKey.compact, compact)
                key.set_class(compact, "-compact", update=False)
            yield key

    def _compose_keys(self) -> ComposeResult:
        if isinstance(self.screen.focused, Input):  # typing: ? and q are letters now
            yield from self._typing_keys()
            return
        keys = [key for key in super().compose() if isinstance(key, FooterKey)]
        palette = [key for key in keys if key.has_class("-command-palette")]
        pinned = [key for key in keys if key.action in PINNED_ACTIONS and key not in palette]
        rest = [key for key in keys if key not in pinned and key not in palette]
        width = self.app.size.width
        if width < PALETTE_MIN_WIDTH:
            palette = []
        room = width - sum(key_width(key) for key in pinned) - sum(map(key_width, palette)) - 2
        for key in rest:
            room -= key_width(key)
            if room < 0:
                break
            yield key
        with HorizontalGroup(classes="footer-pinned"):
            yield from pinned
            yield from palette

    def _typing_keys(self) -> ComposeResult:
        yield FooterKey("enter", "⏎", "Keep the filter", "").data_bind(compact=Footer.compact)
        yield FooterKey("escape", "esc", "Clear it", "").data_bind(compact=Footer.compact)
        with HorizontalGroup(classes="footer-pinned"):
            yield FooterKey("ctrl+q", "^q", "Quit", "app.quit").data_bind(compact=Footer.compact)

    _laid_out_for = 0

    def on_resize(self, event: events.Resize) -> None:
        # Which keys fit depends on the width; the first layout already used the app's width.
        if self._laid_out_for and event.size.width != self._laid_out_for:
            self.call_after_refresh(self.recompose)
        self._laid_out_for = event.size.width
