"""Screen 1: the API token — masked, revealable, copyable, regenerable — and who it belongs to.

What the token itself says (issued at, expiry) and where it is stored are known locally and shown
at once; last use and the token id come from the API's token feed.
"""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from ht_dash.api.errors import (
    AuthError,
    HtError,
    NetworkError,
    NotOffered,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from ht_dash.api.jwt import token_claims, token_times
from ht_dash.api.models import Profile, TokenInfo
from ht_dash.api.secret import Secret
from ht_dash.api.service import TOKEN_CHECK_COST, WEB_DASHBOARD
from ht_dash.auth.storage import Where
from ht_dash.feeds.registry import PROFILE, TOKEN
from ht_dash.insights.format import day, when
from ht_dash.tui.screens.base import DashScreen
from ht_dash.tui.widgets.field_text import FieldText
from ht_dash.tui.widgets.panel import DataPanel


class TokenScreen(DashScreen):
    """The token is masked until you reveal it; copying never shows it on screen."""

    FEEDS = (TOKEN, PROFILE)
    PANELS = {TOKEN.name: "token-panel", PROFILE.name: "profile-panel"}
    DEFAULT_CSS = """
    #token-card {
        border: round $primary 60%; border-title-color: $text; border-title-style: bold;
        border-subtitle-color: $text-muted; height: auto; padding: 0 1; margin: 0 1;
    }
    #token-card.-insecure { border: round $warning; }
    #token-value { text-style: bold; }
    /* Revealed, the token stands on its own lines without a border: selecting it by hand takes
       no "│" with it. */
    #token-revealed { display: none; margin: 1 2 0 2; text-style: bold; }
    #token-revealed.-shown { display: block; }
    #token-warning { color: $text-warning; display: none; }
    #token-card.-insecure #token-warning { display: block; }
    """
    BINDINGS = [
        Binding("v", "toggle_reveal", "Reveal/hide", id="token.reveal"),
        Binding("c", "copy", "Copy", id="token.copy"),
        Binding("g", "regenerate", "Regenerate", id="token.regenerate"),
        Binding("k", "check", "Check token", id="token.check"),
        Binding("L", "logout", "Log out", id="token.logout"),
    ]

    revealed = False

    def __init__(self) -> None:
        super().__init__()
        self._shown: dict[str, str] = {}

    def compose_body(self) -> ComposeResult:
        with VerticalScroll():
            with Vertical(id="token-card") as card:
                card.border_title = "API token"
                card.border_subtitle = "v reveal · c copy · g regenerate · L log out"
                yield Static(id="token-value")
                yield FieldText(id="token-details")
                yield Static(id="token-warning")
            yield Static(id="token-revealed", markup=False)
            yield DataPanel(FieldText(id="token-text"), title="Token activity", id="token-panel")
            yield DataPanel(FieldText(id="profile-text"), title="Account", id="profile-panel")

    # ---- rendering ---------------------------------------------------------------------------

    def on_screen_resume(self) -> None:
        # no super() call: Textual runs DashScreen.on_screen_resume too (handlers follow the MRO)
        self.render_local()

    def on_screen_suspend(self) -> None:
        if self.revealed:  # leaving the screen hides the token again
            self.revealed = False
            self.render_local()

    def tick(self) -> None:
        super().tick()
        self.render_local()

    def render_data(self, kind: str, data: object) -> None:
        if kind == TOKEN.name and isinstance(data, TokenInfo):
            self._render_activity(data)
            self.render_local()  # the API's issued-at stands in when the token is not a JWT
        elif kind == PROFILE.name and isinstance(data, Profile):
            org = (
                f"\n[dim]Organisation[/]  {escape(data.organization)}" if data.organization else ""
            )
            self.query_one("#profile-text", Static).update(
                f"[dim]Name[/]          {escape(data.name)}\n"
                f"[dim]Email[/]         {escape(data.email)}{org}\n"
                f"[dim]Account id[/]    {escape(data.id)}\n"
                f"[dim]Since[/]         {day(data.created_at)}"
            )

    def render_local(self) -> None:
        """The token (masked unless revealed), its own times, and where it is stored."""
        app = self.app
        token: Secret | None = app.token_state.token
        card = self.query_one("#token-card", Vertical)
        location = app.token_state.location
        card.set_class(location is not None and location.insecure, "-insecure")
        shown = self.revealed and token is not None
        self.query_one("#token-revealed", Static).set_class(shown, "-shown")
        self._show("token-revealed", token.reveal() if shown and token else "")
        if token is None:
            meter = app.runtime.settings.source == "meter"
            self._show(
                "token-value", "No API token" + (" (the local meter needs none)" if meter else "")
            )
            self._show(
                "token-details",
                "[dim]Log in to use one (`ht-dash login`), or set HT_DASH_TOKEN.[/]",
            )
            return
        if self.revealed:
            self._show("token-value", "[dim](revealed below, on its own lines — v hides it)[/]")
        else:
            self._show(
                "token-value", f"{escape(token.masked)}  [dim](masked — v reveals, c copies)[/]"
            )
        now = app.clock.now()
        times = token_times(token)
        info = app.feeds.state(TOKEN).data
        if times.issued_at is not None:
            issued = when(times.issued_at, now)
        elif isinstance(info, TokenInfo):
            issued = f"{when(info.issued_at, now)} [dim](from the API; not a JWT)[/]"
        else:
            issued = "unknown (not a JWT)"
        if times.expires_at is not None:
            expires = when(times.expires_at, now)
            if times.expired(now):
                expires += " — [b $text-error]EXPIRED[/]"
        else:
            expires = "no expiry in the token" if times.issued_at else "unknown"
        if location is None:
            stored = (
                "nowhere — this session only [dim](c copies it; HT_DASH_TOKEN for next time)[/]"
            )
        else:
            stored = escape(location.label)
        self._show(
            "token-details",
            f"\n[dim]Issued[/]        {issued}\n[dim]Expires[/]       {expires}\n"
            f"[dim]Stored in[/]     {stored}",
        )
        if location is not None and location.insecure:
            self._show(
                "token-warning",
                "⚠ Stored in plain text: anyone who can read that file can use your account. "
                "With an OS keyring available, run `ht-dash logout` then `ht-dash login`.",
            )

    def _show(self, widget_id: str, text: str) -> None:
        """Update a Static only when its text changes (this runs every second)."""
        if self._shown.get(widget_id) != text:
            self._shown[widget_id] = text
            self.query_one(f"#{widget_id}", Static).update(text)

    def _render_activity(self, info: TokenInfo) -> None:
        now = self.app.clock.now()
        origin = self.app.feeds.origin_of(self.app.feeds.state(TOKEN))
        if origin is not None and origin.kind == "token":  # real mode: the token's own claims
            last_used = (
                f"{when(info.last_used_at, now)} [dim](the local meter's last request with it)[/]"
                if info.last_used_at
                else "[dim]not seen by the local meter in the last hour[/]"
            )
            claims = (
                "".join(
                    f"\n[dim]{label.capitalize():<13}[/] {escape(value)}"
                    for label, value in token_claims(self.app.token_state.token)
                )
                if self.app.token_state.token is not None
                else ""
            )
            self._show(
                "token-text",
                f"[dim]Last used[/]     {last_used}{claims}\n"
                "[dim]k checks the token with one request (may cost one usage token)[/]",
            )
            return
        last_used = when(info.last_used_at, now) if info.last_used_at else "never"
        self._show(
            "token-text",
            f"[dim]Last used[/]     {last_used}\n[dim]Token id[/]      {escape(info.token_id)}\n"
            f"[dim]API shows[/]     {escape(info.masked)}",
        )

    # ---- actions -----------------------------------------------------------------------------

    def palette_commands(self):
        yield SystemCommand(
            "Token: reveal / hide", "Show the whole token on screen (v)", self.action_toggle_reveal
        )
        yield SystemCommand(
            "Token: copy", "To the terminal's and the system clipboard (c)", self.action_copy
        )
        yield SystemCommand(
            "Token: regenerate",
            "Issue a new token; the current one stops working at once (g)",
            self.action_regenerate,
        )
        yield SystemCommand(
            "Token: check",
            "One request to the API; may cost one usage token (k)",
            self.action_check,
        )
        yield SystemCommand("Token: log out", "Remove the stored token (L)", self.action_logout)

    def action_toggle_reveal(self) -> None:
        if self.app.token_state.token is None:
            self.notify("There is no token to reveal", severity="warning")
            return
        self.revealed = not self.revealed
        self.render_local()

    def action_copy(self) -> None:
        token = self.app.token_state.token
        if token is None:
            self.notify("There is no token to copy", severity="warning")
            return
        from ht_dash.tui.clipboard import copy_and_report  # on use: not needed to start

        self.run_worker(copy_and_report(self.app, token), group="token-copy", exit_on_error=False)

    # -- regenerate

    def _account_api_offered(self) -> bool:
        """False once the API has said it offers no account endpoints (the real service)."""
        feeds = self.app.feeds
        origin = feeds.origin_of(feeds.state(TOKEN))
        return not (
            feeds.state(PROFILE).not_offered or (origin is not None and origin.kind != "api")
        )

    def action_regenerate(self) -> None:
        from ht_dash.tui.screens.confirm import ConfirmScreen

        app = self.app
        if app.token_state.token is None:
            self.notify("There is no token to regenerate: log in first", severity="warning")
            return
        if not self._account_api_offered():
            self.regenerate_on_the_web()
            return
        host = "the demo backend" if app.runtime.demo else app.token_state.store.host
        where = app.token_state.where
        message = (
            f"A new token for {escape(host)} replaces the current one "
            f"({escape(app.token_state.token.masked)}).\n\n"
            "[b]The current token stops working at once[/]: bots and scripts using it will get "
            "401 until you give them the new one.\n\n"
            f"Where the new token goes: {escape(where)}. It is read back and checked with the API."
        )
        app.push_screen(
            ConfirmScreen("Regenerate the API token?", message, confirm_label="Regenerate"),
            lambda yes: self.regenerate_token() if yes else None,
        )

    @work(exclusive=True, group="token-regenerate", exit_on_error=False)
    async def regenerate_token(self) -> None:
        from ht_dash.auth.flows import regenerate
        from ht_dash.tui.screens.new_token import NewTokenScreen

        app = self.app
        tokens = app.token_state
        try:
            with tokens.replacing():  # through the gate; the old token's 401 is expected
                outcome = await regenerate(app.feeds.gated, tokens.store, tokens.current)
        except NotOffered:
            self.regenerate_on_the_web()
            return
        except HtError as exc:
            self._regenerate_failed(exc)
            return
        location = outcome.saved.location if outcome.saved is not None else None
        app.use_token(outcome.token, location)
        self.revealed = False
        self.render_local()
        if outcome.must_show:
            app.push_screen(NewTokenScreen(outcome))
        else:
            self.notify(
                f"New token {outcome.token.masked} stored in the {location.label}. The old token "
                "no longer works: give bots and scripts the new one (c copies it).",
                title="Token regenerated",
                timeout=10,
            )
            for text in outcome.saved.warnings:
                self.notify(text, title="Token", severity="warning", timeout=10)
        if outcome.verify_error is not None:
            self.notify(
                f"Could not check the new token with the API: {outcome.verify_error.message}",
                title="Not verified",
                severity="warning",
                timeout=10,
            )

    def regenerate_on_the_web(self) -> None:
        """The API does not offer regeneration: the web dashboard does, then the new token is
        pasted on the login screen."""
        from ht_dash.tui.screens.confirm import ConfirmScreen

        def go(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._open_web_then_login(), group="token-web", exit_on_error=False)

        self.app.push_screen(
            ConfirmScreen(
                "Regenerate in the web dashboard?",
                "The API does not offer token regeneration to tokens. Regenerate it in the web "
                f"dashboard ({WEB_DASHBOARD}), then paste the new token here.\n\n"
                "[b]The current token stops working once you regenerate it there.[/]",
                confirm_label="Open dashboard",
                danger=False,
            ),
            go,
        )

    async def _open_web_then_login(self) -> None:
        from ht_dash.tui.web import open_web_dashboard

        await open_web_dashboard(self.app, "Regenerate the token there")
        self.app.open_login(
            "Paste the new token from the web dashboard (Esc keeps the current one)."
        )

    # -- check

    def action_check(self) -> None:
        from ht_dash.tui.screens.confirm import ConfirmScreen

        if self.app.token_state.token is None:
            self.notify("There is no token to check: log in first", severity="warning")
            return
        self.app.push_screen(
            ConfirmScreen(
                "Check the token?",
                f"This sends {TOKEN_CHECK_COST}.",
                confirm_label="Check",
                danger=False,
            ),
            lambda yes: self.check_token() if yes else None,
        )

    @work(exclusive=True, group="token-check", exit_on_error=False)
    async def check_token(self) -> None:
        app = self.app
        try:
            if hasattr(app.feeds.source, "check_token"):
                await app.feeds.request(lambda source: source.check_token())
            else:  # the local meter alone: ask the API with a client of its own
                client = app.runtime.make_client(app.token_state.token)
                try:
                    await client.check_token()
                finally:
                    await client.aclose()
        except AuthError as exc:
            code = f" ({exc.status})" if exc.status else ""
            self.notify(
                f"The API rejected the token{code}: copy the current one from {WEB_DASHBOARD}.",
                title="Token rejected",
                severity="error",
                timeout=12,
            )
            return
        except (RateLimited, QuotaExhausted) as exc:
            self.notify(
                f"Rate-limited: {exc.message} ({exc.hint}).",
                title="Token check",
                severity="warning",
            )
            return
        except HtError as exc:
            self.notify(f"{exc.message}", title="Token check failed", severity="error")
            return
        self.notify("The API accepted the token.", title="Token valid")

    def _regenerate_failed(self, exc: HtError) -> None:
        app = self.app
        if isinstance(exc, AuthError):
            text = f"The API rejected the current token ({exc.message}); nothing was regenerated."
        elif isinstance(exc, NetworkError | ServerError):
            text = (
                f"{exc.message}. It is unknown whether the token was regenerated: press r; if "
                f"the API then answers 401, copy the new token from {WEB_DASHBOARD} and log in."
            )
        else:
            text = f"{exc.message}. Nothing was regenerated. {exc.hint}."
        self.notify(text, title=f"Regenerate failed: {exc.title}", severity="error", timeout=15)
        if isinstance(exc, AuthError) or app.feeds.scheduler.auth_failed is not None:
            app.open_login("The current token was rejected. Paste a valid token to continue.")

    # -- log out

    def action_logout(self) -> None:
        from ht_dash.tui.screens.confirm import ConfirmScreen

        app = self.app
        if app.runtime.demo:
            self.notify("Demo mode stores nothing: there is nothing to log out of.")
            return
        location = app.token_state.location
        host = escape(app.token_state.store.host)
        message = (
            f"Remove the token for {host} from the OS keyring and the "
            "plain-text file (whichever hold it)? ht-dash then asks for a token again.\n\n"
            "The token itself keeps working: regenerate it (g) to revoke it."
        )
        if location is not None and location.where is Where.ENV:
            message += (
                f"\n\nThe token in use comes from the {escape(location.label)}; ht-dash cannot "
                "remove that: unset it in your shell."
            )
        app.push_screen(
            ConfirmScreen("Log out?", message, confirm_label="Log out"),
            lambda yes: self.log_out() if yes else None,
        )

    @work(exclusive=True, group="token-logout", exit_on_error=False)
    async def log_out(self) -> None:
        app = self.app
        store = app.token_state.store
        result = await store.adelete()
        for location in result.removed:
            self.notify(f"Removed the token from the {location.label}.", title="Logged out")
        if not result.removed and not result.problems:
            self.notify(f"No token was stored for {store.host}.", title="Logged out")
        for problem in result.problems:
            self.notify(
                f"{problem.message}. {problem.hint}.", title=problem.title, severity="error"
            )
        if result.problems and not result.removed:
            return  # nothing changed: keep working with the token
        location = app.token_state.location
        if location is not None and location.where is Where.ENV:
            self.notify(
                f"Still using the token from the {location.label}: unset it to stop.",
                severity="warning",
            )
            return
        app.use_token(None, None)
        self.revealed = False
        self.render_local()
        if app.runtime.settings.source == "meter":
            return  # the local meter needs no token: no login screen that only offers to quit
        app.open_login("Logged out. Paste a token to continue, or quit.", first_run=True)
