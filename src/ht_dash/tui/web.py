"""Open the service's web dashboard for what the API does not offer to tokens (history,
regeneration): in a browser when there is one, else the URL is shown to copy."""

from __future__ import annotations

import asyncio
import webbrowser
from typing import TYPE_CHECKING

from ht_dash.api.service import WEB_DASHBOARD

if TYPE_CHECKING:
    from textual.app import App


def _open(url: str) -> bool:
    try:
        return webbrowser.open(url, new=2)
    except webbrowser.Error:
        return False


async def open_web_dashboard(app: App, why: str) -> bool:
    """Open the web dashboard (off the event loop); True when a browser took it."""
    opened = await asyncio.to_thread(_open, WEB_DASHBOARD)
    if opened:
        app.notify(f"{why}: opened {WEB_DASHBOARD} in your browser.", title="Web dashboard")
    else:  # the toast wraps the address: hand it to the terminal's clipboard too (OSC 52)
        app.copy_to_clipboard(WEB_DASHBOARD)
        app.notify(
            f"{why}: no browser here — open {WEB_DASHBOARD} (sent to the clipboard)",
            title="Web dashboard",
            severity="warning",
            timeout=20,
        )
    return opened
