"""The clipped scale of daily charts: when one day towers over the others, the axis fits the
others and that day is drawn off the scale (rule in `ht_dash.insights.chart_scale`)."""

from __future__ import annotations

from ht_dash.insights.chart_scale import CLIP_FACTOR, Clip, clip_for, clipped
from ht_dash.tui.widgets.bar_chart import chart_scale


def test_one_incident_day_is_clipped_and_the_axis_fits_the_other_days():
    errors = [20, 25, 18, 30, 22, 380, 27, 19]
    clip = clip_for(errors)
    assert clip == Clip(ceiling=30.0, outliers=(5,))
    assert clipped(errors, clip) == [20, 25, 18, 30, 22, 30, 27, 19]


def test_a_day_just_under_three_times_the_others_stays_to_scale():
    assert clip_for([100, 90, 110, 100 * CLIP_FACTOR + 29, 95]) is None  # 329 < 3 × 110
    assert clip_for([100, 90, 110, 110 * CLIP_FACTOR + 1, 95]) is not None


def test_two_or_three_towering_days_are_all_off_the_scale_more_are_not():
    assert clip_for([10, 12, 400, 11, 9, 500, 10]) == Clip(12.0, (2, 5))
    assert clip_for([10, 12, 400, 11, 9, 500, 10, 450]) == Clip(12.0, (2, 5, 7))
    # four high days are a level, not an incident: drawn to scale
    assert clip_for([10, 12, 400, 11, 9, 500, 10, 450, 420]) is None


def test_steady_growth_quiet_accounts_and_short_series_are_never_clipped():
    assert clip_for([100 + 20 * i for i in range(30)]) is None
    assert clip_for([0, 0, 0, 7, 0, 0]) is None  # nothing squashed under a lone spike over zeros
    assert clip_for([1, 0, 1, 10, 1, 0, 1]) is None  # 0-1 errors a day read well at full scale
    assert clip_for([1, 1, 90, 1]) is None  # fewer days than MIN_DAYS
    assert clip_for([]) is None
    assert clipped([1, 2], None) == [1, 2]


def test_counts_get_whole_number_axes_and_latency_keeps_its_round_steps():
    few = chart_scale([1, 0, 1, 3, 0, 1], 6, zero_based=True, clip_outliers=True)
    assert few.high == 3 and few.integer  # not "3.2"
    tall = chart_scale([3, 22, 9, 15, 12, 18, 20], 17, zero_based=True, clip_outliers=True)
    assert tall.high == 25  # not "25.5"
    many = chart_scale([120.5, 130.2, 118.0, 125.9, 700.0], 6, zero_based=False, clip_outliers=True)
    assert not many.integer and many.clip is not None and many.high < 700


def test_one_day_has_one_date_and_a_flat_series_a_zero_based_axis():
    from datetime import date

    from ht_dash.tui.widgets.bar_chart import bucket_columns, column_slots, date_axis

    assert date_axis([date(2026, 11, 5)], bucket_columns([3.0], 30), column_slots(1, 30)) == (
        "11-05"
    )
    flat = chart_scale([1010.0], 4, zero_based=False, clip_outliers=True)
    assert flat.low == 0 and flat.high >= 1010  # not an empty bar on a "1,010 – 1,010" axis


def test_a_day_without_requests_has_no_latency_bar_and_does_not_pull_the_axis_to_zero():
    import math
    from datetime import date

    from ht_dash.api.models import DailyMetric
    from ht_dash.insights.chart_scale import chart_series
    from ht_dash.tui.widgets.bar_chart import bar_column, bucket_columns

    days = [
        DailyMetric(date(2026, 11, d), n, latency, 0, 0)
        for d, n, latency in ((1, 40, 120.0), (2, 0, 0.0), (3, 35, 130.0), (4, 50, 110.0))
    ]
    latency = chart_series(days, "latency")
    assert math.isnan(latency[1]) and chart_series(days, "requests")[1] == 0
    scale = chart_scale(latency, 6, zero_based=False, clip_outliers=True)
    assert scale.low > 0  # "axis from …": the empty day is not a 0 ms day
    assert bar_column(latency[1], scale.low, scale.high, 6) == [" "] * 6
    assert [c.value for c in bucket_columns(latency, 2)] == [120.0, 130.0]
