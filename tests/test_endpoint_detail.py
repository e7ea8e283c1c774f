"""Enter on a row of screen 3: the endpoint in full with its daily series over the same window,
from every source (demo backend, local meter, the chain), or "not offered" inside its panel."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ht_dash.api.errors import NotOffered
from ht_dash.clock import FixedClock
from ht_dash.demo import DemoBackend
from ht_dash.meter.recorder import Record, Recorder
from ht_dash.meter.source import MeterSource
from ht_dash.tui.screens.endpoint_detail import EndpointDetailScreen
from ht_dash.tui.widgets.bar_chart import BarChart
from ht_dash.tui.widgets.panel import DataPanel
from test_endpoints_screen import open_endpoints
from ui_harness import wait_until

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


async def open_detail(pilot, rows_down: int) -> EndpointDetailScreen:
    screen = await open_endpoints(pilot)
    await pilot.press(*["j"] * rows_down)
    key = screen.table.coordinate_to_cell_key((screen.table.cursor_row, 0)).row_key.value
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, EndpointDetailScreen))
    detail = pilot.app.screen
    await wait_until(pilot, lambda: detail.daily is not None, what="the endpoint's days")
    await pilot.pause()
    assert detail.endpoint.key == key
    return detail


async def test_enter_on_a_row_shows_its_days_adding_up_to_the_row(demo_app):
    app = demo_app(at=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_detail(pilot, 2)
        row = detail.endpoint
        requests = detail.query_one("#endpoint-chart-requests", BarChart)
        assert sum(requests.values) == row.requests  # the chart and the row agree
        assert len(requests.dates) == 30 and requests.dates[-1] == NOW.date()  # "Last 30 days"
        # Screen 2's note, not a total: fetched after the row, a live total read 32,169 under
        # 'Requests 32,168' once the clock had moved.
        title = requests.render().plain.splitlines()[0]
        top = round(max(requests.values))
        assert f"max {top:,}" in title and "total" not in title
        errors = detail.query_one("#endpoint-chart-errors", BarChart)
        throttled = detail.query_one("#endpoint-chart-429", BarChart)
        assert (sum(errors.values), sum(throttled.values)) == (row.errors, row.throttled)
        await pilot.press("escape")
        await pilot.press("t")  # another window on screen 3: the detail follows it
        await wait_until(pilot, lambda: app.screen.report.timeframe == "90d")
        detail = await open_detail(pilot, 0)
        requests = detail.query_one("#endpoint-chart-requests", BarChart)
        assert len(requests.dates) == 90 and sum(requests.values) == detail.endpoint.requests


async def test_a_source_that_does_not_offer_it_says_so_in_the_panel(demo_app):
    app = demo_app(at=NOW)

    async def not_offered(method, path, timeframe="30d", date=None):
        raise NotOffered("the API does not offer daily endpoint usage to tokens", status=404)

    app.feeds.source.endpoint_daily = not_offered
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_endpoints(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EndpointDetailScreen))
        panel = app.screen.query_one("#endpoint-daily", DataPanel)
        message = panel.query_one(".panel-message")
        await wait_until(pilot, lambda: "Not offered" in str(message.render()))
        assert "does not offer daily endpoint usage" in str(message.render())
        assert panel.has_class("-nodata") and not panel.has_class("-error")
        assert "Avg latency" in str(app.screen.query_one("#endpoint-fields").render())
        await pilot.press("escape")
        assert app.screen is screen


def test_the_demo_spreads_every_row_over_its_days_exactly():
    backend = DemoBackend(seed=7, clock=FixedClock(NOW))
    for timeframe in ("today", "week", "month", "30d", "90d"):
        for row in backend.traffic.endpoint_usage(timeframe, NOW).endpoints:
            days = backend.traffic.endpoint_daily(row.method, row.path, timeframe, NOW).daily
            assert sum(d.requests for d in days) == row.requests
            assert sum(d.errors for d in days) == row.errors
            assert sum(d.rate_limited for d in days) == row.throttled
            assert all(d.errors + d.rate_limited <= d.requests for d in days)


def meter_records() -> list[Record]:
    """Three days of /fills (a 500 and a 429 among them) and one /info call, around midnights."""
    t = NOW.timestamp()

    def rec(ago_s: float, path: str = "/fills", status: int = 200, latency: float = 10.0):
        return Record(t - ago_s, "GET", path, status, latency, 10, None, "ab12cd34")

    day = 86_400
    return [
        rec(2 * day + 60, latency=30.0),  # Nov 23, 13:59
        rec(2 * day + 50, status=500, latency=50.0),
        rec(day + 14 * 3600 - 1),  # Nov 24, 00:00:01
        rec(day, status=429, latency=20.0),
        rec(3 * 3600 + 10),  # today
        rec(5),  # today, in the raw edge
        rec(100, path="/info"),
        rec(40 * day),  # before the 30-day window
    ]


@pytest.fixture
def meter_path(tmp_path):
    path = tmp_path / "meter.sqlite3"
    with Recorder(path, retention_days=365_000) as recorder:
        for record in meter_records():
            recorder.add(record)
    return path


async def test_the_meter_sums_its_days_to_the_endpoint_row(meter_path):
    source = MeterSource(meter_path, clock=FixedClock(NOW))
    for timeframe in ("today", "week", "30d", "90d"):
        row = next(
            e for e in (await source.endpoint_usage(timeframe)).endpoints if e.path == "/fills"
        )
        days = (await source.endpoint_daily("GET", "/fills", timeframe)).daily
        assert sum(d.requests for d in days) == row.requests, timeframe
        assert sum(d.errors for d in days) == row.errors
        assert sum(d.rate_limited for d in days) == row.throttled
    days = (await source.endpoint_daily("GET", "/fills", "30d")).daily
    # "Last 30 days" is the 30 UTC days the metrics count (it was a rolling 720 h: 31 days)
    metric_days = [d.date for d in (await source.metrics(30)).daily]
    assert [d.date for d in days] == metric_days and len(days) == 30
    # 90 days reach back before the meter's first record: those days are unknown, not 0
    ninety = await source.endpoint_daily("GET", "/fills", "90d")
    assert ninety.daily[0].date == date(2026, 10, 16)
    by_day = {d.date: d for d in days}
    assert by_day[date(2026, 11, 23)].requests == 2 and by_day[date(2026, 11, 23)].errors == 1
    assert by_day[date(2026, 11, 23)].avg_latency_ms == 40.0
    assert by_day[date(2026, 11, 24)].requests == 2 and by_day[date(2026, 11, 24)].rate_limited == 1
    assert by_day[date(2026, 11, 25)].requests == 2
    one_day = await source.endpoint_daily("GET", "/fills", date=date(2026, 11, 23))
    assert [(d.date, d.requests) for d in one_day.daily] == [(date(2026, 11, 23), 2)]
    other_token = MeterSource(meter_path, clock=FixedClock(NOW), token_fp="00000000")
    assert not any(d.requests for d in (await other_token.endpoint_daily("GET", "/fills")).daily)


def test_endpoint_detail_snapshot_80x24(snap_compare, demo_app):
    async def run_before(pilot) -> None:
        await open_detail(pilot, 2)

    assert snap_compare(demo_app(at=NOW), terminal_size=(80, 24), run_before=run_before)
