"""The Textual app: seven screens as modes, global keys, and the glue between feeds and screens.

The feeds (what is polled, with which parameters, the gate every request passes) live in
`ht_dash.feeds.engine`; the token in `ht_dash.auth.state`; UI glue in `tui/` (`palette`,
`notices`, `workers`: the one handler for unexpected worker failures).
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Awaitable, Callable, Iterable
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import Notify
from textual.screen import Screen
from textual.timer import Timer

from ht_dash.api.secret import Secret
from ht_dash.api.source import AccountSource
from ht_dash.auth.state import TokenState
from ht_dash.auth.storage import ResolvedToken, TokenLocation, resolve_token, store_for
from ht_dash.feeds.engine import FeedEngine
from ht_dash.feeds.registry import LIVE, PROFILE, SUBSCRIPTION, FeedSpec
from ht_dash.feeds.scheduler import FeedState
from ht_dash.runtime import Runtime
from ht_dash.tui import notices, themes
from ht_dash.tui.screens import SCREENS
from ht_dash.tui.workers import ReportingWorkerManager, crash_report

if TYPE_CHECKING:
    from ht_dash.insights.live import AlertMonitor

HOME_MODE = SCREENS[0][0]  # the Token screen: the first one, and where a login leads


def home_screen_feeds() -> tuple[FeedSpec, ...]:
    _, _, _, module, cls = SCREENS[0]
    return getattr(importlib.import_module(module), cls).FEEDS


def _screen_factory(module: str, cls: str):
    def build() -> Screen:
        return getattr(importlib.import_module(module), cls)()

    return build


class HtDashApp(notices.PlainNotifications, App[int]):
    TITLE = "ht-dash"
    CSS_PATH = "app.tcss"
    MODES = {mode: _screen_factory(module, cls) for mode, _, _, module, cls in SCREENS}
    BINDINGS = [
        *(
            Binding(key, f"show_screen('{mode}')", label, show=False, id=f"screen.{mode}")
            for mode, key, label, _, _ in SCREENS
        ),
        # ← / → switch screens from anywhere but a text box (not only from the tab bar)
        Binding("left", "step_screen(-1)", "Previous screen", show=False, id="screen.previous"),
        Binding("right", "step_screen(1)", "Next screen", show=False, id="screen.next"),
        Binding("r", "refresh", "Refresh", id="refresh"),
        # One key, two faces: the footer says what p will do now.
        Binding("p", "toggle_pause('pause')", "Pause live", id="pause"),
        Binding("p", "toggle_pause('resume')", "Resume live", id="resume"),
        Binding("question_mark,f1", "help", "Help", key_display="?", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, id="quit.ctrl_c"),  # as in k9s, btop
    ]

    def __init__(
        self,
        runtime: Runtime,
        source: AccountSource,
        *,
        live: bool = True,
        token: Secret | None = None,
        resolved: ResolvedToken | None = None,
    ) -> None:
        if token is not None or runtime.settings.source == "meter":
            # The first screen is built with the app: switching to it from Textual's blank default
            # screen cost a second resume, a second CSS pass and a second layout before the
            # first paint. Without a token, the login screen goes over the blank one.
            self.DEFAULT_MODE = HOME_MODE
        super().__init__()
        self._workers = ReportingWorkerManager(self)  # what no worker expected is shown, logged
        self.runtime = runtime
        location = resolved.location if resolved else None
        self.token_state = TokenState(token, location, store_for(runtime), resolved)
        self.clock = runtime.clock
        self.live = live
        self._freshness_timer: Timer | None = None  # the 1 s tick that moves age texts on
        self._held: list[Callable[[], None]] | None = []  # feed callbacks until the app started
        self.theme = themes.initial_theme(runtime.settings, self.available_themes)
        self.key_problems: list[str] = []  # from config.toml's [keys], reported once at start
        if runtime.settings.keys:
            from ht_dash.tui.keymap import resolve

            keymap, self.key_problems = resolve(
                runtime.settings.keys, self.BINDINGS, runtime.settings.config_path
            )
            self.set_keymap(keymap)
        self.feeds = FeedEngine(
            runtime,
            source,
            live=live,
            on_update=self._on_feed_update,
            on_auth_failed=self._once_started(partial(notices.auth_failed, self)),
            on_save_failed=partial(notices.offline_save_failed, self),
            spawn=self._spawn,
        )

    @cached_property
    def alerts(self) -> AlertMonitor:
        """The 80 % / 100 % crossings seen so far (made with the first live figures)."""
        from ht_dash.insights.live import AlertMonitor

        return AlertMonitor()

    def _spawn(self, work: Awaitable[None]) -> None:
        self.run_worker(work, group="manual-poll", exit_on_error=False)

    # ---- lifecycle ---------------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Compose) and self.live:
            # The feeds start before Textual builds the first screen: their answers come with
            # its first paint.
            self.run_worker(
                self.feeds.run(), name="scheduler", group="scheduler", exit_on_error=False
            )
            if self.DEFAULT_MODE == HOME_MODE:
                self.feeds.show(home_screen_feeds())
        await super().on_event(event)

    def _once_started(self, callback: Callable[..., None]) -> Callable[..., None]:
        """A callback of the feeds, held until the app has started: the feeds run while Textual
        still builds the first screen, and what a callback opens (the login screen on a 401)
        waits until then, as when the feeds started later."""

        def call(*args: Any) -> None:
            if self._held is None:
                callback(*args)
            else:
                self._held.append(partial(callback, *args))

        return call

    def on_mount(self) -> None:
        if not gc.isenabled():  # paused by cli.main for the start-up: back after the first paint
            self.call_after_refresh(gc.enable)
        if self.live:
            self._freshness_timer = self.set_interval(1.0, self._tick, name="freshness")
        self._start()
        held, self._held = self._held or [], None
        for call in held:
            call()

    def _start(self) -> None:
        """Say what resolving the token found; without a token, the login screen comes first."""
        resolved = self.token_state.resolved
        for text in self.key_problems:
            self.notify(text, title="Keys", severity="warning", timeout=15)
        for text in resolved.warnings if resolved else ():
            self.notify(text, title="Token", severity="warning", timeout=12)
        problem = resolved.problem if resolved else None
        if self.token_state.token is None and self.runtime.settings.source != "meter":
            from ht_dash.tui.screens.login import LoginScreen

            self.push_screen(LoginScreen(first_run=True, problem=problem), self.after_login)
            return
        if problem is not None:
            text = f"{problem.message}. {problem.hint}"
            self.notify(text, title=problem.title, severity="error", timeout=15)
        self.switch_mode(HOME_MODE)  # already there unless the app started on the login screen

    def open_login(self, reason: str | None = None, *, first_run: bool = False) -> None:
        """Ask for a token on top of the current screen (Esc goes back; quits on a first run)."""
        from ht_dash.tui.screens.login import LoginScreen

        if not any(isinstance(s, LoginScreen) for s in self.screen_stack):
            self.push_screen(LoginScreen(reason=reason, first_run=first_run), self.after_login)

    def after_login(self, result: Any) -> None:
        if result is None:
            return
        self.use_token(result.token, result.location)
        if self.current_mode not in self.MODES:
            self.switch_mode(HOME_MODE)

    def use_token(self, token: Secret | None, location: TokenLocation | None) -> None:
        """A new token (login, regenerate; None: logout): the client sends it, polling resumes."""
        self.token_state.use(token, location)
        self.feeds.use_token(token)

    def _fatal_error(self) -> None:
        crash_report(self)  # without frame locals (they can hold the token), redacted

    async def on_unmount(self) -> None:
        self.feeds.stop()
        await self.feeds.aclose()

    def _tick(self) -> None:
        screen = self.screen
        if hasattr(screen, "tick"):
            screen.tick()

    # ---- feeds -------------------------------------------------------------------------------

    def _on_feed_update(self, state: FeedState) -> None:
        from ht_dash.tui.screens.base import FeedUpdated

        if state.data is not None:
            if state.kind in (PROFILE.name, SUBSCRIPTION.name):
                self.refresh_context()
            if state.kind in (LIVE.name, SUBSCRIPTION.name):
                notices.check_alerts(self, state)
        screen = self.screen
        if state.kind in getattr(screen, "FEED_NAMES", ()):
            screen.post_message(FeedUpdated(state))
            if self._freshness_timer is not None:  # the screen ticks with the update (DashScreen)
                self._freshness_timer.reset()

    def refresh_context(self) -> None:
        from ht_dash.tui.widgets.nav import NavBar

        for nav in self.screen.query(NavBar):
            nav.refresh_context()

    # ---- actions -----------------------------------------------------------------------------

    def action_show_screen(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_step_screen(self, step: int) -> None:
        modes = [mode for mode, *_ in SCREENS]
        if self.current_mode in modes:
            self.action_show_screen(modes[(modes.index(self.current_mode) + step) % len(modes)])

    def action_refresh(self) -> None:
        if (error := self.feeds.scheduler.auth_failed) is not None:
            self.notify(f"Polling stopped: {error.hint}", title=error.title, severity="error")
            return
        self.feeds.refresh()  # each panel's subtitle says "refreshing…": no toast over the data

    def action_toggle_pause(self, _: str = "") -> None:  # tab bar and footer say it: no toast
        self.feeds.set_paused(not self.feeds.paused)
        self.refresh_context()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_pause" and parameters:  # p's footer key: "Pause" or "Resume"
            return parameters[0] == ("resume" if self.feeds.paused else "pause")
        return True

    def watch_theme(self, theme: str) -> None:
        if self.is_running:  # picked in the palette: remembered for the next start
            themes.remember(theme)

    def _on_notify(self, event: Notify) -> None:
        notices.arriving(self, event.notification)  # a repeat replaces the one showing
        super()._on_notify(event)

    def action_help(self) -> None:
        from ht_dash.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(at_mode=self.current_mode))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from ht_dash.tui.palette import system_commands

        yield from system_commands(self, screen)
        yield from super().get_system_commands(screen)


def make_app(runtime: Runtime, *, token: Secret | None = None, live: bool = True) -> HtDashApp:
    """The one factory: the CLI and the tests build the app here.

    Without `token`, it is resolved as everywhere else (demo's own, or env > keyring > file; the
    keyring call is bounded by a timeout). No token found: the app opens on the login screen.
    """
    needs_token = token is None and runtime.settings.source != "meter"  # the meter needs none
    resolved = resolve_token(runtime) if needs_token else None
    if resolved is not None:
        token = resolved.secret
    return HtDashApp(runtime, runtime.make_source(token), live=live, token=token, resolved=resolved)


def run_app(runtime: Runtime) -> int:
    app = make_app(runtime)
    # What exists now (modules, classes, the app) lives as long as the process: move it out of
    # the collector's sight, so its passes stop walking it (a full pass cost ~20 ms at start-up).
    gc.freeze()
    result = app.run()
    return result or 0
