"""Screen 1: the API token — masked, revealable, copyable — and who it belongs to."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ht_dash.api.models import Profile, TokenInfo
from ht_dash.screens.base import DashScreen
from ht_dash.widgets.panel import DataPanel


def _when(at) -> str:
    return "never" if at is None else f"{at:%Y-%m-%d %H:%M} UTC"


class TokenScreen(DashScreen):
    """The token is masked until you reveal it; copying never shows it on screen."""

    MODE = "token"
    FEEDS = ("token", "profile")
    PANELS = {"token": "token-panel", "profile": "profile-panel"}
    BINDINGS = [
        Binding("v", "toggle_reveal", "Reveal/hide", id="token.reveal"),
        Binding("c", "copy", "Copy token", id="token.copy"),
    ]

    revealed = False

    def compose_body(self) -> ComposeResult:
        with VerticalScroll():
            yield DataPanel(Static(id="token-text"), title="API token", id="token-panel")
            yield DataPanel(Static(id="profile-text"), title="Account", id="profile-panel")

    def render_data(self, kind: str, data: object) -> None:
        if kind == "token" and isinstance(data, TokenInfo):
            self._render_token(data)
        elif kind == "profile" and isinstance(data, Profile):
            org = f"\n[dim]Organisation[/]  {data.organization}" if data.organization else ""
            self.query_one("#profile-text", Static).update(
                f"[dim]Name[/]          {data.name}\n[dim]Email[/]         {data.email}{org}\n"
                f"[dim]Account id[/]    {data.id}\n[dim]Since[/]         {data.created_at:%Y-%m-%d}"
            )

    def _render_token(self, info: TokenInfo) -> None:
        token = self.app.token
        shown = token.reveal() if (self.revealed and token) else info.masked
        self.query_one("#token-text", Static).update(
            f"[b]{shown}[/]\n\n[dim]Issued[/]        {_when(info.issued_at)}\n"
            f"[dim]Last used[/]     {_when(info.last_used_at)}\n[dim]Token id[/]      {info.token_id}"
        )

    def action_toggle_reveal(self) -> None:
        self.revealed = not self.revealed
        info = self.app.feed_state("token").data
        if info is not None:
            self._render_token(info)

    def action_copy(self) -> None:
        token = self.app.token
        if token is None:
            self.notify("No token to copy", severity="warning")
            return
        self.app.copy_to_clipboard(token.reveal())
        self.notify(
            "Sent to the terminal's clipboard (OSC 52) — if paste is empty, your terminal or tmux may "
            "block it; press v to reveal it and select it by hand",
            title="Token copied",
        )
