"""The whole app on the demo backend: every screen reachable by its number, with its data."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest

from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app
from ht_dash.tui.widgets.panel import DataPanel
from ui_harness import wait_until

AT = datetime(2026, 11, 25, 14, 3, 7, tzinfo=UTC)


def build(**settings):
    runtime = Runtime(settings=Settings(**settings), demo=True, clock=FixedClock(AT), demo_seed=7)
    return make_app(runtime, live=False)


async def settle(pilot, until) -> None:
    await wait_until(pilot, until, step=0.05, what="the screen to show its data")


def panels_loaded(app) -> bool:
    panels = list(app.screen.query(DataPanel))
    return bool(panels) and all(not p.has_class("-nodata") for p in panels)


# Each screen, its key, and a value only the demo data (seed 7, fixed clock) puts there: a label
# or a plan's list price would show without any data.
SCREENS = [
    ("1", "token", "tok_35e6adc94f2aec6e"),  # the token id
    ("2", "metrics", "3,571"),  # average requests per day
    ("3", "endpoints", "30,936"),  # requests to POST /info in the 30 UTC days ending today
    ("4", "limits", "55,754 / 150,000"),  # tokens used of the quota
    ("5", "billing", "Fri 2026-12-11"),  # the next invoice date
    ("6", "history", "Invoice address"),  # the newest entry
]


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_every_screen_is_one_key_away_and_shows_its_data(size):
    app = build()
    async with app.run_test(size=size) as pilot:
        for key, mode, evidence in SCREENS:
            await pilot.press(key)
            await settle(pilot, lambda mode=mode: app.current_mode == mode and panels_loaded(app))
            svg = app.export_screenshot()
            assert (
                evidence.replace("&", "&amp;").replace(" ", "&#160;") in svg or evidence in svg
            ), f"screen {key} ({mode}) does not show {evidence!r}"
            assert "Traceback" not in svg


async def test_help_lists_keys_of_every_screen_and_closes():
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        from ht_dash.tui.screens.help import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        text = app.screen.text
        for heading in (
            "1 · Token",
            "2 · Metrics",
            "3 · Endpoints",
            "4 · Limits",
            "5 · Billing",
            "6 · History",
        ):
            assert heading in text
        assert "Reveal/hide" in text and "Pause live" in text  # a screen key and a global one
        for key in ("enter", "home / end, g / G", "tab / shift+tab", "ctrl+q"):  # table keys
            assert f"  {key}  " in text, key
        assert "ht_dash." not in text  # no module names meant for developers
        assert re.search(r"^  r +Refresh +refresh$", text, re.MULTILINE)  # key, action, id
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_help_is_one_line_per_key_and_opens_at_the_current_screen():
    from textual.containers import VerticalScroll

    from ht_dash.tui.screens.help import HelpScreen, _screen_bindings

    app = build()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5", "question_mark")
        await pilot.pause()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        scroll = screen.query_one(VerticalScroll)
        heading = screen.query_one("#help-billing-heading")
        assert scroll.scroll_y > 0
        assert heading.region.y == scroll.content_region.y  # screen 5's keys at the top
        history = screen.query_one("#help-history")  # a section without prose: its keys only
        keys = [b for b in _screen_bindings("history") if b.description]
        assert history.region.height == len(keys)  # one line a key (was a boxed 2-line table)


async def test_palette_offers_every_screen_and_the_global_actions():
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for label in ("Token", "Metrics", "Endpoints", "Limits", "Billing", "History"):
            assert f"Go to {label}" in titles
        assert {"Refresh", "Pause / resume live polling", "Help"} <= titles


async def test_q_quits_cleanly():
    app = build()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert app._exit_renderables == []


@pytest.mark.parametrize(
    ("key", "most_per_minute"),
    # screen 4: live every 2 s, the subscription every 30 s, pacing advice every 60 s
    [("1", 1), ("2", 1), ("3", 1), ("4", 60 / 2 + 2 + 1), ("5", 1), ("6", 1)],
)
async def test_requests_the_dashboard_itself_sends_per_screen(key, most_per_minute):
    """Live figures cost a request per interval on screen 4; elsewhere polling is slow."""
    from tests.virtual_time import VirtualTime

    vt = VirtualTime(FixedClock(AT))
    runtime = Runtime(settings=Settings(), demo=True, clock=vt.clock, demo_seed=7)
    app = make_app(runtime)
    app.feeds.scheduler.waiter = vt
    backend = runtime.demo_backend
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(key)
        await vt.advance(5)  # the screen's first fetches
        before = backend.requests_served
        await vt.advance(10 * 60)
        per_minute = (backend.requests_served - before) / 10
        await pilot.pause()
    assert per_minute <= most_per_minute
    if key == "4":
        assert per_minute >= 30  # and the live screen really is live


async def test_the_request_log_follows_every_second_only_while_shown_and_not_paused():
    """Screen 7 is live like screen 4: a request a second while it is shown; none for the log once
    another screen is shown, and none while `p` pauses live polling."""
    from tests.virtual_time import VirtualTime

    vt = VirtualTime(FixedClock(AT))
    runtime = Runtime(settings=Settings(), demo=True, clock=vt.clock, demo_seed=7)
    app = make_app(runtime)
    app.feeds.scheduler.waiter = vt
    backend = runtime.demo_backend

    def log_requests() -> int:
        return sum(n for path, n in backend.requests_by_path.items() if path.endswith("/requests"))

    async def log_requests_in(minutes: int) -> int:
        before = log_requests()
        await vt.advance(minutes * 60)
        await pilot.pause()
        return log_requests() - before

    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("7")
        await vt.advance(5)  # the first page
        assert 55 <= await log_requests_in(2) / 2 <= 61
        await pilot.press("1")
        await vt.advance(5)
        assert await log_requests_in(2) == 0
        await pilot.press("7")
        await vt.advance(5)
        await pilot.press("p")
        await vt.advance(5)
        assert await log_requests_in(2) == 0
        await pilot.press("p")
        await vt.advance(5)
        assert await log_requests_in(1) >= 55  # and it follows again


async def test_meter_source_asks_for_no_token_and_does_not_touch_the_keyring(fail_keyring):
    """Reading the local meter needs no token: no login screen, no keyring warning."""
    runtime = Runtime(settings=Settings(source="meter"), clock=FixedClock(AT))
    app = make_app(runtime, live=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        from ht_dash.tui.screens.login import LoginScreen

        assert not any(isinstance(s, LoginScreen) for s in app.screen_stack)
        assert not any("keyring" in n.message.lower() for n in app._notifications)
        assert app.current_mode == "limits"


async def test_logging_out_while_reading_the_meter_keeps_the_dashboard(memory_keyring):
    """The meter needs no token: logging out must not trap the user on a login-or-quit screen."""
    from ht_dash.tui.screens.confirm import ConfirmScreen
    from ht_dash.tui.screens.login import LoginScreen

    memory_keyring.entries[("ht-dash", "ht-api.coinmarketman.com")] = "a-stored-token-123456"
    runtime = Runtime(settings=Settings(source="meter"), clock=FixedClock(AT))
    app = make_app(runtime, live=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert memory_keyring.entries == {}
        assert app.token_state.token is None
        assert not any(isinstance(s, LoginScreen) for s in app.screen_stack)
        await pilot.press("4")
        await pilot.pause()
        assert app.current_mode == "limits" and app.is_running


async def test_a_crash_report_shows_no_token():
    """Textual's default report prints frame locals; a local holding the token must not show."""
    app = build()
    token = app.token_state.token.reveal()

    def crash() -> None:
        revealed = app.token_state.token.reveal()  # a local, as real code that sends or copies it
        raise RuntimeError(f"boom near {len(revealed)} chars")

    kept: list = []

    class Keep(list):  # Textual prints then clears its crash reports at exit
        def append(self, item) -> None:
            kept.append(item)
            super().append(item)

    app._exit_renderables = Keep()
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            app.call_later(crash)
            await pilot.pause(0.2)
    from rich.console import Console

    console = Console(record=True, width=200, file=io.StringIO())
    for renderable in kept:
        console.print(renderable)
    reports = console.export_text()
    assert "RuntimeError: boom" in reports
    assert token[:24] not in reports  # not even the truncated repr of a local


async def test_a_worker_failing_unexpectedly_is_shown_and_logged_without_the_token():
    from ht_dash.logs import setup_logging

    log_path = setup_logging(True)
    app = build()
    token = app.token_state.token.reveal()

    async def broken() -> None:
        raise RuntimeError(f"boom near {token}\nsecond line of detail")

    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            app.screen.run_worker(broken(), name="broken-task", exit_on_error=False)

            def reported() -> list:
                return [n for n in app._notifications if n.title == "Internal error"]

            await settle(pilot, reported)
            assert app.is_running  # reported, not fatal
            notes = reported()
            assert len(notes) == 1
            message = notes[0].message
            assert "RuntimeError in broken-task: boom near" in message
            assert token not in message and "second line" not in message
    finally:
        setup_logging(False)
    logged = log_path.read_text()
    assert "worker broken-task failed" in logged and "RuntimeError" in logged
    assert token not in logged
