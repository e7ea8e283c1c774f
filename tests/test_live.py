"""Screen 4's arithmetic: quota projection, gauge colours, alerts once per crossing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ht_dash.api.models import LiveBucket, LiveUsage, Subscription
from ht_dash.api.plans import plan_by_id
from ht_dash.insights.format import duration
from ht_dash.insights.live import (
    AlertMonitor,
    LivePeak,
    gauge_level,
    live_peak,
    project_quota,
    rate_fraction,
)

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
PERIOD_START = datetime(2026, 11, 1, tzinfo=UTC)
RESETS = datetime(2026, 12, 1, tzinfo=UTC)


def sub(used: int, plan: str = "surge", start=PERIOD_START, resets=RESETS) -> Subscription:
    found = plan_by_id(plan)
    assert found is not None
    return Subscription(found, "active", used, start, resets)


def live(rpm: int, limit: int | None = 100, rates=(40, 60, 120, 80)) -> LiveUsage:
    start = NOW - timedelta(seconds=15 * len(rates))
    series = tuple(
        LiveBucket(start + timedelta(seconds=15 * i), r // 4, 0) for i, r in enumerate(rates)
    )
    return LiveUsage(NOW, rpm, limit, 15, series, 3, None)


# ---- projection ----------------------------------------------------------------------------


def test_a_fast_pace_runs_out_before_the_reset_and_says_when():
    # 9.5 days into the month, 90,000 of 150,000 spent: ~9,474 a day -> the rest lasts ~6.3 d
    projection = project_quota(sub(90_000), NOW)
    assert projection.runs_out_at is not None
    expected = NOW + timedelta(days=60_000 / (90_000 / 9.5))
    assert abs((projection.runs_out_at - expected).total_seconds()) < 1
    assert projection.runs_out_at.date().isoformat() == "2026-11-16"
    assert projection.sentence == "on pace to run out 2026-11-16, 14 d 4 h before reset"
    assert duration(projection.resets_in) == "20 d 12 h"


def test_a_slow_pace_says_how_much_will_be_used_by_the_reset():
    # 30,000 in 9.5 days of a 30-day month: 30,000 * 30 / 9.5 = 94,737 -> 63 % of 150,000
    projection = project_quota(sub(30_000), NOW)
    assert projection.runs_out_at is None
    assert projection.projected_fraction == pytest.approx(30_000 * 30 / 9.5 / 150_000)
    assert projection.sentence == "on pace to use 63 % by the reset"


def test_a_spent_quota_and_an_idle_period_and_too_early_are_said_plainly():
    assert project_quota(sub(150_000), NOW).spent
    assert "quota spent" in project_quota(sub(150_000), NOW).sentence
    assert project_quota(sub(0), NOW).sentence == "no usage yet this period"
    early = project_quota(sub(500, start=NOW - timedelta(minutes=5)), NOW)
    assert early.runs_out_at is None and "too early" in early.sentence


def test_free_plan_daily_quota_projects_to_the_hour():
    day_start = datetime(2026, 11, 10, tzinfo=UTC)
    resets = day_start + timedelta(days=1)
    # 60 of 100 tokens by noon: out at 20:00, 4 hours before midnight
    projection = project_quota(sub(60, "free", day_start, resets), NOW)
    assert projection.runs_out_at == datetime(2026, 11, 10, 20, 0, tzinfo=UTC)
    assert projection.sentence == "on pace to run out 2026-11-10 20:00 UTC, 4 h before reset"


# ---- gauge ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fraction", "level"),
    [(0.0, "ok"), (0.699, "ok"), (0.70, "warn"), (0.899, "warn"), (0.90, "bad"), (1.3, "bad")],
)
def test_gauge_colour_bands(fraction, level):
    assert gauge_level(fraction) == level


def test_no_limit_means_no_gauge_fraction():
    assert rate_fraction(live(30, limit=None)) is None
    assert gauge_level(None) == "none"
    assert rate_fraction(live(72)) == pytest.approx(0.72)


def test_peak_is_the_busiest_minute_as_the_limit_counts_it_not_one_bucket_times_four():
    # One 15 s bucket at a 120/min pace is a burst, not a minute over the limit of 100: the
    # minute ending with it holds 10 + 15 + 30 + 20 = 75 requests (screen 4 said "peak 120").
    peak = live_peak(live(50, rates=(40, 60, 120, 80)))
    assert peak.per_minute == 75
    assert peak.at == NOW
    busier = live_peak(live(50, rates=(40, 60, 120, 80, 100, 120, 40)))
    assert busier.per_minute == (120 + 80 + 100 + 120) // 4
    assert busier.at == NOW - timedelta(seconds=15)
    assert live_peak(live(90, rates=(40, 40, 40, 40))) == LivePeak(90, None)  # current is higher


def test_the_limits_and_billing_screens_share_one_peak():
    from ht_dash.insights.billing import peak_per_minute

    for rates in ((40, 60, 120, 80), (10, 20), (100, 100, 100, 100, 0)):
        sample = live(30, rates=rates)
        assert peak_per_minute(sample) == live_peak(sample).per_minute


# ---- alerts --------------------------------------------------------------------------------


def test_rate_alert_fires_once_per_crossing_and_rearms_below():
    monitor = AlertMonitor()
    fired = [monitor.observe_live(live(rpm)) for rpm in (50, 79, 81, 85, 90, 82, 81)]
    flat = [a for batch in fired for a in batch]
    assert len(flat) == 1
    assert flat[0].threshold == 0.8 and flat[0].severity == "warning"
    assert "81 of 100 req/min" in flat[0].message
    # hovering at the line does not ring again; falling clearly below re-arms
    assert monitor.observe_live(live(78)) == []
    assert monitor.observe_live(live(81)) == []
    assert monitor.observe_live(live(60)) == []
    again = monitor.observe_live(live(83))
    assert len(again) == 1 and again[0].threshold == 0.8


def test_jumping_past_both_thresholds_gives_one_alert_for_the_limit():
    monitor = AlertMonitor()
    alerts = monitor.observe_live(live(130))
    assert len(alerts) == 1
    assert alerts[0].threshold == 1.0 and alerts[0].severity == "error"
    assert "at the limit" in alerts[0].title
    assert monitor.observe_live(live(120)) == []
    assert monitor.observe_live(live(90)) == []  # back below 100 %, still above 80 %
    assert [a.threshold for a in monitor.observe_live(live(101))] == [1.0]


def test_quota_alerts_use_the_subscription_and_free_plans_alert_on_their_daily_quota():
    monitor = AlertMonitor()
    assert monitor.observe_subscription(sub(100_000)) == []
    first = monitor.observe_subscription(sub(121_000))
    assert [a.threshold for a in first] == [0.8]
    assert "121,000 of 150,000 tokens this month" in first[0].message
    assert monitor.observe_subscription(sub(125_000)) == []
    assert [a.threshold for a in monitor.observe_subscription(sub(150_000))] == [1.0]
    free = AlertMonitor()
    day = datetime(2026, 11, 10, tzinfo=UTC)
    alerts = free.observe_subscription(sub(85, "free", day, day + timedelta(days=1)))
    assert "85 of 100 tokens today" in alerts[0].message
    # the Free plan has no per-minute limit: never a rate alert
    assert free.observe_live(live(500, limit=None)) == []


def test_rate_and_quota_are_tracked_apart():
    monitor = AlertMonitor()
    assert len(monitor.observe_live(live(85))) == 1
    assert len(monitor.observe_subscription(sub(130_000))) == 1
    assert monitor.observe_live(live(86)) == []


def test_a_tiny_pace_on_a_huge_quota_does_not_overflow_the_projection():
    # One usage token counted by the local meter, early in a Stream period (2,000,000 tokens):
    # the run-out instant would be ~9,500 years away, past what a datetime can hold.
    plan = plan_by_id("stream")
    now = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    sub = Subscription(plan, "declared", 1, start, datetime(2027, 1, 1, tzinfo=UTC))
    projection = project_quota(sub, now)
    assert projection.runs_out_at is None
    assert projection.sentence == "on pace to use 0 % by the reset"
