"""MeterSource: the account-source interface computed from recorded requests, at a fixed clock."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta

import pytest

from ht_dash.api.errors import BadRequest, ConfigError, NotAvailable
from ht_dash.clock import FixedClock
from ht_dash.meter.recorder import Record, Recorder
from ht_dash.meter.source import MeterSource, set_plan
from ht_dash.meter.templates import path_template

NOW = datetime(2025, 3, 12, 12, 0, 30, tzinfo=UTC)  # a Wednesday
T = NOW.timestamp()
KEEP_FOREVER = 365_000  # retention is relative to the real time; keep 2025 rows in any year


def rec(ago_s: float, path: str, status: int = 200, latency: float = 10.0, method: str = "GET"):
    return Record(
        T - ago_s, method, path, status, latency, 100, 42.0 if status == 429 else None, "ab12cd34"
    )


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "meter.sqlite3"
    records = [
        # /segments/{id}/summary: 3 calls this hour, 10 s and 20 s apart: 200, 429, 500
        rec(30, "/segments/{id}/summary", 200, 10.0),
        rec(20, "/segments/{id}/summary", 429, 20.0),
        rec(0, "/segments/{id}/summary", 500, 30.0),
        # /positions: 2 calls in two different clock hours today, 3,600 s apart
        rec(100, "/positions", 200, 5.0),
        rec(3700, "/positions", 200, 7.0),
        # POST /info once, 90 s ago (outside the last minute)
        rec(90, "/info", 201, 50.0, method="POST"),
        # yesterday and 10 days ago: not "today", still in "30d"
        rec(86400, "/positions", 200, 9.0),
        rec(10 * 86400, "/positions", 404, 11.0),
        # 40 days ago: only in "90d" (and in last month)
        rec(40 * 86400, "/segments", 200, 1.0),
    ]
    with Recorder(path, retention_days=KEEP_FOREVER) as recorder:
        for record in records:
            recorder.add(record)
    return path


def source(db, **kwargs) -> MeterSource:
    return MeterSource(db, clock=FixedClock(NOW), **kwargs)


async def test_endpoint_usage_today(db):
    report = await source(db).endpoint_usage("today")
    assert report.timeframe == "today"
    assert report.start == datetime(2025, 3, 12, tzinfo=UTC) and report.end == NOW
    by_key = {e.key: e for e in report.endpoints}
    assert list(by_key) == ["GET /segments/{id}/summary", "GET /positions", "POST /info"]
    seg = by_key["GET /segments/{id}/summary"]
    assert (seg.requests, seg.errors, seg.throttled) == (3, 1, 1)
    assert seg.avg_latency_ms == pytest.approx(20.0)
    assert seg.mean_interval_s == pytest.approx(15.0)
    assert seg.calls_per_hour == pytest.approx(3.0)
    pos = by_key["GET /positions"]
    assert (pos.requests, pos.errors, pos.throttled) == (2, 0, 0)
    assert pos.calls_per_hour == pytest.approx(1.0)  # 2 calls in 2 distinct hours
    assert pos.mean_interval_s == pytest.approx(3600.0)
    info = by_key["POST /info"]
    assert info.requests == 1 and info.mean_interval_s is None


async def test_endpoint_usage_timeframes(db):
    meter = source(db)
    totals = {}
    for timeframe in ("today", "week", "month", "30d", "90d"):
        report = await meter.endpoint_usage(timeframe)
        totals[timeframe] = sum(e.requests for e in report.endpoints)
    # week: since Monday 10 March (yesterday included); month: since 1 March.
    assert totals == {"today": 6, "week": 7, "month": 8, "30d": 8, "90d": 9}
    report = await meter.endpoint_usage("30d")
    positions = next(e for e in report.endpoints if e.path == "/positions")
    assert (positions.requests, positions.errors) == (4, 1)  # the 404 is an error
    with pytest.raises(BadRequest):
        await meter.endpoint_usage("year")


async def test_latency_percentiles(db):
    percentiles = await source(db).latency_percentiles("today")
    assert percentiles["GET /segments/{id}/summary"] == (20.0, 30.0, 30.0)
    assert percentiles["GET /positions"] == (5.0, 7.0, 7.0)
    assert percentiles["POST /info"] == (50.0, 50.0, 50.0)


async def test_live_counts_the_last_60_seconds_exactly_and_buckets_the_window(db):
    live = await source(db).live(window_minutes=15)
    assert live.at == NOW
    assert live.requests_per_minute == 3  # 30 s, 20 s and 0 s ago; not 90 s or 100 s ago
    assert live.limit_per_minute == 60  # Pulse unless told otherwise
    assert live.interval_seconds == 15
    assert len(live.series) == 60
    assert live.series[-1].at == datetime(2025, 3, 12, 12, 0, 30, tzinfo=UTC)
    assert live.series[0].at == live.series[-1].at - timedelta(seconds=15 * 59)
    assert sum(b.requests for b in live.series) == 5  # everything in the last 15 minutes
    assert live.throttled_in_window == 1
    assert live.streams is None
    by_start = {b.at.time(): (b.requests, b.throttled) for b in live.series if b.requests}
    assert by_start == {
        time(11, 58, 45): (1, 0),  # 100 s ago
        time(11, 59, 0): (1, 0),  # 90 s ago
        time(12, 0, 0): (2, 1),  # 30 s and 20 s ago (the 429)
        time(12, 0, 30): (1, 0),  # now
    }


async def test_live_at_one_second_resolution(db):
    live = await source(db).live(window_minutes=1, interval_seconds=1)
    assert len(live.series) == 60 and live.interval_seconds == 1
    assert live.series[-1].at == NOW
    counts = {
        int((NOW - b.at).total_seconds()): (b.requests, b.throttled)
        for b in live.series
        if b.requests
    }
    assert counts == {0: (1, 0), 20: (1, 1), 30: (1, 0)}
    with pytest.raises(BadRequest):
        await source(db).live(window_minutes=0)


async def test_metrics_from_daily_aggregates(db):
    metrics = await source(db).metrics(days=30)
    assert metrics.start == date(2025, 2, 11) and metrics.end == date(2025, 3, 12)
    days = {d.date: d for d in metrics.daily}
    assert days[date(2025, 3, 12)].requests == 6
    assert days[date(2025, 3, 12)].errors == 1 and days[date(2025, 3, 12)].rate_limited == 1
    assert days[date(2025, 3, 12)].avg_latency_ms == pytest.approx((10 + 20 + 30 + 5 + 7 + 50) / 6)
    assert days[date(2025, 3, 2)].errors == 1  # the 404
    assert days[date(2025, 3, 5)].requests == 0  # a quiet day inside the recorded span is zero
    # The meter started 40 days ago, so all 30 days are covered.
    assert len(metrics.daily) == 30
    assert metrics.summary.avg_daily_requests == pytest.approx(8 / 30)
    assert metrics.summary.error_rate == pytest.approx(2 / 8)
    assert metrics.summary.rate_limit_hits == 1
    assert metrics.previous_summary is not None
    # The previous 30 days are covered from the first record (31 Jan) to 10 Feb: 11 days.
    assert metrics.previous_summary.avg_daily_requests == pytest.approx(1 / 11)
    with pytest.raises(BadRequest):
        await source(db).metrics(days=400)


async def test_metrics_skip_days_before_the_meter_existed(tmp_path):
    path = tmp_path / "meter.sqlite3"
    with Recorder(path, retention_days=KEEP_FOREVER) as recorder:
        recorder.add(rec(86400, "/positions"))
        recorder.add(rec(0, "/positions"))
    metrics = await source(path).metrics(days=90)
    assert [d.date for d in metrics.daily] == [date(2025, 3, 11), date(2025, 3, 12)]
    assert metrics.summary.avg_daily_requests == pytest.approx(1.0)
    assert metrics.previous_summary is None


async def test_subscription_counts_2xx_against_the_plan_quota(db):
    sub = await source(db).subscription()
    assert sub.plan.id == "pulse" and sub.plan.quota == 50_000
    # 2xx since 1 March: 200, 200, 200, 201, 200 (yesterday); not the 429, 500 or 404.
    assert sub.tokens_used == 5
    assert sub.period_start == datetime(2025, 3, 1, tzinfo=UTC)
    assert sub.resets_at == datetime(2025, 4, 1, tzinfo=UTC)

    set_plan("free", db)
    free = await source(db).subscription()
    assert free.plan.id == "free" and free.plan.quota_period == "day"
    assert free.tokens_used == 4
    assert free.resets_at == datetime(2025, 3, 13, tzinfo=UTC)
    assert (await source(db).live()).limit_per_minute is None
    assert (await source(db, plan_id="stream").subscription()).plan.rate_limit_per_minute == 500
    with pytest.raises(ConfigError, match="known plans"):
        set_plan("platinum", db)


async def test_what_the_meter_cannot_know_says_so_and_points_to_the_api(db):
    meter = source(db)
    for call in (
        meter.profile,
        meter.token_info,
        meter.regenerate_token,
        meter.next_billing,
        meter.history,
    ):
        with pytest.raises(NotAvailable) as info:
            await call()
        assert "meter cannot know" in info.value.message
        assert "without --source meter" in info.value.hint
    with pytest.raises(NotAvailable):
        async for _ in meter.iter_history():
            pass


async def test_no_database_yet_says_how_to_start_the_meter(tmp_path):
    meter = MeterSource(tmp_path / "absent.sqlite3", clock=FixedClock(NOW))
    with pytest.raises(NotAvailable, match="recorded nothing yet") as info:
        await meter.live()
    assert "ht-dash meter" in info.value.hint
    assert not (tmp_path / "absent.sqlite3").exists()


def test_open_default_uses_the_data_dir(isolated_home):
    meter = MeterSource.open_default()
    assert meter.path == isolated_home / "data" / "meter.sqlite3"
    assert meter.name == "meter"


@pytest.mark.parametrize(
    ("target", "template"),
    [
        ("/api/external/segments/9/summary", "/segments/{id}/summary"),
        ("/api/external/segments/4/summary?limit=5&apiKey=abc", "/segments/{id}/summary"),
        ("/api/external/segments/4/bias-history", "/segments/{id}/bias-history"),
        ("/api/external/wallets/0x" + "ab" * 20 + "/positions", "/wallets/{address}/positions"),
        ("/api/external/position-metrics/coin/BTC", "/position-metrics/coin/{coin}"),
        ("/api/external/position-metrics/coin/kPEPE", "/position-metrics/coin/{coin}"),
        ("/api/external/7/assets/liquidation-risk", "/{id}/assets/liquidation-risk"),
        ("/api/external/fills/2025-03-12", "/fills/{date}"),
        ("/api/external/x/550e8400-e29b-41d4-a716-446655440000", "/x/{uuid}"),
        ("/api/external/tx/0x" + "f" * 64, "/tx/{hash}"),
        ("/api/external/leaderboards/perp-pnl", "/leaderboards/perp-pnl"),
        ("/api/external/orders/5m-snapshots/latest", "/orders/5m-snapshots/latest"),
        ("/api/external", "/"),
        ("/api/external-json", "/api/external-json"),
        ("/api/external/price/1.25", "/price/{number}"),
        ("/api/external/a/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "/a/{token}"),
    ],
)
def test_path_templates(target, template):
    assert path_template(target) == template


def test_meter_never_imports_textual():
    code = (
        "import sys, ht_dash.meter.proxy, ht_dash.meter.source, ht_dash.meter.recorder, "
        "ht_dash.meter.bench, ht_dash.commands.meter\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
