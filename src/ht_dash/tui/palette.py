"""The command palette's entries: every screen, every global action, and the screen's own."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.screen import Screen

from ht_dash.tui.screens import SCREENS

if TYPE_CHECKING:
    from ht_dash.tui.app import HtDashApp


def system_commands(app: HtDashApp, screen: Screen) -> Iterable[SystemCommand]:
    if getattr(screen, "BLOCKS_NAVIGATION", False):  # the login screen: no way around it
        yield from screen.palette_commands()  # type: ignore[attr-defined]
        return
    for mode, key, label, _, _ in SCREENS:
        yield SystemCommand(
            f"Go to {label}", f"Screen {key}", partial(app.action_show_screen, mode)
        )
    yield SystemCommand("Refresh", "Fetch this screen's data now (r)", app.action_refresh)
    yield SystemCommand(
        "Pause / resume live polling", "Stop or restart live requests (p)", app.action_toggle_pause
    )
    yield SystemCommand("Live refresh faster", "Shorter live interval (+)", app.action_faster)
    yield SystemCommand("Live refresh slower", "Longer live interval (-)", app.action_slower)
    yield SystemCommand("Help", "Keys and screens (?)", app.action_help)
    yield from getattr(screen, "palette_commands", lambda: ())()
