"""A scrollable help screen: every key, per screen, from the bindings themselves; one line a key.

It opens at the section of the screen it was asked from.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ht_dash.tui.keymap import key_display
from ht_dash.tui.screens import SCREENS

INTRO = (
    "A terminal dashboard for your HyperTracker API account. Number keys switch screens; "
    "ctrl+p opens the command palette, which lists every action. The last column is each key's "
    "id: remap it under [keys] in config.toml."
)

# Keys that come from Textual's widgets rather than from a binding of ours.
MOVING = (
    ("tab / shift+tab", "move the focus (tab bar, table, filter box)"),
    ("← / →", "previous / next screen (in a text box they move the cursor)"),
    ("↑ ↓ j k pgup pgdn", "move in a table or list"),
    ("home / end, g / G", "first / last row of a table"),
    ("enter", "open the selected row in full (Endpoints, History)"),
    ("/", "filter the table (Endpoints, History)"),
    ("escape", "close a dialog or this help; clear a filter"),
    ("ctrl+p", "command palette: every action, searchable"),
    ("ctrl+q", "quit from anywhere (q too, outside a text box)"),
)

ABOUT = (
    "Every panel says how old its data is. 'stale' means older than three refresh intervals or "
    "fetched before a failure; 'offline copy' is the last good answer kept on disk. Errors show "
    "in the panel that failed, and ht-dash retries with back-off (a 429 waits as long as the "
    "server asks). Live figures refresh every 2 s by default (+/- on screen 4 change it, p "
    "pauses); the subscription every 30 s while screen 4 is open; other screens when opened, "
    "every 5 minutes, and on r."
)


def key_lines(keys: list[tuple[str, str, str]]) -> str:
    """One line per key: the key and what it does padded to columns, then its id for `[keys]`."""
    key_width = max((len(key) for key, _, _ in keys), default=0)
    what_width = max((len(what) for _, what, key_id in keys if key_id), default=0)
    return "\n".join(
        f"  {key:<{key_width}}  {what:<{what_width}}  {key_id}".rstrip()
        for key, what, key_id in keys
    )


def binding_keys(bindings: list[Binding], keymap: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(key as the user set it, description, binding id) of every described binding."""
    return [(key_display(keymap, b), b.description, b.id or "") for b in bindings if b.description]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close help", id="help.close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 100; height: 90%; border: round $primary;
                                  background: $surface; padding: 0 1; }
    HelpScreen .help-section { margin-bottom: 1; }
    HelpScreen .help-heading { text-style: bold; color: $accent; }
    """

    def __init__(self, at_mode: str | None = None) -> None:
        super().__init__()
        self.at_mode = at_mode

    def sections(self) -> list[tuple[str, str, str]]:
        """(id, heading, body) of every section, in order."""
        keymap = self.app._keymap
        app_bindings = [b for b in self.app.BINDINGS if isinstance(b, Binding)]
        app_keys = binding_keys(
            [b for b in app_bindings if not (b.id or "").startswith("screen.")], keymap
        )
        screen_keys = [b for b in app_bindings if (b.id or "").startswith("screen.")]
        switch = [(f"{SCREENS[0][1]} … {SCREENS[-1][1]}", "switch screens", "screen.<name>")]
        if any(b.id in keymap for b in screen_keys):  # remapped: each screen's key as set
            switch = binding_keys(screen_keys, keymap)
        found = [
            ("help-intro", "ht-dash", INTRO),
            ("help-everywhere", "Everywhere", key_lines([*switch, *app_keys])),
            ("help-moving", "Moving around", key_lines([(key, what, "") for key, what in MOVING])),
        ]
        for mode, key, label, _, _ in SCREENS:
            keys = binding_keys(_screen_bindings(mode), keymap)
            body = key_lines(keys) if keys else "  No keys of its own."
            doc = " ".join(_screen_doc(mode).split())
            found.append((f"help-{mode}", f"{key} · {label}", f"{body}\n{doc}" if doc else body))
        found.append(("help-about", "Data and freshness", ABOUT))
        return found

    @property
    def text(self) -> str:
        return "\n\n".join(f"{heading}\n{body}" for _, heading, body in self.sections())

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            for section_id, heading, body in self.sections():
                yield Static(
                    heading, id=f"{section_id}-heading", classes="help-heading", markup=False
                )
                yield Static(body, id=section_id, classes="help-section", markup=False)

    def on_mount(self) -> None:
        if self.at_mode is not None:
            self.call_after_refresh(self._open_at, self.at_mode)

    def _open_at(self, mode: str) -> None:
        heading = self.query(f"#help-{mode}-heading")
        if heading:
            self.query_one(VerticalScroll).scroll_to_widget(
                heading.first(), top=True, animate=False
            )

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
