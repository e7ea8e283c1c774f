"""The dashboard with a real-looking token against the stand-in for the real service.

No panel calls a "not offered" answer a bug; each says where its numbers come from, or what would
provide them; the dashboard sends the data API nothing unless the user checks the token.
"""

from __future__ import annotations

import pytest

from auth_harness import screen_lines, settle
from ht_dash.config import Settings
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app
from ht_dash.tui.screens.confirm import ConfirmScreen
from ht_dash.tui.screens.login import LoginScreen
from ht_dash.tui.widgets.bar_chart import BarChart
from ht_dash.tui.widgets.panel import DataPanel
from realserver import BASE_PATH, REAL_TOKEN, RealServer
from test_real_mode import record_traffic

SCREENS = "123456"


@pytest.fixture
def real(monkeypatch):
    with RealServer() as server:
        monkeypatch.setenv("HT_DASH_TOKEN", REAL_TOKEN)
        yield server


def app_for(server: RealServer, **settings):
    runtime = Runtime(settings=Settings(base_url=server.base_url, **settings))
    return make_app(runtime, live=False)


def dialog_text(app) -> str:
    return str(app.screen.query_one("#confirm-message").render())


def panels_say_where_from(app) -> list[str]:
    """Every panel on view: its border subtitle and, with no data, its message."""
    out = []
    for panel in app.screen.query(DataPanel):
        subtitle = str(panel.border_subtitle or "")
        message = "" if "-nodata" not in panel.classes else str(panel._message.render())
        out.append(f"{panel.border_title}: {subtitle} | {message}")
    return out


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize("with_meter", [False, True], ids=["empty meter", "meter data"])
async def test_no_screen_mentions_a_bug_and_every_panel_says_where_from(real, size, with_meter):
    if with_meter:
        record_traffic(requests=90)
    app = app_for(real, plan="pulse")
    async with app.run_test(size=size) as pilot:
        for key in SCREENS:
            await pilot.press(key)
            await settle(pilot)
            text = "\n".join(screen_lines(app))
            assert " bug" not in text.lower(), text
            for line in panels_say_where_from(app):
                assert any(
                    words in line
                    for words in (
                        "from the API",
                        "from the local meter",
                        "counted by the local meter",
                        "estimated from your plan",
                        "from the token itself",
                        "not offered by this API",
                        "not available here",
                    )
                ), line
                if "not available here" in line:
                    assert "ht-dash run --" in line or "ht-dash plan set" in line, line
    assert real.data_requests() == []  # the dashboard asked the account paths only


async def test_with_meter_data_limits_and_endpoints_show_that_traffic(real):
    record_traffic(requests=90)
    app = app_for(real, plan="pulse")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        text = "\n".join(screen_lines(app))
        assert "Requests/min" in text and "90 / 60" in text
        assert "counted by the local meter since" in text
        await pilot.press("3")
        await settle(pilot)
        text = "\n".join(screen_lines(app))
        assert "/positions" in text and "from the local meter · since" in text
        # Enter: the endpoint's days, from the meter too (the API answers 404: not offered)
        await pilot.press("enter")
        await settle(pilot)
        daily = app.screen.query_one("#endpoint-daily", DataPanel)
        assert "from the local meter" in str(daily.border_subtitle)
        requests = app.screen.query_one("#endpoint-chart-requests", BarChart)
        assert sum(requests.values) == 90 and requests.dates[-1] == app.clock.now().date()
        assert all(s.path.startswith(BASE_PATH + "/account/") for s in real.seen)


async def test_r_asks_the_api_again_what_it_did_not_offer(real):
    app = app_for(real, plan="pulse")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        asked = len(real.seen)
        await pilot.press("5")  # shown again: what the API does not offer is not asked again
        await settle(pilot)
        assert len(real.seen) == asked
        await pilot.press("r")
        await settle(pilot)
        assert len(real.seen) > asked
        assert all(s.path.startswith(BASE_PATH + "/account/") for s in real.seen)


async def test_token_check_key_spends_one_request_after_saying_so(real):
    app = app_for(real)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        assert "may spend one usage token" in dialog_text(app)
        assert real.data_requests() == []
        await pilot.press("y")
        await settle(pilot)
        assert [s.path for s in real.data_requests()] == [BASE_PATH + "/hypertracker/state/status"]
        assert any("accepted the token" in str(n.message) for n in app._notifications)


async def test_regenerate_opens_the_web_dashboard_then_the_login_screen(real, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url, new=0: opened.append(url) or True)
    app = app_for(real)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        assert "does not offer token regeneration" in dialog_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert opened == ["https://app.coinmarketman.com/hypertracker/api-dashboard"]
        assert isinstance(app.screen, LoginScreen)
    assert not any("regenerate" in s.path for s in real.seen)  # nothing was sent for it


async def test_login_asks_before_spending_a_check_and_stores_unchecked_on_no(
    real, monkeypatch, memory_keyring
):
    monkeypatch.delenv("HT_DASH_TOKEN")
    app = app_for(real)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        from textual import events
        from textual.widgets import Input

        app.screen.query_one("#token-input", Input).post_message(events.Paste(REAL_TOKEN))
        await pilot.pause()
        await pilot.press("enter")
        for _ in range(100):  # the login worker waits on the dialog: no settle() here
            if isinstance(app.screen, ConfirmScreen):
                break
            await pilot.pause(0.02)
        assert "may spend one usage token" in dialog_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(app.screen, LoginScreen)
        assert list(memory_keyring.entries.values()) == [REAL_TOKEN]
        assert any("not checked" in str(n.message) for n in app._notifications)
    assert real.data_requests() == []


async def test_limits_without_a_plan_offers_the_picker_and_uses_the_choice(real):
    from ht_dash.config import load_settings

    app = app_for(real)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        assert "no plan is declared" in "\n".join(screen_lines(app))
        await pilot.press("P")
        await settle(pilot)
        await pilot.press("down", "down", "enter")  # free, pulse, surge
        await settle(pilot)
        text = "\n".join(screen_lines(app))
        assert "Surge" in text and "estimated from your plan" in text
        assert "P changes the plan" in text
    assert load_settings(env={}).plan == "surge"


async def test_limits_with_an_idle_meter_shows_how_to_route_a_bot(real):
    record_traffic(requests=1)  # the database exists; nothing in the last 15 minutes
    import sqlite3

    from ht_dash.meter.source import default_db_path

    conn = sqlite3.connect(default_db_path())
    conn.execute("UPDATE requests SET ts = ts - 7200")
    conn.commit()
    conn.close()
    app = app_for(real, plan="stream")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        text = "\n".join(screen_lines(app))
        assert "No traffic through the local meter" in text
        assert "ht-dash run --" in text
        assert "Live streams: not seen locally" in text


async def test_a_declared_plan_without_meter_traffic_shows_no_made_up_usage(real):
    app = app_for(real, plan="pulse")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        text = "\n".join(screen_lines(app))
        assert "not seen locally" in text and "0 / 50,000" not in text
        assert "Pace unknown" in text


async def test_metrics_say_how_many_of_the_asked_days_the_meter_recorded(real):
    record_traffic(requests=20)
    app = app_for(real, plan="pulse")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        assert "recorded 1 of the 90 days asked" in "\n".join(screen_lines(app))
