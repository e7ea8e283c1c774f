"""What the app tells the user about its feeds: limit alerts, a stopped token, a cache it cannot
write. Each is a notification; none is shown twice for the same cause.

Every toast passes `arriving`: a repeat replaces the one still showing (six `-` presses, one
toast), and a toast about a screen (information, a limit alert) stays on it (`leave_screen`).
On screen 4 a limit alert is no toast at all: its gauge states it (`DashScreen.GAUGES`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from textual.app import App

from ht_dash.feeds.registry import LIVE

if TYPE_CHECKING:
    from textual.notifications import Notification

    from ht_dash.api.errors import AuthError
    from ht_dash.feeds.scheduler import FeedState
    from ht_dash.tui.app import HtDashApp


class PlainNotifications(App):
    """Notifications carry server text (error messages, plan names): never read as markup."""

    def notify(self, message: str, *, markup: bool = True, **kwargs: Any) -> None:  # noqa: ARG002
        super().notify(message, markup=False, **kwargs)


def arriving(app: HtDashApp, notification: Notification) -> None:
    """A toast is about to show: an identical one still showing goes (six `-` presses, one
    toast); information and limit alerts belong to the screen they were raised on."""
    same = (notification.message, notification.title, notification.severity)
    for old in list(app._notifications):  # noqa: SLF001 - Textual keeps them there
        if (old.message, old.title, old.severity) == same:
            app._unnotify(old, refresh=False)  # noqa: SLF001
    about_the_screen = (notification.message, notification.title) in _ALERTS
    on_a_screen = hasattr(app.screen, "FEED_NAMES")  # a dashboard screen, not login or a dialog
    if on_a_screen and (notification.severity == "information" or about_the_screen):
        _RAISED_ON.setdefault(app, {})[notification.identity] = app.current_mode


# Limit alerts are about the figures on screen: they stay there, whatever their severity.
_ALERTS: set[tuple[str, str]] = set()
# app -> toast identity -> the mode it was raised on
_RAISED_ON: WeakKeyDictionary[HtDashApp, dict[str, str]] = WeakKeyDictionary()


def leave_screen(app: HtDashApp, mode: str) -> None:
    """Another screen is shown: its toasts (an alert, "Token regenerated") go; warnings and
    errors about the app (a cache it cannot write, a rejected token) stay."""
    raised_on = _RAISED_ON.get(app, {})
    stale = [n for n in app._notifications if raised_on.get(n.identity, mode) != mode]  # noqa: SLF001
    for notification in stale:
        raised_on.pop(notification.identity, None)
        app._unnotify(notification, refresh=False)  # noqa: SLF001
    if stale:
        app._refresh_notifications()  # noqa: SLF001


def check_alerts(app: HtDashApp, state: FeedState) -> None:
    """Notify (and ring, if settings.bell) once per crossing of 80 % / 100 % of a limit; on the
    screen whose gauge states it, no toast covers the panels it is about."""
    if state.from_cache or state.loading:
        return
    if state.kind == LIVE.name:
        alerts = app.alerts.observe_live(state.data)
    else:
        alerts = app.alerts.observe_subscription(state.data)
    for alert in alerts:
        if alert.metric not in getattr(app.screen, "GAUGES", ()):
            _ALERTS.add((alert.message, alert.title))
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
