"""What the app tells the user about its feeds: limit alerts, a stopped token, a cache it cannot
write. Each is a notification; none is shown twice for the same cause."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import App

from ht_dash.feeds.registry import LIVE

if TYPE_CHECKING:
    from ht_dash.api.errors import AuthError
    from ht_dash.feeds.scheduler import FeedState
    from ht_dash.tui.app import HtDashApp


class PlainNotifications(App):
    """Notifications carry server text (error messages, plan names): never read as markup."""

    def notify(self, message: str, *, markup: bool = True, **kwargs: Any) -> None:  # noqa: ARG002
        super().notify(message, markup=False, **kwargs)


def check_alerts(app: HtDashApp, state: FeedState) -> None:
    """Notify (and ring, if settings.bell) once per crossing of 80 % / 100 % of a limit."""
    if state.from_cache or state.loading:
        return
    if state.kind == LIVE.name:
        alerts = app.alerts.observe_live(state.data)
    else:
        alerts = app.alerts.observe_subscription(state.data)
    for alert in alerts:
        app.notify(alert.message, title=alert.title, severity=alert.severity, timeout=8)
        if app.runtime.settings.bell:
            app.bell()


def auth_failed(app: HtDashApp, error: AuthError) -> None:
    """A 401 stopped all polling: ask for a token (unless the token is being replaced)."""
    if app.token_state.regenerating:  # the old token dies now; the new one is put in place
        return
    app.open_login(f"{error.message}. Paste a valid token to resume polling.")
    app.notify(
        f"{error.message}. Polling stopped. {error.hint}.",
        title=error.title,
        severity="error",
        timeout=15,
    )


def offline_save_failed(app: HtDashApp, reason: str) -> None:
    """Once per run, from the cache writer thread: the dashboard works, offline copies not."""
    message = f"{reason}. The dashboard works, but cannot show data when started offline."

    def say() -> None:
        app.notify(message, title="Offline copy not saved", severity="warning", timeout=10)

    try:
        app.call_from_thread(say)
    except RuntimeError:  # called on the app's own thread (or the app has stopped)
        if app.is_running:
            say()
