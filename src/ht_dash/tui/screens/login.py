"""The login screen: paste the API token, have it checked with the API, then stored.

Nothing is stored before the API accepted the token. The token goes to the OS keyring; when there
is none (or it will not keep the token) the screen explains why and lets the user choose: a
plain-text file (mode 0600, insecure: only when picked) or no storage at all (this session only,
and HT_DASH_TOKEN for the next one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, RadioButton, RadioSet, Static

from ht_dash.api.errors import AuthError, HtError, NetworkError, ServerError
from ht_dash.api.models import Profile
from ht_dash.api.secret import Secret, token_text
from ht_dash.api.service import WEB_DASHBOARD
from ht_dash.auth.errors import (
    INSTALL_HINT,
    KeyringDropsWrites,
    KeyringLocked,
    KeyringTimeout,
    KeyringUnavailable,
    TokenStoreError,
)
from ht_dash.auth.flows import check_or_not, validate_and_store
from ht_dash.auth.storage import DemoTokenStore, TokenLocation, TokenStore, display_path
from ht_dash.tui.typed_app import typed_app

KEYRING, PLAIN_FILE, SESSION_ONLY = "keyring", "file", "session"


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: Secret
    location: TokenLocation | None  # None: stored nowhere, used for this session only
    profile: Profile | None  # None: the API does not offer the account's profile
    checked: bool = True  # False: stored without asking the API ("not checked")


def parse_token(text: str) -> Secret:
    """The token from what was pasted; ValueError (with a message for the user) if it is not one."""
    value = token_text(text)
    if not value:
        raise ValueError("paste your token first")
    if "…" in value or "•" in value:
        raise ValueError("that is the masked form of a token: paste the whole token")
    if any(c.isspace() for c in value) or not value.isprintable():
        raise ValueError(
            "that does not look like a token (it contains spaces or control characters)"
        )
    return Secret(value)


def keyring_advice(problem: TokenStoreError) -> str:
    """How to get a working keyring, for each way it can fail (the choices cover the rest)."""
    if isinstance(problem, KeyringUnavailable):
        return f"To get one: {INSTALL_HINT}"
    if isinstance(problem, KeyringTimeout | KeyringLocked):
        return (
            "Unlock it (log in to the desktop session, or answer its unlock prompt), "
            "then restart ht-dash"
        )
    if isinstance(problem, KeyringDropsWrites):
        return "Check PYTHON_KEYRING_BACKEND and keyringrc.cfg (`keyring diagnose` shows them)"
    return ""


class LoginScreen(Screen[LoginResult | None]):
    """Dismissed with a `LoginResult` once a token is checked (and stored, if chosen)."""

    BLOCKS_NAVIGATION: ClassVar[bool] = True  # the app offers no other screen while this is up
    app = typed_app()
    DEFAULT_CSS = """
    LoginScreen { align: center middle; }
    LoginScreen > VerticalScroll { width: 100%; height: 1fr; align: center middle; }
    #login-box {
        width: 90%; max-width: 100; height: auto;
        border: round $accent; border-title-style: bold; background: $surface; padding: 0 1;
    }
    #login-intro, #login-reason { margin-bottom: 1; }
    #login-reason { color: $error; }
    #login-reason.-empty, #storage-choice.-hidden, #login-status.-empty { display: none; }
    #keyring-status.-problem { color: $warning; }
    #storage-choice { width: 100%; }
    #login-status { margin-top: 1; }
    #login-status.-error { color: $error; }
    #login-buttons { height: auto; margin-top: 1; }
    #login-buttons Button { margin-right: 2; }
    """
    BINDINGS = [
        # first run (no token to go back to): leaving quits; after a 401 or logout: goes back
        Binding("escape", "quit_app", "Quit", id="login.quit"),
        Binding("escape", "back", "Back", id="login.back"),
        Binding("q", "leave", show=False),
        # the global screen keys must not lead around the login while focus is off the input
        Binding("1,2,3,4,5,6,r,p", "stay", show=False),
    ]

    def __init__(
        self,
        *,
        first_run: bool = False,
        reason: str | None = None,
        problem: TokenStoreError | None = None,
    ) -> None:
        super().__init__()
        self.first_run = first_run  # no token to go back to: leaving quits the app
        self.reason = reason
        # a startup keyring problem is said again (with the choices) once the probe confirms it
        self._reason_is_problem = problem is not None and reason is None
        if self._reason_is_problem:
            self.reason = f"Could not read a stored token: {problem.message}."
        self.keyring_problem: TokenStoreError | None = None
        self.checking = False
        # accepted by the API, not stored yet
        self._validated: tuple[Secret, Profile | None] | None = None

    @property
    def store(self) -> TokenStore | DemoTokenStore:
        return self.app.token_state.store

    # ---- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        host = "the demo backend" if self.app.runtime.demo else self.store.host
        with VerticalScroll(), Vertical(id="login-box") as box:
            box.border_title = f"Log in to {host}"
            yield Static(
                f"ht-dash needs your HyperTracker API token. Copy it from {WEB_DASHBOARD} "
                "and paste it below; it is checked with the API before it is stored.",
                id="login-intro",
            )
            yield Static(
                escape(self.reason or ""),
                id="login-reason",
                classes="" if self.reason else "-empty",
            )
            yield Input(
                password=True,
                placeholder="Paste your API token here, then press Enter",
                id="token-input",
            )
            yield Static("[dim]Checking the OS keyring…[/]", id="keyring-status")
            with RadioSet(id="storage-choice", classes="-hidden"):
                yield RadioButton(
                    "Nowhere: this session only (set HT_DASH_TOKEN for the next)",
                    value=True,
                    id="store-session",
                )
                yield RadioButton("In a plain-text file (mode 0600) — insecure", id="store-file")
            yield Static("", id="login-status", classes="-empty")
            with Horizontal(id="login-buttons"):
                yield Button("Log in", variant="primary", id="login-submit", compact=True)
                yield Button("Quit" if self.first_run else "Back", id="login-leave", compact=True)
        yield Footer()

    def _file_label(self) -> str:
        store = self.store
        return display_path(store.file_path) if isinstance(store, TokenStore) else "(none in demo)"

    def on_mount(self) -> None:
        self.query_one("#token-input", Input).focus()
        self.probe_keyring()

    # ---- keyring -----------------------------------------------------------------------------

    @work(exclusive=True, group="login-probe", exit_on_error=False)
    async def probe_keyring(self) -> None:
        probe = await self.store.aprobe_keyring()
        status = self.query_one("#keyring-status", Static)
        if isinstance(self.store, DemoTokenStore):
            status.update("[dim]Demo mode: nothing is stored; the demo backend's token works.[/]")
        elif probe.usable:
            status.update(f"[dim]It will be stored in the OS keyring ({escape(probe.backend)}).[/]")
        elif probe.problem is not None:
            self._offer_choices(probe.problem)

    def _offer_choices(self, problem: TokenStoreError) -> None:
        """Explain why the keyring cannot keep the token and show the alternatives."""
        self.keyring_problem = problem
        status = self.query_one("#keyring-status", Static)
        status.add_class("-problem")
        if self._reason_is_problem:
            self.query_one("#login-reason", Static).add_class("-empty")
        message = problem.message[:1].upper() + problem.message[1:]
        advice = keyring_advice(problem)
        status.update(
            f"⚠ [b]{escape(message)}[/].\n"
            + (f"[dim]{escape(advice)}.[/]\n" if advice else "")
            + f"Meanwhile, keep the token where? (file: {escape(self._file_label())})"
        )
        self.query_one("#storage-choice", RadioSet).remove_class("-hidden")

    @property
    def storage_mode(self) -> str:
        if self.keyring_problem is None:
            return KEYRING
        chosen = self.query_one("#storage-choice", RadioSet).pressed_button
        return PLAIN_FILE if chosen is not None and chosen.id == "store-file" else SESSION_ONLY

    # ---- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "quit_app":
            return self.first_run
        if action == "back":
            return not self.first_run
        return True

    def action_quit_app(self) -> None:
        self.app.exit(0)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_leave(self) -> None:
        if self.first_run:
            self.app.exit(0)
        else:
            self.dismiss(None)

    def action_stay(self) -> None:
        self.notify("Log in first (or Esc)", timeout=2)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "login-submit":
            self.submit()
        elif event.button.id == "login-leave":
            self.action_leave()

    def palette_commands(self):
        yield SystemCommand("Log in", "Check the pasted token and store it", self.submit)
        yield SystemCommand(
            "Quit" if self.first_run else "Back", "Leave the login screen", self.action_leave
        )

    def submit(self) -> None:
        if self.checking:
            return
        try:
            secret = parse_token(self.query_one("#token-input", Input).value)
        except ValueError as exc:
            self._status(f"✗ {escape(str(exc))}.", "-error")
            return
        self.log_in(secret, self.storage_mode)

    def _status(self, text: str, level: str = "") -> None:
        status = self.query_one("#login-status", Static)
        status.update(text)
        status.set_class(not text, "-empty")
        status.set_class(level == "-error", "-error")
        status.set_class(level == "-ok", "-ok")

    def _busy(self, busy: bool) -> None:
        self.checking = busy
        self.query_one("#token-input", Input).disabled = busy
        self.query_one("#login-submit", Button).disabled = busy
        if not busy:
            self.query_one("#token-input", Input).focus()

    @work(exclusive=True, group="login", exit_on_error=False)
    async def log_in(self, secret: Secret, mode: str) -> None:
        self._busy(True)
        self._status(f"Checking {secret.masked} with the API…")
        try:
            result = await self._check_and_store(secret, mode)
        finally:
            self._busy(False)
        if result is not None:
            self.dismiss(result)

    async def _check_and_store(self, secret: Secret, mode: str) -> LoginResult | None:
        # A short-lived client of its own: the app's (which polls) only ever holds accepted tokens.
        client = self.app.runtime.make_client(None)
        try:
            if self._validated is not None and self._validated[0] == secret:
                profile = self._validated[1]  # already accepted: only storing is left
                return await self._store(secret, profile, mode)
            if mode == SESSION_ONLY:
                profile, checked = await check_or_not(client, secret, self._confirm_check)
                return self._done(secret, None, profile, checked=checked)
            outcome = await validate_and_store(
                client,
                self.store,
                secret,
                insecure=mode == PLAIN_FILE,
                confirm_check=self._confirm_check,
            )
        except AuthError as exc:
            code = f" ({exc.status})" if exc.status else ""
            self._status(
                f"✗ The API rejected this token{code}: {escape(exc.message)}. Nothing was stored.\n"
                f"Check that you copied the whole token from {WEB_DASHBOARD}; "
                "after a regeneration only the newest token works.",
                "-error",
            )
            return None
        except NetworkError as exc:
            self._status(
                f"✗ Could not reach the API: {escape(exc.message)}. Nothing was stored.\n"
                "Check your connection, then press Enter to try again.",
                "-error",
            )
            return None
        except ServerError as exc:  # one attempt here: the error's "ht-dash will retry" is not so
            self._status(
                f"✗ {escape(exc.title)}: {escape(exc.message)}. Nothing was stored.\n"
                "The service is having trouble; press Enter to try again.",
                "-error",
            )
            return None
        except HtError as exc:
            hint = f" {escape(exc.hint)}." if exc.hint else ""
            self._status(
                f"✗ {escape(exc.title)}: {escape(exc.message)}. Nothing was stored.{hint}",
                "-error",
            )
            return None
        finally:
            await client.aclose()
        if outcome.store_error is not None:
            self._validated = (secret, outcome.profile)
            self._offer_choices(outcome.store_error)
            self._status(
                (
                    f"The token works ({escape(outcome.profile.email)})"
                    if outcome.profile is not None
                    else f"The token is {escape(outcome.who())}"
                )
                + ", but it could not be stored. "
                "Choose above how to keep it, then press Enter.",
                "-error",
            )
            return None
        assert outcome.saved is not None
        return self._done(
            secret,
            outcome.saved.location,
            outcome.profile,
            outcome.saved.warnings,
            checked=outcome.checked,
        )

    async def _confirm_check(self) -> bool:
        """The API offers no account details: ask before spending a request on a check."""
        from ht_dash.api.service import TOKEN_CHECK
        from ht_dash.tui.screens.confirm import ConfirmScreen

        self._status("The API does not offer account details to tokens.")
        return bool(
            await self.app.push_screen_wait(
                ConfirmScreen(
                    "Check the token?",
                    f"Checking the token sends one request to GET {TOKEN_CHECK}, which may "
                    "spend one usage token.\nCancel stores it as «not checked».",
                    confirm_label="Check",
                    danger=False,
                )
            )
        )

    async def _store(
        self, secret: Secret, profile: Profile | None, mode: str
    ) -> LoginResult | None:
        if mode == SESSION_ONLY:
            return self._done(secret, None, profile)
        try:
            saved = await self.store.asave(secret, insecure=mode == PLAIN_FILE)
        except TokenStoreError as exc:
            self._offer_choices(exc)
            self._status(
                f"✗ Still not stored: {escape(exc.message)}. {escape(exc.hint)}.", "-error"
            )
            return None
        return self._done(secret, saved.location, profile, saved.warnings)

    def _done(
        self,
        secret: Secret,
        location: TokenLocation | None,
        profile: Profile | None,
        warnings: tuple[str, ...] = (),
        *,
        checked: bool = True,
    ) -> LoginResult:
        where = f"stored in the {location.label}" if location else "not stored (this session only)"
        who = (
            f"as {profile.name} <{profile.email}>"
            if profile is not None
            else "(token checked)"
            if checked
            else "(token not checked)"
        )
        self.app.notify(f"Logged in {who}; token {where}.", title="Logged in", timeout=8)
        notes = list(warnings)
        if location is not None and location.insecure:
            notes.append("the token is kept in plain text; the Token screen keeps saying so")
        if location is None and not isinstance(self.store, DemoTokenStore):
            notes.append("for the next session: export HT_DASH_TOKEN=<your token> in your shell")
        env = self.store.from_env() if isinstance(self.store, TokenStore) else None
        if env is not None:
            notes.append(f"{env[1].label} is set and is used instead of the stored token next time")
        for note in notes:
            self.app.notify(note, title="Token", severity="warning", timeout=12)
        return LoginResult(secret, location, profile, checked)
