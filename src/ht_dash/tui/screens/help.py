"""A scrollable help screen: every key, per screen, from the bindings themselves; one line a key.

It opens at the section of the screen it was asked from.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ht_dash.tui.screens import SCREENS

INTRO = (
    "A terminal dashboard for your HyperTracker API account. Number keys switch screens; "
    "ctrl+p opens the command palette, which lists every action."
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


def key_name(binding: Binding) -> str:
    return binding.key_display or binding.key.replace("question_mark", "?")


def key_lines(keys: list[tuple[str, str]]) -> str:
    """One line per key: the key padded to a column, then what it does."""
    width = max((len(key) for key, _ in keys), default=0)
    return "\n".join(f"  {key:<{width}}  {what}" for key, what in keys)


def binding_keys(bindings: list[Binding]) -> list[tuple[str, str]]:
    return [(key_name(b), b.description) for b in bindings if b.description]


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
        app_bindings = [b for b in self.app.BINDINGS if isinstance(b, Binding)]
        app_keys = binding_keys([b for b in app_bindings if not (b.id or "").startswith("screen.")])
        found = [
            ("help-intro", "ht-dash", INTRO),
            ("help-everywhere", "Everywhere", key_lines([("1 … 6", "switch screens"), *app_keys])),
            ("help-moving", "Moving around", key_lines(list(MOVING))),
        ]
        for mode, key, label, _, _ in SCREENS:
            keys = binding_keys(_screen_bindings(mode))
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
