"""The command palette's entries: every screen, every global action, and the screen's own."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from ht_dash.tui.keymap import key_display, key_for
from ht_dash.tui.screens import SCREENS

if TYPE_CHECKING:
    from ht_dash.tui.app import HtDashApp


def system_commands(app: HtDashApp, screen: Screen) -> Iterable[SystemCommand]:
    if getattr(screen, "BLOCKS_NAVIGATION", False):  # the login screen: no way around it
        yield from screen.palette_commands()  # type: ignore[attr-defined]
        return
    keys_of_screens = {
        b.id.removeprefix("screen."): key_display(app._keymap, b)
        for b in app.BINDINGS
        if isinstance(b, Binding) and b.id and b.id.startswith("screen.")
    }
    for mode, key, label, _, _ in SCREENS:
        yield SystemCommand(
            f"Go to {label}", f"Screen {keys_of_screens.get(mode, key)}",
            partial(app.action_show_screen, mode),
        )
    keys = {b.id: key_display(app._keymap, b) for b in app.BINDINGS if isinstance(b, Binding)}
    yield SystemCommand(
        "Refresh", f"Fetch this screen's data now ({keys['refresh']})", app.action_refresh
    )
    yield SystemCommand(
        "Pause / resume live polling",
        f"Stop or restart live requests ({keys['pause']})",
        app.action_toggle_pause,
    )
    from ht_dash.tui.screens.limits import LimitsScreen  # its keys, as the user mapped them

    faster, slower = (partial(app.feeds.step_live_interval, step) for step in (-1, +1))
    faster_key, slower_key = (
        key_for(app._keymap, LimitsScreen.BINDINGS, f"limits.{way}") for way in ("faster", "slower")
    )
    yield SystemCommand("Live refresh faster", f"Shorter live interval ({faster_key})", faster)
    yield SystemCommand("Live refresh slower", f"Longer live interval ({slower_key})", slower)
    yield SystemCommand("Help", f"Keys and screens ({keys['help']})", app.action_help)
    yield from getattr(screen, "palette_commands", lambda: ())()
