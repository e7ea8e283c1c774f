"""Metrics arithmetic and chart layout from known inputs (no Textual screen involved)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ht_dash.api.models import DailyMetric, MetricsSummary
from ht_dash.insights.metrics import (
    find_incident,
    next_period,
    peak,
    point_change,
    relative_change,
    summary_cards,
)
from ht_dash.tui.widgets.bar_chart import (
    axis_scale,
    bar_column,
    bucket_columns,
    column_slots,
    date_axis,
)


def test_relative_change_direction_and_verdict():
    up = relative_change(120, 100, better="lower")
    assert (up.direction, up.verdict, up.text) == ("up", "bad", "▲ 20 %")
    down = relative_change(95, 100, better="lower")
    assert (down.direction, down.verdict, down.text) == ("down", "good", "▼ 5.0 %")
    more_traffic = relative_change(300, 100, better="neither")
    assert (more_traffic.verdict, more_traffic.text) == ("neutral", "▲ 200 %")


def test_relative_change_flat_and_from_zero():
    assert relative_change(100.2, 100, better="lower").text == "= no change"
    assert relative_change(0, 0, better="lower").direction == "flat"
    fresh = relative_change(5, 0, better="lower")
    assert (fresh.text, fresh.verdict) == ("▲ from 0", "bad")


def test_error_rate_changes_in_percentage_points():
    better = point_change(0.009, 0.012, better="lower")
    assert (better.text, better.verdict) == ("▼ 0.30 pp", "good")
    assert point_change(0.01201, 0.012, better="lower").text == "= no change"


def test_summary_cards_compare_with_previous_period():
    now = MetricsSummary(
        avg_daily_requests=3000, avg_latency_ms=150, error_rate=0.02, rate_limit_hits=50
    )
    before = MetricsSummary(
        avg_daily_requests=2000, avg_latency_ms=200, error_rate=0.01, rate_limit_hits=100
    )
    cards = summary_cards(now, before)
    assert [c.value for c in cards] == ["3,000", "150 ms", "2.00 %", "50"]
    assert [c.change.text for c in cards] == ["▲ 50 %", "▼ 25 %", "▲ 1.00 pp", "▼ 50 %"]
    assert [c.change.verdict for c in cards] == ["neutral", "good", "bad", "good"]


def test_summary_cards_without_previous_period():
    now = MetricsSummary(
        avg_daily_requests=1_234_567, avg_latency_ms=12_500, error_rate=0, rate_limit_hits=0
    )
    cards = summary_cards(now, None)
    assert [c.change for c in cards] == [None] * 4
    assert [c.value for c in cards[:2]] == ["1.23 M", "12.50 s"]


def _days(values: list[tuple[int, int, int]]) -> list[DailyMetric]:
    start = date(2026, 11, 1)
    return [
        DailyMetric(
            start + timedelta(days=i), requests=r, avg_latency_ms=100.0, errors=e, rate_limited=t
        )
        for i, (r, e, t) in enumerate(values)
    ]


def test_incident_is_the_day_far_above_a_usual_one():
    daily = _days([(1000, 5, 3)] * 5 + [(1200, 300, 800)] + [(1000, 6, 2)] * 4)
    incident = find_incident(daily)
    assert incident is not None
    assert (incident.index, incident.date, incident.errors, incident.rate_limited) == (
        5,
        date(2026, 11, 6),
        300,
        800,
    )
    assert peak(daily, "rate_limited").date == date(2026, 11, 6)


def test_no_incident_on_ordinary_or_quiet_days():
    assert find_incident(_days([(1000, 5, 3), (900, 7, 2), (1100, 6, 4), (1000, 8, 5)])) is None
    # 0 → 12 is a big factor but too few events to call an incident
    assert find_incident(_days([(10, 0, 0)] * 6 + [(10, 12, 0)])) is None


def test_period_key_cycles_7_30_90():
    assert [next_period(7), next_period(30), next_period(90)] == [30, 90, 7]
    assert next_period(7, -1) == 90
    assert next_period(14) == 7


# ---- chart layout ------------------------------------------------------------------------------


def test_ninety_days_in_forty_columns_keep_the_spike():
    values = [10.0] * 90
    values[47] = 500.0
    columns = bucket_columns(values, 40)
    assert len(columns) == 40
    assert columns[0].first == 0 and columns[-1].last == 89
    assert sum(1 for c in columns if c.value == 500.0) == 1
    assert all(b.first == a.last + 1 for a, b in zip(columns, columns[1:], strict=False))


def test_axis_is_round_and_covers_the_max():
    low, per_row = axis_scale([0, 5089, 3000], 5, zero_based=True)
    assert low == 0 and per_row == 1200  # top label 6,000 for a max of 5,089
    low, per_row = axis_scale([110, 118, 95], 5, zero_based=False)
    assert 0 < low <= 95 and low + per_row * 5 >= 118


def test_bar_heights_in_eighths():
    assert bar_column(100, 0, 100, 2) == ["█", "█"]
    assert bar_column(50, 0, 100, 2) == [" ", "█"]
    assert bar_column(25, 0, 100, 2) == [" ", "▄"]
    assert bar_column(0.1, 0, 100, 2) == [" ", "▁"]  # a small non-zero value stays visible
    assert bar_column(0, 0, 100, 2) == [" ", " "]


def test_columns_fill_the_width():
    wide = column_slots(7, 31)  # 4 cells each: a 3-cell bar and a gap
    assert [(c.at, c.bar, c.gap) for c in wide[:2]] == [(0, 3, 1), (4, 3, 1)]
    narrow = column_slots(30, 52)  # 1-2 cells each, no gaps, ending at the edge
    assert narrow[0].at == 0 and narrow[-1].at + narrow[-1].bar == 52
    assert {c.gap for c in narrow} == {0} and {c.bar for c in narrow} == {1, 2}
    assert all(b.at == a.at + a.bar for a, b in zip(narrow, narrow[1:], strict=False))
    assert column_slots(20, 200)[-1].at == 19 * 6  # bars stop growing at MAX_BAR_WIDTH


def test_date_axis_has_first_and_last_day():
    dates = [date(2026, 11, 19) + timedelta(days=i) for i in range(7)]
    columns = bucket_columns([1.0] * 7, 28)
    line = date_axis(dates, columns, column_slots(7, 28))
    assert line.startswith("11-19") and line.endswith("11-25")
    assert len(line) == 27  # ends under the last bar


@pytest.mark.parametrize("days", [7, 30, 90])
def test_date_axis_never_overlaps(days):
    dates = [date(2026, 8, 28) + timedelta(days=i) for i in range(days)]
    columns = bucket_columns([1.0] * days, 60)
    line = date_axis(dates, columns, column_slots(len(columns), 60))
    labels = line.split()
    assert labels[0] == "08-28" and labels[-1] == dates[-1].strftime("%m-%d")
    assert all(len(label) == 5 for label in labels)  # never two labels run together
