"""Fault matrix, the app: what a user sees when the network or the API misbehaves, and that the
dashboard keeps answering keys — on the demo backend's scripted faults and on a real loopback
server that stalls, throttles or speaks garbage."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from textual.widgets import Static

from faultserver import FaultServer, Options, closed_port
from ht_dash.api.secret import Secret
from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.paths import config_file
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app
from ht_dash.tui.widgets.panel import DataPanel
from ui_harness import wait_until

pytestmark = pytest.mark.fault

AT = datetime(2026, 11, 25, 14, 3, 20, tzinfo=UTC)
SIZE = (100, 30)
SCREEN_PANELS = {  # key -> (screen class, a panel on it)
    "1": ("TokenScreen", "token-panel"),
    "2": ("MetricsScreen", "metrics-panel"),
    "3": ("EndpointsScreen", "usage-panel"),
    "4": ("LimitsScreen", "plan-panel"),
    "5": ("BillingScreen", "invoice-panel"),
    "6": ("HistoryScreen", "history-panel"),
}


def demo_app(*faults: tuple):
    """The demo backend answering `faults` (set_fault arguments), in manual mode."""
    runtime = Runtime(settings=Settings(), demo=True, clock=FixedClock(AT), demo_seed=7)
    for fault in faults:
        runtime.demo_backend.set_fault(*fault)
    return make_app(runtime, live=False)


def server_app(base_url: str, *, live: bool = False):
    runtime = Runtime(settings=Settings(base_url=base_url), clock=FixedClock(AT))
    return make_app(runtime, token=Secret("any-token"), live=live)


async def until(pilot, condition, timeout: float = 5.0) -> None:
    """Real time passes: requests go to a real loopback server."""
    await wait_until(pilot, condition, timeout, step=0.02)


async def show(pilot, key: str) -> DataPanel:
    """Open screen `key`, wait until its feeds answered (data or error), return its panel."""
    name, panel_id = SCREEN_PANELS[key]
    await pilot.press(key)
    app = pilot.app
    await until(pilot, lambda: type(app.screen).__name__ == name)
    await until(
        pilot,
        lambda: all(
            not (s := app.feeds.state(k)).loading and (s.data is not None or s.error is not None)
            for k in app.screen.FEEDS
        ),
    )
    return app.screen.query_one(f"#{panel_id}", DataPanel)


def subtitle(panel: DataPanel) -> str:
    return str(panel.border_subtitle)


def message(panel: DataPanel) -> str:
    return str(panel._message.render())


def showing_error(panel: DataPanel) -> bool:
    return panel.has_class("-error") and panel.has_class("-nodata") and panel._message.display


async def still_answers_keys(pilot) -> None:
    """Another screen opens, and help opens and closes."""
    app = pilot.app
    other = "2" if type(app.screen).__name__ != "MetricsScreen" else "1"
    await pilot.press(other)
    await until(pilot, lambda: type(app.screen).__name__ == SCREEN_PANELS[other][0])
    await pilot.press("question_mark")
    await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
    await pilot.press("escape")
    await until(pilot, lambda: type(app.screen).__name__ == SCREEN_PANELS[other][0])


# ---- the network -----------------------------------------------------------------------------


async def test_network_down_says_so_in_each_panel_and_keeps_answering_keys():
    app = server_app(f"http://127.0.0.1:{closed_port()}")
    async with app.run_test(size=SIZE) as pilot:
        panel = await show(pilot, "1")
        assert showing_error(panel)
        assert message(panel) == (
            "⚠ Network problem: connection to 127.0.0.1 refused\n"
            "check your connection; ht-dash will retry"
        )
        assert re.fullmatch(
            r"⚠ connection to 127\.0\.0\.1 refused, retrying in \d+ s", subtitle(panel)
        )
        # asked once each: opening a screen does not resend what is already on its way
        assert app.feeds.scheduler.requests_started == {"token": 1, "profile": 1}
        metrics = await show(pilot, "2")
        assert message(metrics).startswith("⚠ Network problem: connection to 127.0.0.1 refused")
        await still_answers_keys(pilot)


async def test_a_server_speaking_garbage_is_a_network_problem_not_a_crash():
    with FaultServer("garbage") as server:
        app = server_app(server.base_url)
        async with app.run_test(size=SIZE) as pilot:
            panel = await show(pilot, "4")
            assert showing_error(panel)
            assert message(panel).startswith("⚠ Network problem: ")
            assert "\x00" not in message(panel) and "SSH" not in message(panel)
            await still_answers_keys(pilot)


async def test_a_stalled_server_never_freezes_the_ui_and_q_quits_at_once():
    with FaultServer("stall") as server:
        app = server_app(server.base_url, live=True)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: len(server.requests) >= 2)  # token + profile, unanswered
            panel = app.screen.query_one("#token-panel", DataPanel)
            assert message(panel) == "loading…" and panel.has_class("-nodata")
            await still_answers_keys(pilot)
            for key in "3456":
                await pilot.press(key)
            await until(pilot, lambda: type(app.screen).__name__ == "HistoryScreen")
            # the keys were not queued behind the stalled requests: those are still unanswered
            assert app.feeds.state("token").loading and app.feeds.state("token").error is None
            assert app.feeds.state("history").loading
            started = time.monotonic()
            await pilot.press("q")
        # requests in flight are cancelled, not awaited (the read timeout is 10 s)
        assert time.monotonic() - started < 9.0
        assert app.return_code == 0


async def test_a_throttling_server_is_not_hammered_and_the_panel_counts_down():
    options = Options(retry_after=30)
    with FaultServer("throttle", options=options) as server:
        app = server_app(server.base_url, live=True)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.feeds.state("token").error is not None)
            panel = app.screen.query_one("#token-panel", DataPanel)
            assert subtitle(panel) == "⚠ rate-limited, retrying in 30 s"
            assert message(panel) == "⚠ Rate-limited: Too many requests\nretry in 30 s"
            await pilot.press("4")  # a screen with other feeds: they wait for the hold too
            await until(pilot, lambda: type(app.screen).__name__ == "LimitsScreen")
            await pilot.pause(0.3)
            plan = app.screen.query_one("#plan-panel", DataPanel)
            assert message(plan) == "waiting: the API rate-limited this token; asking in 30 s"
            assert subtitle(plan) == "rate-limited, asking in 30 s"
            assert plan.has_class("-stale") and not plan.has_class("-error")
            asked = {r.path for r in server.requests}
            assert len(server.requests) <= 2, asked  # nothing more until the 30 s have passed
            await still_answers_keys(pilot)


# ---- HTTP answers ----------------------------------------------------------------------------


async def test_401_stops_polling_and_leads_to_the_login_screen():
    app = demo_app(("/account", 401))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.feeds.scheduler.auth_failed is not None)
        await until(pilot, lambda: type(app.screen).__name__ == "LoginScreen")
        notes = [n for n in app._notifications if n.title == "Not authorised"]
        assert len(notes) == 1  # two feeds failed, one message
        assert notes[0].message == (
            "the token was rejected (401). Polling stopped. "
            "log in again with `ht-dash login` (or set HT_DASH_TOKEN)."
        )
        await pilot.press("escape")  # back to the dashboard without a new token
        await until(pilot, lambda: type(app.screen).__name__ == "TokenScreen")
        sent = sum(app.feeds.scheduler.requests_started.values())
        await pilot.press("r")
        await pilot.pause()
        # no rejected token resent
        assert sum(app.feeds.scheduler.requests_started.values()) == sent
        assert list(app._notifications)[-1].message.startswith("Polling stopped: log in again")


async def test_402_says_the_quota_is_spent_and_when_it_resets():
    app = demo_app(("/account/subscription", 402))
    async with app.run_test(size=SIZE) as pilot:
        panel = await show(pilot, "4")
        assert showing_error(panel)
        assert subtitle(panel) == "⚠ usage quota spent — resets at 2026-12-11 00:00 UTC"
        assert message(panel) == (
            "⚠ Usage quota spent: Monthly usage quota spent\n"
            "it resets at 2026-12-11 00:00 UTC, or upgrade the plan"
        )
        live = app.screen.query_one("#live-panel", DataPanel)
        assert not live.has_class("-error")  # the live gauge still works


async def test_429_says_rate_limited_with_the_wait():
    app = demo_app(("/account/usage/endpoints", 429))
    async with app.run_test(size=SIZE) as pilot:
        panel = await show(pilot, "3")
        assert showing_error(panel)
        assert subtitle(panel) == "⚠ rate-limited, retrying in 30 s"
        assert message(panel) == "⚠ Rate-limited: Too many requests\nretry in 30 s"
        await still_answers_keys(pilot)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_with_a_proxy_html_page_shows_a_short_server_error(status):
    app = demo_app(("/account/metrics", status))  # the demo answers nginx's HTML page
    async with app.run_test(size=SIZE) as pilot:
        panel = await show(pilot, "2")
        assert showing_error(panel)
        text = message(panel)
        assert text.startswith(f"⚠ Server error: the server answered {status} ")
        assert text.endswith("\nthe service is having trouble; ht-dash will retry")
        assert "<" not in text and "nginx" not in text
        assert re.search(r"retrying in \d+ s$", subtitle(panel))


async def test_malformed_json_is_an_unexpected_response_in_its_panel():
    app = demo_app(("/account/billing/next", 200, '{"invoice_date": "2026-'))
    async with app.run_test(size=SIZE) as pilot:
        panel = await show(pilot, "5")
        assert showing_error(panel)
        assert message(panel) == (
            "⚠ Unexpected response: the server answered 200 with something that is not JSON\n"
            "the API may have changed; try again or report it"
        )
        await still_answers_keys(pilot)


async def test_one_failing_endpoint_leaves_the_other_screens_working_and_recovers():
    app = demo_app(("/account/usage/endpoints", 500))
    async with app.run_test(size=SIZE) as pilot:
        failing = await show(pilot, "3")
        assert showing_error(failing)
        assert message(failing).startswith("⚠ Server error: the server answered 500 ")
        for key in "12456":
            panel = await show(pilot, key)
            assert not panel.has_class("-error") and not panel.has_class("-nodata"), key
            assert subtitle(panel) == "updated 0 s ago", key
        app.runtime.demo_backend.clear_faults()
        panel = await show(pilot, "3")
        await pilot.press("r")
        await until(pilot, lambda: app.feeds.state("usage").data is not None)
        assert not panel.has_class("-error") and not panel.has_class("-nodata")
        assert subtitle(panel) == "updated 0 s ago"


# ---- the terminal and the config -------------------------------------------------------------


async def test_resizing_to_40x12_and_back_keeps_every_screen_and_its_content():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, "4")
        plan_line = str(app.screen.query_one("#plan-line", Static).render())
        assert "Surge · $399.00/month" in plan_line
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        for key in "123456":  # every screen lays itself out in a tiny terminal
            await show(pilot, key)
        await pilot.press("4")
        await pilot.resize_terminal(*SIZE)
        await until(pilot, lambda: app.size == SIZE)
        assert str(app.screen.query_one("#plan-line", Static).render()) == plan_line
        panel = app.screen.query_one("#plan-panel", DataPanel)
        assert panel.region.width > 40 and not panel.has_class("-nodata")
        await still_answers_keys(pilot)


def test_bad_toml_config_exits_2_naming_the_line(isolated_home):
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('theme = "nord"\nlive_interval = 5\nbell = yes\n')
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ht-dash"), "--demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HT_DASH_HOME": str(isolated_home)},
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"ht-dash: {path} is not valid TOML: ")
    assert "(at line 3, column 8)" in lines[0]
    assert lines[1] == "  hint: fix or delete the file"
    assert "Traceback" not in result.stderr and result.stdout == ""
