"""Drill-down on screen 2: a cursor over the daily bars, the day's figures, Enter → endpoints."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest

from ht_dash.api import contract
from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.demo import DemoBackend
from ht_dash.feeds.registry import USAGE
from ht_dash.insights import format as fmt
from ht_dash.insights.metrics import find_incident
from ht_dash.meter.recorder import Record, Recorder
from ht_dash.meter.source import MeterSource
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app
from ht_dash.tui.screens.endpoints import EndpointsScreen
from ht_dash.tui.screens.metrics import MetricsScreen
from ht_dash.tui.widgets.bar_chart import BarChart

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def demo_app():
    runtime = Runtime(settings=Settings(), demo=True, clock=FixedClock(NOW), demo_seed=7)
    return make_app(runtime, live=False)


async def wait_for(pilot, predicate, what: str) -> None:
    for _ in range(300):
        await pilot.pause()
        if predicate():
            return
    raise AssertionError(f"never: {what}")


async def open_metrics(pilot) -> MetricsScreen:
    await pilot.press("2")
    screen = pilot.app.screen
    assert isinstance(screen, MetricsScreen)
    await wait_for(pilot, lambda: bool(screen.daily), "metrics")
    return screen


def day_line(screen) -> str:
    return str(screen.query_one("#metrics-day").content)


async def test_arrows_reach_the_incident_day_and_enter_shows_its_endpoints():
    app = demo_app()
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_metrics(pilot)
        incident = find_incident(screen.daily)
        assert incident is not None
        await pilot.press("left")  # the first press lands on the newest day
        assert screen.day_cursor == len(screen.daily) - 1
        for _ in range(len(screen.daily) - 1 - incident.index):
            await pilot.press("left")
        assert screen.day_cursor == incident.index
        day = screen.daily[incident.index]
        line = day_line(screen)
        assert fmt.day(day.date, weekday=True) in line and f"{day.rate_limited:,} 429s" in line
        assert screen.query_one("#chart-429", BarChart).cursor == incident.index
        await pilot.press("enter")
        endpoints = app.screen
        assert isinstance(endpoints, EndpointsScreen)
        await wait_for(pilot, lambda: endpoints.report is not None, "the day's endpoints")
        assert endpoints.report.date == day.date
        assert sum(e.requests for e in endpoints.report.endpoints) == day.requests
        assert fmt.day(day.date, weekday=True) in str(endpoints.query_one("#timeframes").content)
        await pilot.press("t")  # back to the timeframe it had
        assert app.feeds.param(USAGE, "date") is None
        assert app.feeds.param(USAGE, "timeframe") == "30d"


async def test_i_jumps_to_the_incident_and_a_click_picks_a_day():
    app = demo_app()
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_metrics(pilot)
        await pilot.press("i")
        assert screen.day_cursor == find_incident(screen.daily).index
        chart = screen.query_one("#chart-requests", BarChart)
        label_width, columns, slots = chart._layout
        await pilot.click("#chart-requests", offset=(label_width + slots[0].at, 3))
        assert columns[0].first <= screen.day_cursor <= columns[0].last


async def test_the_demo_serves_one_day_and_refuses_a_future_one():
    backend = DemoBackend(seed=7, clock=FixedClock(NOW), plan_id="surge")
    async with httpx.AsyncClient(
        transport=backend.transport(), base_url="https://demo.invalid/api/external"
    ) as http:
        headers = {"Authorization": f"Bearer {backend.token.reveal()}"}
        ok = await http.get(contract.ENDPOINT_USAGE, params={"date": "2026-11-20"}, headers=headers)
        future = await http.get(
            contract.ENDPOINT_USAGE, params={"date": "2026-11-26"}, headers=headers
        )
    report = contract.parse_endpoint_usage(ok.json())
    assert report.date == date(2026, 11, 20) and report.timeframe == "day"
    assert report.start == datetime(2026, 11, 20, tzinfo=UTC)
    assert report.end == datetime(2026, 11, 21, tzinfo=UTC)
    assert future.status_code == 400


async def test_the_meter_counts_only_that_day(tmp_path):
    path = tmp_path / "meter.sqlite3"
    day_start = datetime(2026, 11, 24, tzinfo=UTC).timestamp()
    with Recorder(path, retention_days=365_000) as recorder:
        for offset, p in ((-10, "/fills"), (10, "/fills"), (3600, "/info"), (86_400 + 5, "/fills")):
            recorder.add(Record(day_start + offset, "GET", p, 200, 5.0, 10, None, None))
    report = await MeterSource(path, clock=FixedClock(NOW)).endpoint_usage(date=date(2026, 11, 24))
    assert report.date == date(2026, 11, 24)
    assert {e.path: e.requests for e in report.endpoints} == {"/fills": 1, "/info": 1}


def test_a_cursor_is_drawn_in_its_own_style():
    chart = BarChart("x")
    chart.set_cursor(3)
    assert chart.cursor == 3
    with pytest.raises(ValueError):
        chart.show([1.0], [])
