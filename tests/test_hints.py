"""Optimisation hints from known usage: the advice a user would act on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ht_dash.api.models import EndpointUsage, EndpointUsageReport
from ht_dash.insights.hints import (
    cadence_for,
    compute_hints,
    hints_for_report,
    round_figure,
    total_saving_per_day,
)


def ep(path, *, requests=1000, errors=0, throttled=0, interval=None, per_hour=0.0, method="GET"):
    return EndpointUsage(method, path, requests, errors, throttled, 100.0, per_hour, interval)


def test_heatmap_polled_every_20s_is_told_to_use_state_status_and_saving():
    # Called every 20 s all day: 4,320 calls/day; the data changes every 15 min at best.
    heatmap = ep("/positions/heatmap", requests=4320, interval=20.0, per_hour=180)
    [hint] = compute_hints([heatmap], window_hours=24)
    assert hint.kind == "polling"
    assert hint.severity == "high"
    assert hint.saving_per_day == 4200  # 4,320 * (1 - 20/900) = 4,224 -> ~4,200
    assert hint.advice == (
        "/positions/heatmap is called every 20 s while in use; its data changes every 15–30 min "
        "— poll /hypertracker/state/status (nextUpdate) or use the state webhook, "
        "saving ~4,200 calls/day."
    )


def test_saving_is_per_day_whatever_the_window():
    heatmap = ep("/positions/heatmap", requests=4320 * 30, interval=20.0)
    [hint] = compute_hints([heatmap], window_hours=30 * 24)
    assert hint.saving_per_day == 4200


def test_interval_falls_back_to_calls_per_hour():
    general = ep("/position-metrics/general", requests=2880, interval=None, per_hour=120)
    [hint] = compute_hints([general], window_hours=24)
    assert "called every 30 s while in use; its data changes every 10 min" in hint.advice
    assert hint.saving_per_day == 2700  # 2,880 * (1 - 30/600) = 2,736


def test_endpoint_polled_about_as_often_as_its_data_changes_is_left_alone():
    snapshots = ep("/orders/5m-snapshots/{coin}", requests=288, interval=300.0)
    leaderboard = ep("/leaderboards/perp-pnl", requests=96, interval=900.0)
    assert compute_hints([snapshots, leaderboard], window_hours=24) == []


def test_bias_history_uses_its_own_cadence_not_the_segments_one():
    assert cadence_for("/segments/{id}/bias-history").family == "bias-history"
    assert cadence_for("/segments/{id}/positions").family == "state"
    assert cadence_for("/v2/positions/heatmap").family == "state"
    assert cadence_for("/segments") is None
    assert cadence_for("/hypertracker/state/status") is None


def test_closed_trades_polled_often_get_a_cache_hint_without_a_made_up_saving():
    trades = ep("/closed-trades", requests=21600, interval=4.0)
    [hint] = compute_hints([trades], window_hours=24)
    assert hint.kind == "cache"
    assert "never change once written — cache them" in hint.advice
    assert hint.saving_per_day is None


def test_endpoint_with_many_429s_is_flagged_with_rate_and_share():
    endpoints = [
        ep("/fills/liquidation", requests=1000, throttled=200, interval=600.0),
        ep("/info", method="POST", requests=9000, throttled=20, interval=600.0),
    ]
    hints = compute_hints(endpoints, window_hours=24)
    [hint] = [h for h in hints if h.kind == "throttled"]
    assert hint.path == "/fills/liquidation"
    assert hint.severity == "high"
    assert hint.advice.startswith(
        "20 % of calls to /fills/liquidation got a 429 (200, 91 %"
    )


def test_low_rate_but_most_of_the_accounts_errors_is_flagged():
    endpoints = [
        ep("/wallets", requests=1000, errors=40, interval=600.0),  # 4 %, but 80 % of all errors
        ep("/events", requests=20000, errors=10, interval=600.0),
    ]
    [hint] = compute_hints(endpoints, window_hours=24)
    assert (hint.kind, hint.path, hint.severity) == ("errors", "/wallets", "medium")
    assert "4.0 % of calls to /wallets failed (40 errors, 80 % of all your errors)" in hint.advice


def test_a_handful_of_errors_is_noise():
    endpoints = [ep("/wallets", requests=50, errors=5, interval=600.0)]
    assert compute_hints(endpoints, window_hours=24) == []


def test_hints_are_ordered_by_severity_then_saving():
    endpoints = [
        ep("/position-metrics/general", requests=600, interval=240.0),  # medium
        ep("/positions/heatmap", requests=4320, interval=20.0),  # high, 4,200
        ep("/leaderboards/perp-pnl", requests=1440, interval=60.0),  # high, 1,300
    ]
    hints = compute_hints(endpoints, window_hours=24)
    assert [h.path for h in hints] == [
        "/positions/heatmap",
        "/leaderboards/perp-pnl",
        "/position-metrics/general",
    ]
    assert total_saving_per_day(hints) == 4200 + 1300 + 360


def test_report_window_sets_the_per_day_rate():
    start = datetime(2026, 11, 1, tzinfo=UTC)
    report = EndpointUsageReport(
        "week",
        start,
        start + timedelta(days=2),
        (ep("/positions/heatmap", requests=8640, interval=20.0),),
    )
    [hint] = hints_for_report(report)
    assert hint.saving_per_day == 4200


def test_round_figure():
    assert [round_figure(v) for v in (42.4, 4224, 12_760, 999)] == [42, 4200, 13000, 1000]
