"""Screen 4 in a real app on the demo backend: plan, quota, live gauge, streams, Free plan,
pause, +/-, alerts, 402 — and a snapshot of the Surge and Free plans."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from ht_dash.api.models import LiveUsage, Subscription
from ht_dash.config import Settings
from ht_dash.feeds.scheduler import FeedState
from ht_dash.tui.widgets.gauge import Gauge
from ht_dash.tui.widgets.panel import DataPanel
from ui_harness import AT, wait_until

SIZE = (100, 30)


async def open_limits(pilot) -> None:
    await pilot.press("4")
    app = pilot.app
    await wait_until(
        pilot, lambda: all(app.feeds.state(k).data is not None for k in ("live", "subscription"))
    )
    await pilot.pause()


def text(app, widget_id: str) -> str:
    return str(app.screen.query_one(f"#{widget_id}", Static).render())


async def test_surge_plan_shows_plan_quota_projection_and_the_live_gauge(demo_app):
    app = demo_app("surge")
    async with app.run_test(size=SIZE) as pilot:
        await open_limits(pilot)
        sub: Subscription = app.feeds.state("subscription").data
        live: LiveUsage = app.feeds.state("live").data
        assert "Surge · $399.00/month · active" in text(app, "plan-line")
        assert text(app, "plan-terms") == "150,000 tokens/month · 100 req/min · no live streams"
        quota = app.screen.query_one("#quota-gauge", Gauge)
        assert quota.figures.startswith(f"{sub.tokens_used:,} / 150,000")
        assert text(app, "quota-reset").startswith("Resets in ")
        assert text(app, "quota-projection").startswith("On pace to")
        gauge = app.screen.query_one("#rate-gauge", Gauge)
        percent = round(live.requests_per_minute / 100 * 100)
        assert gauge.figures.startswith(f"{live.requests_per_minute} / 100 · {percent} %")
        assert gauge.level == ("ok" if percent < 70 else "warn" if percent < 90 else "bad")
        assert f"last 15 min: {live.throttled_in_window:,}" in text(app, "live-throttled")
        assert not app.screen.query_one("#live-streams", Static).display
        assert "peak" in str(app.screen.query_one(".spark-axis", Static).render())


async def test_stream_plan_shows_stream_connections_and_messages(demo_app):
    app = demo_app("stream")
    async with app.run_test(size=SIZE) as pilot:
        await open_limits(pilot)
        streams = app.feeds.state("live").data.streams
        assert streams is not None
        line = text(app, "live-streams")
        assert app.screen.query_one("#live-streams", Static).display
        assert f"{streams.connections_open} / 10 connections" in line
        assert f"{streams.messages_per_minute:,} messages/min" in line
        assert "500 req/min · live streams (10 connections)" in text(app, "plan-terms")


async def test_free_plan_gauges_the_daily_quota_not_a_missing_limit(demo_app):
    app = demo_app("free")
    async with app.run_test(size=SIZE) as pilot:
        await open_limits(pilot)
        sub: Subscription = app.feeds.state("subscription").data
        gauge = app.screen.query_one("#rate-gauge", Gauge)
        assert gauge.label == "Daily quota"
        assert gauge.figures.startswith(f"{sub.tokens_used:,} / 100")
        assert "no per-minute limit" in text(app, "live-rate-note")
        assert "100 tokens/day · no per-minute limit" in text(app, "plan-terms")


async def test_pause_is_visible_and_plus_minus_change_the_live_interval(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_limits(pilot)
        await pilot.press("p")
        await pilot.pause()
        assert app.feeds.scheduler.paused
        assert "paused" in text(app, "live-status")
        panel = app.screen.query_one("#live-panel", DataPanel)
        assert "paused" in str(panel.border_subtitle)
        await pilot.press("p")
        await pilot.pause()
        assert "paused" not in text(app, "live-status")
        await pilot.press("plus")
        assert app.feeds.live_interval == 1.0 and app.feeds.scheduler.feeds["live"].interval == 1.0
        await pilot.press("plus")
        assert app.feeds.live_interval == 1.0, "never below 1 s"
        await pilot.press("minus", "minus", "minus")
        assert app.feeds.live_interval == 10.0
        for _ in range(10):
            await pilot.press("minus")
        assert app.feeds.live_interval == 60.0, "never above 60 s"


def live_at(rpm: int) -> FeedState:
    usage = LiveUsage(AT, rpm, 100, 15, (), 0, None)
    return FeedState("live", data=usage, updated_at=AT, interval=2.0)


@pytest.mark.parametrize("bell", [True, False])
async def test_alerts_notify_and_ring_once_per_crossing(bell, monkeypatch, demo_app):
    app = demo_app(settings=Settings(bell=bell))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rings = []
        monkeypatch.setattr(app, "bell", lambda: rings.append(1))
        before = len(app._notifications)
        for rpm in (50, 85, 88, 90, 86):
            app._on_feed_update(live_at(rpm))
        await pilot.pause()
        assert len(app._notifications) == before + 1
        assert len(rings) == (1 if bell else 0)
        app._on_feed_update(live_at(40))
        app._on_feed_update(live_at(105))
        await pilot.pause()
        assert len(app._notifications) == before + 2
        newest = list(app._notifications)[-1]
        assert newest.severity == "error" and "105 of 100 req/min" in newest.message


async def test_a_spent_quota_is_shown_with_its_reset_time(demo_app):
    app = demo_app()
    backend = app.runtime.demo_backend
    backend.set_fault(
        "/account/usage/live",
        402,
        {
            "error": "quota_exhausted",
            "message": "Monthly usage quota spent",
            "resets_at": "2026-12-01T00:00:00Z",
        },
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await wait_until(pilot, lambda: app.feeds.state("live").error is not None)
        await pilot.pause()
        panel = app.screen.query_one("#live-panel", DataPanel)
        assert "usage quota spent — resets at 2026-12-01 00:00 UTC" in str(panel.border_subtitle)
        assert "Usage quota spent" in str(panel._message.render())


def test_limits_screen_snapshot_surge(snap_compare, demo_app):
    async def run_before(pilot) -> None:
        await open_limits(pilot)

    assert snap_compare(demo_app("surge"), terminal_size=SIZE, run_before=run_before)


def test_limits_screen_snapshot_free_plan(snap_compare, demo_app):
    async def run_before(pilot) -> None:
        await open_limits(pilot)

    assert snap_compare(demo_app("free"), terminal_size=SIZE, run_before=run_before)


async def test_a_rejected_token_stops_polling_and_refresh_does_not_resend_it(demo_app):
    app = demo_app()
    backend = app.runtime.demo_backend
    backend.set_fault("/account/usage/live", 401)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await wait_until(pilot, lambda: app.feeds.scheduler.auth_failed is not None)
        served = backend.requests_served
        app.action_refresh()  # r (called directly: a login screen may be on top)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert backend.requests_served == served


@pytest.mark.parametrize("seed", [3, 7, 11])
async def test_pacing_names_no_busiest_minute_other_than_the_peak_above_it(demo_app, seed):
    # Screen 4 said 'peak 90/min at 14:53 UTC · limit 100' over the sparkline and 'busiest: 93/min'
    # in the pacing panel under it for the same 15 minutes (per-second vs per-bucket counting).
    import re

    app = demo_app("surge", seed=seed)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_limits(pilot)
        await wait_until(pilot, lambda: app.feeds.state("pacing").data is not None)
        axis = str(app.screen.query_one(".spark-axis", Static).render())
        peak = re.search(r"peak ([\d,]+)/min", axis).group(1)
        pacing = text(app, "pacing-advice")
        figures = set(re.findall(r"([\d,]+)/min", pacing)) - {"100", peak}
        figures -= set(re.findall(r"bucket of ([\d,]+)/min", pacing))
        assert not figures, f"peak {peak}/min above, pacing says {pacing!r}"
