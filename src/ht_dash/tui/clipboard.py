"""UI glue: copy a secret to the clipboard and tell the user, in a notification, what happened."""

from __future__ import annotations

from typing import Any

from ht_dash.api.secret import Secret
from ht_dash.auth import clipboard

REVEAL_HINT = "press v on the Token screen to reveal it and select it by hand"


async def copy_and_report(app: Any, secret: Secret) -> clipboard.CopyResult:
    """Copy as the `clipboard` setting says (OSC 52 and/or the system tool) and say what happened.

    OSC 52 goes through Textual's driver; the system tool runs on a thread with a timeout.
    """
    use_osc52, use_native = clipboard.plan(app.runtime.settings.clipboard)
    text = secret.reveal()
    if use_osc52:
        app.copy_to_clipboard(text)
    native = await clipboard.copy_native_async(text) if use_native else None
    result = clipboard.CopyResult(osc52_sent=use_osc52, native=native)
    titles = {"information": "Token copied", "warning": "Token sent", "error": "Copy failed"}
    app.notify(result.message(REVEAL_HINT), title=titles[result.severity], severity=result.severity)
    return result
