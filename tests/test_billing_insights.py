"""Billing arithmetic from known inputs: money, countdown, pace, peak req/min, plan suggestion."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ht_dash.api.models import DailyMetric, LiveBucket, LiveUsage, Subscription
from ht_dash.api.plans import plan_by_id
from ht_dash.insights.billing import (
    Usage,
    add_months,
    advise,
    cheapest_fit,
    countdown,
    peak_per_minute,
    previous_period,
    projected_usage,
    requests_between,
)
from ht_dash.insights.format import duration

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def plan(plan_id: str):
    found = plan_by_id(plan_id)
    assert found is not None
    return found


def subscription(plan_id: str, used: int, start: datetime, end: datetime) -> Subscription:
    return Subscription(plan(plan_id), "active", used, start, end)


def daily(start: date, per_day: list[int], throttled: int = 0) -> list[DailyMetric]:
    return [
        DailyMetric(
            start + timedelta(days=i),
            requests=r,
            avg_latency_ms=100.0,
            errors=0,
            rate_limited=throttled,
        )
        for i, r in enumerate(per_day)
    ]


def live(per_bucket: list[int], *, current: int = 0, interval: int = 15) -> LiveUsage:
    at = NOW - timedelta(seconds=interval * len(per_bucket))
    series = tuple(
        LiveBucket(at + timedelta(seconds=interval * i), requests=r, throttled=0)
        for i, r in enumerate(per_bucket)
    )
    return LiveUsage(NOW, current, 100, interval, series, 0, None)


def test_countdown_to_a_day_reads_like_the_quota_reset():
    now = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    today = now.date()
    # The invoice on Dec 7 and a reset at its 00:00 UTC are the same distance away.
    assert countdown(date(2026, 12, 7), now) == "in 11 d 2 h"
    assert (
        countdown(date(2026, 12, 7), now)
        == f"in {duration(datetime(2026, 12, 7, tzinfo=UTC) - now)}"
    )
    assert [countdown(today + timedelta(days=d), now) for d in (0, 1, -1, -3)] == [
        "today",
        "in 2 h",
        "1 d 22 h ago",
        "3 d 22 h ago",
    ]


def test_previous_period_is_the_month_before_clamped():
    sub = subscription(
        "surge", 0, datetime(2026, 3, 31, tzinfo=UTC), datetime(2026, 4, 30, tzinfo=UTC)
    )
    assert previous_period(sub) == (date(2026, 2, 28), date(2026, 3, 31))
    assert add_months(date(2026, 1, 15), -2) == date(2025, 11, 15)
    free = subscription(
        "free", 0, datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    )
    assert previous_period(free) == (date(2026, 11, 24), date(2026, 11, 25))


def test_requests_between_needs_every_day():
    days = daily(date(2026, 10, 1), [100] * 31)
    assert requests_between(days, date(2026, 10, 1), date(2026, 10, 11)) == 1000
    assert requests_between(days, date(2026, 9, 30), date(2026, 10, 11)) is None  # not covered


def test_projection_follows_the_pace_but_not_from_minutes():
    sub = subscription(
        "surge", 40_000, datetime(2026, 11, 15, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC)
    )
    # 10.5 days of 30 gone → 40,000 × 30 / 10.5
    assert projected_usage(sub, NOW) == round(40_000 * 30 / 10.5)
    early = subscription("surge", 500, NOW - timedelta(minutes=10), NOW + timedelta(days=30))
    assert projected_usage(early, NOW) == round(500 * (30 * 86400 + 600) / 86400)


def test_peak_is_the_busiest_rolling_minute():
    # 15 s buckets: the busiest 4 consecutive buckets sum to 20 + 30 + 40 + 10 = 100
    assert peak_per_minute(live([5, 5, 20, 30, 40, 10, 5, 5])) == 100
    assert peak_per_minute(live([5, 5, 5, 5], current=130)) == 130  # the current rate can be higher
    assert peak_per_minute(live([10, 20])) == 80  # shorter than a minute: scaled bucket rate


def test_cheapest_fit_by_quota_and_rate():
    assert cheapest_fit(Usage(40_000, 50, 2_000)).id == "pulse"
    assert cheapest_fit(Usage(40_000, 80, 2_000)).id == "surge"  # rate beyond Pulse's 60
    assert cheapest_fit(Usage(160_000, 50, 6_000)).id == "flow"  # quota beyond Surge's 150,000
    assert cheapest_fit(Usage(2_500, 5, 90)).id == "free"
    assert cheapest_fit(Usage(2_500, 5, 140)).id == "pulse"  # one day above Free's 100/day
    assert cheapest_fit(Usage(3_000_000, 400, 100_000)).id == "enterprise"
    assert cheapest_fit(Usage(3_000_000, 400, 100_000), plans=[plan("pulse")]) is None


def test_pulse_account_outgrowing_its_rate_limit_is_told_surge():
    sub = subscription(
        "pulse", 20_000, datetime(2026, 11, 15, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC)
    )
    history = daily(date(2026, 9, 20), [1_000] * 67, throttled=120)  # 12 % throttled: sustained
    advice = advise(sub, history, live([20, 20, 20, 20], current=80), NOW)
    assert advice.last_period == (date(2026, 10, 15), date(2026, 11, 15))
    assert advice.last_period_used == 31_000
    assert (
        advice.lines[0]
        == "Last period (2026-10-15 – 2026-11-14): 62 % of Pulse's quota, 31,000 of 50,000 tokens."
    )
    assert advice.suggestion.id == "surge" and advice.verdict == "upgrade"
    assert advice.lines[-1].startswith("Suggested: Surge covers")
    assert advice.lines[-1].endswith("for $399.00/month (+$220.00/month).")


def test_occasional_bursts_advise_smoothing_not_an_upgrade():
    sub = subscription(
        "pulse", 15_000, datetime(2026, 11, 15, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC)
    )
    history = daily(date(2026, 9, 20), [1_000] * 67, throttled=10)  # 1 % throttled
    advice = advise(sub, history, live([20, 20, 20, 20], current=80), NOW)
    assert advice.verdict == "keep"
    assert (
        "cheaper to smooth out" in advice.lines[-1] and "Surge (+$220.00/month)" in advice.lines[-1]
    )


def test_within_the_limit_says_which_plan_is_needed_above_it():
    sub = subscription(
        "pulse", 15_000, datetime(2026, 11, 15, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC)
    )
    advice = advise(sub, daily(date(2026, 9, 20), [1_000] * 67), live([5, 5, 5, 5]), NOW)
    assert "Surge would be needed above 60 req/min" in advice.lines[2]
    assert advice.lines[-1] == "Pulse fits 42,857 tokens/month at 20 req/min, close to the quota."


def test_small_surge_account_is_told_it_could_save():
    sub = subscription(
        "surge", 8_000, datetime(2026, 11, 15, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC)
    )
    advice = advise(sub, daily(date(2026, 9, 20), [700] * 67), live([5, 5, 5, 5]), NOW)
    assert advice.verdict == "downgrade" and advice.suggestion.id == "pulse"
    assert advice.lines[-1].endswith("saving $220.00/month).")


def test_free_plan_close_to_its_daily_quota_names_pulse():
    sub = subscription(
        "free", 60, datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    )
    advice = advise(sub, daily(date(2026, 10, 25), [95] * 31), None, NOW)
    assert advice.lines[0] == "Yesterday (2026-11-24): 95 % of Free's quota, 95 of 100 tokens."
    assert advice.suggestion.id == "free"
    assert "above 100 tokens a day Pulse would be needed ($179.00/month)" in advice.lines[-1]


def test_without_history_the_advice_uses_this_period_only():
    sub = subscription(
        "surge", 60_000, datetime(2026, 11, 15, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC)
    )
    advice = advise(sub, (), None, NOW)
    assert advice.last_period is None
    assert advice.lines[0].startswith(
        "This period: 60,000 tokens so far, on pace for 171,429 (114 %)"
    )
    assert advice.suggestion.id == "flow"
