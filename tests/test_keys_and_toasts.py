"""Keys that behave the same everywhere and notifications that inform and go (issue 17 §4, §5)."""

from __future__ import annotations

from textual.widgets import Input
from textual.widgets._footer import FooterKey

from test_fits import build
from ui_harness import wait_until


def footer(app) -> dict[str, str]:
    """Description -> key of every footer key drawn."""
    return {k.description: k.key for k in app.screen.query(FooterKey) if k.region.width}


def toasts(app) -> list[str]:
    return [n.message for n in app._notifications]  # noqa: SLF001


async def test_p_says_resume_once_paused_and_ctrl_c_quits():
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        assert "Pause live" in footer(app) and "Resume live" not in footer(app)
        await pilot.press("p")
        await pilot.pause()
        await pilot.pause()
        assert app.feeds.paused
        assert "Resume live" in footer(app) and "Pause live" not in footer(app)
        await pilot.press("p")
        await pilot.pause()
        assert not app.feeds.paused
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code is not None  # the app quit, as k9s and btop do on ctrl+c


async def test_while_typing_a_filter_the_footer_shows_the_filters_keys():
    app = build()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("slash")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen.focused, Input)
        keys = footer(app)
        assert keys.get("Keep the filter") == "enter" and keys.get("Clear it") == "escape"
        assert "Help" not in keys  # ? types a "?" here
        await pilot.press("escape")
        await pilot.pause()
        await pilot.pause()
        assert {"Help", "Quit"} <= set(footer(app))


async def test_live_interval_keys_do_not_stack_toasts():
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        before = len(toasts(app))
        await pilot.press(*"------")
        await pilot.pause()
        assert len(toasts(app)) == before  # the live panel says "Refreshing every N s"


async def test_a_repeated_toast_replaces_the_one_showing():
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(4):
            app.notify("Refreshing…", timeout=5)
        await pilot.pause()
        assert toasts(app).count("Refreshing…") == 1


async def test_a_screens_toasts_stay_on_that_screen_app_warnings_follow():
    from ht_dash.insights.live import AlertMonitor
    from ht_dash.tui import notices

    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await wait_until(pilot, lambda: app.feeds.state("live").data is not None)
        live = app.feeds.state("live")
        await pilot.press("2")
        await pilot.pause()
        app.alerts = AlertMonitor(thresholds=(0.1,))  # the demo's rate crosses it: one alert
        notices.check_alerts(app, live)
        notices.check_alerts(app, live)  # still above: no second toast
        app.notify("Offline copy not saved", severity="warning", timeout=30)
        app.notify("The token was rejected", severity="error", timeout=30)
        await pilot.pause()
        assert sum("of the limit" in text for text in toasts(app)) == 1
        await pilot.press("6")  # History: the alert about screen 4 must not cover its rows
        await pilot.pause()
        assert sorted(toasts(app)) == ["Offline copy not saved", "The token was rejected"]
        await pilot.press("5")
        await pilot.pause()
        app.notify("Token regenerated", timeout=30)
        await pilot.press("6")
        await pilot.pause()
        assert "Token regenerated" not in toasts(app)


async def test_on_screen_4_the_gauge_states_the_alert_and_no_toast_covers_the_panels():
    from ht_dash.insights.live import AlertMonitor
    from ht_dash.tui import notices

    app = build()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("2")
        await pilot.pause()
        app.alerts = AlertMonitor(thresholds=(0.1,))
        await pilot.press("4")
        await wait_until(pilot, lambda: app.feeds.state("live").data is not None)
        notices.check_alerts(app, app.feeds.state("live"))  # crossed while on screen 4
        await pilot.pause()
        assert not any("of the limit" in text for text in toasts(app))
        assert not app.screen.query("Toast")
        gauge = str(app.screen.query_one("#rate-gauge").render())
        assert "/ 100" in gauge  # the gauge says what the toast would have said
        # raised elsewhere, it goes as soon as the user comes to screen 4
        app.alerts = AlertMonitor(thresholds=(0.1,))
        await pilot.press("3")
        await pilot.pause()
        notices.check_alerts(app, app.feeds.state("live"))
        await pilot.pause()
        assert any("of the limit" in text for text in toasts(app))
        await pilot.press("4")
        await pilot.pause()
        assert not any("of the limit" in text for text in toasts(app))


async def test_a_theme_picked_in_the_palette_is_remembered_unless_the_settings_name_one():
    from ht_dash.config import Settings
    from test_fits import AT

    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.theme == "textual-dark"
        app.theme = "nord"  # what the palette's "Change theme" does
        await pilot.pause()
    again = build()
    async with again.run_test(size=(100, 30)):
        assert again.theme == "nord"

    from ht_dash.clock import FixedClock
    from ht_dash.demo import DemoBackend
    from ht_dash.runtime import Runtime
    from ht_dash.tui.app import make_app

    clock = FixedClock(AT)
    runtime = Runtime(settings=Settings(theme="gruvbox"), demo=True, clock=clock)
    runtime._backend = DemoBackend(clock=clock)
    chosen = make_app(runtime, live=False)
    async with chosen.run_test(size=(100, 30)):
        assert chosen.theme == "gruvbox"  # config.toml / HT_DASH_THEME win


async def test_enter_on_an_endpoint_opens_it_in_full_with_its_hint():
    from textual.widgets import Static

    from ht_dash.tui.screens.endpoint_detail import EndpointDetailScreen

    app = build()
    async with app.run_test(size=(80, 24)) as pilot:  # narrow: Errors is not in the table
        await pilot.press("3")
        screen = app.screen
        for _ in range(100):
            await pilot.pause(0.01)
            if screen.table.row_count:
                break
        key = next(h.key for h in screen.hints)  # an endpoint with a hint
        await pilot.press(*["j"] * screen.table.get_row_index(key), "enter")
        await pilot.pause()
        detail = app.screen
        assert isinstance(detail, EndpointDetailScreen) and detail.endpoint.key == key
        fields = str(detail.query_one("#endpoint-fields", Static).render())
        assert f"{detail.endpoint.errors:,} (" in fields and "Avg latency" in fields
        hint = next(h for h in screen.hints if h.key == key)
        assert hint.title in str(detail.query_one("#endpoint-hints", Static).render())
        await pilot.press("escape")
        assert app.screen is screen


async def test_left_and_right_switch_screens_from_the_tables_too():
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("6")  # History: its table has the focus
        await pilot.pause()
        assert app.screen.focused.id == "history-table"
        await pilot.press("left")
        await pilot.pause()
        assert app.current_mode == "billing"
        await pilot.press("3")  # Endpoints: a DataTable, whose ← / → did nothing in row mode
        await pilot.pause()
        app.screen.query_one("#endpoint-table").focus()
        await pilot.press("right")
        await pilot.pause()
        assert app.current_mode == "limits"
        await pilot.press("6", "right")
        await pilot.pause()
        assert app.current_mode == "requests"  # 7 Log, after History
        await pilot.press("right")
        await pilot.pause()
        assert app.current_mode == "token"  # round the end


async def test_slash_filters_history_as_it_does_endpoints():
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("6")
        screen = app.screen
        for _ in range(100):
            await pilot.pause(0.01)
            if screen.table.row_count:
                break
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"surge")
        await app.workers.wait_for_complete()
        await pilot.pause()
        rows = screen.table.rows
        assert rows and all("surge" in (e.description + e.status).casefold() for e in rows)
        assert "matching “surge”" in str(screen.query_one("#history-status").render())
        await pilot.press("enter", "j")  # back in the table; the filter stays
        assert screen.table.has_focus and screen.filter_text == "surge"
        await pilot.press("escape")
        await pilot.pause()
        assert screen.filter_text == "" and len(screen.table.rows) > len(rows)


async def test_refresh_keys_raise_no_toast_the_panels_say_it():
    app = build()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("5")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("r", "u")
        await pilot.pause()
        assert toasts(app) == []  # "refreshing…" is in the panels' subtitles, "Loading …" in 5's
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "updated" in str(app.screen.query_one("#invoice-panel").border_subtitle)
