"""A scrollable help screen: every key, per screen, from the bindings themselves."""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from ht_dash.tui.keymap import key_display
from ht_dash.tui.screens import SCREENS

INTRO = """\
# ht-dash

A terminal dashboard for your HyperTracker API account. Numbers jump between screens;
`ctrl+p` opens the command palette, which lists every action.
"""

ABOUT = """\
## Data and freshness

Every panel says how old its data is. *stale* means older than three refresh intervals or
fetched before a failure; *offline copy* is the last good answer kept on disk. Errors show in
the panel that failed, and ht-dash retries with back-off (a `429` waits as long as the server asks).

Live figures refresh every 2 s by default (`+`/`-` on screen 4 change it, `p` pauses);
the subscription every 30 s while screen 4 is open; other screens when opened, every 5 minutes,
and on `r`.
"""


def _keys_table(bindings: list[Binding], keymap: Mapping[str, str]) -> str:
    rows = ["| key | action | id for `[keys]` |", "|---|---|---|"]
    for binding in bindings:
        if not binding.description:
            continue
        key = key_display(keymap, binding)
        rows.append(f"| `{key}` | {binding.description} | `{binding.id or ''}` |")
    return "\n".join(rows)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close help", id="help.close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 100; height: 90%; border: round $primary;
                                  background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        app = self.app
        parts = [INTRO, "## Everywhere", _keys_table(list(app.BINDINGS), app._keymap)]
        for mode, key, label, _, _ in SCREENS:
            parts.append(f"## {key} · {label}")
            bindings = _screen_bindings(mode)
            parts.append(_keys_table(bindings, app._keymap) if bindings else "No keys of its own.")
            doc = _screen_doc(mode)
            if doc:
                parts.append(doc)
        parts.append(ABOUT)
        with VerticalScroll():
            yield Markdown("\n\n".join(parts))

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


def _screen_class(mode: str):
    import importlib

    for name, _, _, module, cls in SCREENS:
        if name == mode:
            return getattr(importlib.import_module(module), cls)
    raise KeyError(mode)


def _screen_bindings(mode: str) -> list[Binding]:
    return [b for b in _screen_class(mode).BINDINGS if isinstance(b, Binding)]


def _screen_doc(mode: str) -> str:
    return (_screen_class(mode).__doc__ or "").strip()
