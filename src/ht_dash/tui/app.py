"""The Textual app: seven screens as modes, global keys, the command palette, and the scheduler."""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterable
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer

from ht_dash.api.errors import AuthError
from ht_dash.api.secret import Secret
from ht_dash.api.source import AccountSource
from ht_dash.auth.storage import ResolvedToken, TokenLocation, resolve_token, store_for
from ht_dash.config import LIVE_INTERVAL_RANGE
from ht_dash.insights.history_view import FIRST_PAGE_SIZE as HISTORY_FIRST_PAGE
from ht_dash.insights.live import AlertMonitor
from ht_dash.insights.request_log import RequestLog
from ht_dash.feeds.offline import OfflineCopies
from ht_dash.feeds.scheduler import FeedState, Scheduler
from ht_dash.runtime import Runtime
from ht_dash.tui.screens import SCREENS

SLOW_INTERVAL_S = 300.0
SUBSCRIPTION_INTERVAL_S = 30.0
LIVE_STEPS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0)
REQUEST_LOG_INTERVAL_S = 1.0
REQUEST_LOG_FIRST_PAGE, REQUEST_LOG_PAGE = 10_000, 1_000


def _screen_factory(module: str, cls: str):
    def build() -> Screen:
        return getattr(importlib.import_module(module), cls)()

    return build


class HtDashApp(App[int]):
    TITLE = "ht-dash"
    CSS_PATH = "app.tcss"
    MODES = {mode: _screen_factory(module, cls) for mode, _, _, module, cls in SCREENS}
    BINDINGS = [
        *(
            Binding(key, f"show_screen('{mode}')", label, show=False, id=f"screen.{mode}")
            for mode, key, label, _, _ in SCREENS
        ),
        Binding("r", "refresh", "Refresh", id="refresh"),
        Binding("p", "toggle_pause", "Pause live", id="pause"),
        Binding("question_mark,f1", "help", "Help", key_display="?", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
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
        super().__init__()
        self.runtime = runtime
        self.source = source
        self.token = token
        # where the token lives (None: nowhere, this session only); see ht_dash.auth
        self.token_location: TokenLocation | None = resolved.location if resolved else None
        self.token_store = store_for(runtime)
        self.regenerating = False  # a 401 while the token is being replaced is expected
        self._resolved = resolved
        self.clock = runtime.clock
        self.live = live
        self._freshness_timer: Timer | None = None  # the 1 s tick that moves age texts on
        self.live_interval = runtime.settings.live_interval
        self.metrics_days = 90
        self.usage_timeframe = "30d"
        self.history_kind: str | None = None
        self.theme = (
            runtime.settings.theme
            if runtime.settings.theme in self.available_themes
            else "textual-dark"
        )
        self.alerts = AlertMonitor()
        self.scheduler = Scheduler(
            self.clock, self._on_feed_update, on_auth_failed=self._on_auth_failed
        )
        src = self.source
        self.scheduler.add("profile", src.profile, SLOW_INTERVAL_S)
        self.scheduler.add("token", src.token_info, SLOW_INTERVAL_S)
        self.scheduler.add("subscription", src.subscription, SUBSCRIPTION_INTERVAL_S)
        self.scheduler.add("live", src.live, self.live_interval, pausable=True)
        self.scheduler.add("metrics", lambda: src.metrics(self.metrics_days), SLOW_INTERVAL_S)
        self.scheduler.add(
            "usage", lambda: src.endpoint_usage(self.usage_timeframe), SLOW_INTERVAL_S
        )
        self.scheduler.add("billing", src.next_billing, SLOW_INTERVAL_S)
        self.scheduler.add(
            "history",
            lambda: src.history(kind=self.history_kind, limit=HISTORY_FIRST_PAGE),
            SLOW_INTERVAL_S,
        )
        self.request_log = RequestLog()  # screen 7's rows; the feed asks only for newer ones
        self.scheduler.add(
            "requests",
            lambda: src.recent_requests(
                self.request_log.after_id,
                REQUEST_LOG_FIRST_PAGE if self.request_log.after_id is None else REQUEST_LOG_PAGE,
            ),
            REQUEST_LOG_INTERVAL_S,
            pausable=True,
        )
        # last good answers on disk: saved on success, shown as "offline copy" until the first poll
        self.offline = OfflineCopies.for_runtime(runtime, on_save_failed=self._offline_save_failed)
        self.offline.attach(
            self.scheduler,
            variants={
                "metrics": lambda: f"{self.metrics_days}d",
                "usage": lambda: self.usage_timeframe,
                "history": lambda: self.history_kind or "all",
            },
        )

    # ---- lifecycle ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.live:
            self.run_worker(
                self.scheduler.run(), name="scheduler", group="scheduler", exit_on_error=False
            )
            self._freshness_timer = self.set_interval(1.0, self._tick, name="freshness")
        self._start()

    def _start(self) -> None:
        """Say what resolving the token found; without a token, the login screen comes first."""
        resolved = self._resolved
        for text in resolved.warnings if resolved else ():
            self.notify(text, title="Token", severity="warning", timeout=12)
        problem = resolved.problem if resolved else None
        if self.token is None and self.runtime.settings.source != "meter":
            from ht_dash.tui.screens.login import LoginScreen

            self.push_screen(LoginScreen(first_run=True, problem=problem), self.after_login)
            return
        if problem is not None:
            text = f"{problem.message}. {problem.hint}"
            self.notify(text, title=problem.title, severity="error", timeout=15)
        if self.live:  # ask now: the answers can be there when the first screen first paints
            from ht_dash.tui.screens.token import TokenScreen

            self.scheduler.set_active(TokenScreen.FEEDS)
        self.switch_mode("token")

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
            self.switch_mode("token")

    def use_token(self, token: Secret | None, location: TokenLocation | None) -> None:
        """A new token (login, regenerate; None: logout): the client sends it, polling resumes."""
        self.token, self.token_location = token, location
        if (set_token := getattr(self.source, "set_token", None)) is not None:
            set_token(token)
        if token is None:  # logged out: the account's data must not outlive its token on disk
            self.offline.clear()
            return
        self.scheduler.reauthorized()
        if not self.live:  # manual mode: fetch again what was already fetched
            feeds = self.scheduler.feeds.values()
            shown = {f.kind for f in feeds if f.state.data is not None or f.state.error is not None}
            self.run_worker(self._poll_all(shown), group="manual-poll", exit_on_error=False)

    def _fatal_error(self) -> None:
        """A crash report without frame locals (they can hold the token), redacted."""
        import traceback

        from rich.text import Text

        from ht_dash.logs import redact

        self.bell()
        report = redact(traceback.format_exc())
        hint = "\nht-dash crashed. Please report this (run with --debug for a redacted log)."
        self._exit_renderables.append(Text(report + hint))
        self._close_messages_no_wait()

    async def on_unmount(self) -> None:
        self.scheduler.stop()
        await self.source.aclose()

    def _tick(self) -> None:
        screen = self.screen
        if hasattr(screen, "tick"):
            screen.tick()

    # ---- feeds -------------------------------------------------------------------------------

    def feed_state(self, kind: str) -> FeedState:
        return self.scheduler.state(kind)

    def screen_shown(self, screen: Any) -> None:
        kinds = set(screen.FEEDS)
        # The subscription moves fast only beside live figures; elsewhere (billing) it is slow data.
        subscription_every = SUBSCRIPTION_INTERVAL_S if "live" in kinds else SLOW_INTERVAL_S
        if self.scheduler.feeds["subscription"].interval != subscription_every:
            self.scheduler.set_interval("subscription", subscription_every)
        if self.live:
            self.scheduler.set_active(kinds)
        else:
            self.run_worker(self._poll_once(kinds), group="manual-poll", exit_on_error=False)

    async def _poll_once(self, kinds: set[str]) -> None:
        for kind in sorted(kinds):
            feed = self.scheduler.feeds[kind]
            if feed.in_flight:  # the screen was shown again while it loads: that answer will do
                continue
            if feed.state.data is None or feed.state.from_cache:
                await self.scheduler.poll(kind)

    def refresh_feeds(self, kinds: set[str] | None = None) -> None:
        if self.live:
            self.scheduler.refresh(kinds)
        else:
            current = kinds if kinds is not None else set(getattr(self.screen, "FEEDS", ()))
            self.run_worker(self._poll_all(current), group="manual-poll", exit_on_error=False)

    async def _poll_all(self, kinds: set[str]) -> None:
        for kind in sorted(kinds):
            await self.scheduler.poll(kind)

    def _on_feed_update(self, state: FeedState) -> None:
        from ht_dash.tui.screens.base import FeedUpdated

        if state.kind in ("profile", "subscription") and state.data is not None:
            self.refresh_context()
        if state.kind in ("live", "subscription") and state.data is not None:
            self._check_alerts(state)
        screen = self.screen
        if state.kind in getattr(screen, "FEEDS", ()):
            screen.post_message(FeedUpdated(state))
            if self._freshness_timer is not None:  # the screen ticks with the update (DashScreen)
                self._freshness_timer.reset()

    def _check_alerts(self, state: FeedState) -> None:
        """Notify (and ring, if settings.bell) once per crossing of 80 % / 100 % of a limit."""
        if state.from_cache or state.loading:
            return
        if state.kind == "live":
            alerts = self.alerts.observe_live(state.data)
        else:
            alerts = self.alerts.observe_subscription(state.data)
        for alert in alerts:
            self.notify(alert.message, title=alert.title, severity=alert.severity, timeout=8)
            if self.runtime.settings.bell:
                self.bell()

    def _offline_save_failed(self, reason: str) -> None:
        """Once per run, from the cache writer thread: the dashboard works, offline copies not."""
        message = f"{reason}. The dashboard works, but cannot show data when started offline."

        def say() -> None:
            self.notify(message, title="Offline copy not saved", severity="warning", timeout=10)

        try:
            self.call_from_thread(say)
        except RuntimeError:  # called on the app's own thread (or the app has stopped)
            if self.is_running:
                say()

    def _on_auth_failed(self, error: AuthError) -> None:
        if self.regenerating:  # the old token dies now; the regeneration puts the new one in place
            return
        self.open_login(f"{error.message}. Paste a valid token to resume polling.")
        self.notify(
            f"{error.message}. Polling stopped. {error.hint}.",
            title=error.title,
            severity="error",
            timeout=15,
        )

    def context_line(self) -> str:
        parts = []
        if self.runtime.demo:
            parts.append("[b $warning]DEMO[/]")
        if self.runtime.settings.source == "meter":
            parts.append("local meter")
        profile = self.feed_state("profile").data
        if profile is not None:
            parts.append(profile.email)
        sub = self.feed_state("subscription").data
        if sub is not None:
            parts.append(f"{sub.plan.name} plan")
        if self.scheduler.paused:
            parts.append("[b $accent]⏸ live paused[/]")
        return " · ".join(parts)

    def refresh_context(self) -> None:
        from ht_dash.tui.widgets.nav import NavBar

        for nav in self.screen.query(NavBar):
            nav.refresh_context()

    # ---- actions -----------------------------------------------------------------------------

    def action_show_screen(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_refresh(self) -> None:
        if self.scheduler.auth_failed is not None:
            error = self.scheduler.auth_failed
            self.notify(f"Polling stopped: {error.hint}", title=error.title, severity="error")
            return
        self.refresh_feeds()
        self.notify("Refreshing…", timeout=1.5)

    def action_toggle_pause(self) -> None:
        paused = not self.scheduler.paused
        self.scheduler.set_paused(paused)
        self.refresh_context()
        self.notify(
            "Live polling paused — press p to resume" if paused else "Live polling resumed",
            timeout=3,
        )

    def set_live_interval(self, seconds: float) -> None:
        low, high = LIVE_INTERVAL_RANGE
        self.live_interval = min(high, max(low, seconds))
        self.scheduler.set_interval("live", self.live_interval)

    def action_faster(self) -> None:
        slower = [s for s in LIVE_STEPS if s < self.live_interval]
        self.set_live_interval(slower[-1] if slower else LIVE_STEPS[0])
        self.notify(f"Live refresh every {self.live_interval:g} s", timeout=2)

    def action_slower(self) -> None:
        faster = [s for s in LIVE_STEPS if s > self.live_interval]
        self.set_live_interval(faster[0] if faster else LIVE_STEPS[-1])
        self.notify(f"Live refresh every {self.live_interval:g} s", timeout=2)

    def action_help(self) -> None:
        from ht_dash.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        if getattr(screen, "BLOCKS_NAVIGATION", False):  # the login screen: no way around it
            yield from screen.palette_commands()
            yield from super().get_system_commands(screen)
            return
        for mode, key, label, _, _ in SCREENS:
            yield SystemCommand(
                f"Go to {label}", f"Screen {key}", partial(self.action_show_screen, mode)
            )
        yield SystemCommand("Refresh", "Fetch this screen's data now (r)", self.action_refresh)
        yield SystemCommand(
            "Pause / resume live polling",
            "Stop or restart live requests (p)",
            self.action_toggle_pause,
        )
        yield SystemCommand("Live refresh faster", "Shorter live interval (+)", self.action_faster)
        yield SystemCommand("Live refresh slower", "Longer live interval (-)", self.action_slower)
        yield SystemCommand("Help", "Keys and screens (?)", self.action_help)
        yield from getattr(screen, "palette_commands", lambda: ())()
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
