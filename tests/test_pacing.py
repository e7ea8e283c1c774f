"""Pacing advice on crafted per-second series."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ht_dash.api.models import SecondCounts
from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.demo import DemoBackend
from ht_dash.insights.pacing import (
    bucket_setting,
    estimated_rejections,
    find_bursts,
    pacing_advice,
    pacing_summary,
    pacing_text,
    trailing_sums,
)
from ht_dash.meter.recorder import Record, Recorder
from ht_dash.meter.source import MeterSource
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app

QUIET = [1] * 900  # 60 req/min for 15 minutes: under a 100/min limit


def with_burst(series: list[int], at: int, size: int) -> list[int]:
    series = list(series)
    series[at] += size
    return series


def test_a_steady_bot_under_the_limit_gets_no_advice():
    assert pacing_advice(QUIET, 100) is None


def test_no_limit_or_no_data_gets_no_advice():
    assert pacing_advice(with_burst(QUIET, 10, 500), None) is None
    assert pacing_advice([], 100) is None


def test_trailing_sums_cover_exactly_sixty_seconds():
    sums = trailing_sums([1] * 120)
    assert sums[0] == 1 and sums[59] == 60 and sums[119] == 60


def test_three_bursts_are_counted_with_the_429s_the_meter_saw():
    series = QUIET
    throttled = [0] * 900
    for at in (100, 400, 700):
        series = with_burst(series, at, 80)  # 60 + 80 = 140 in that minute
        throttled[at] = 40
    throttled[850] = 5  # a 429 outside any burst (another limit) is not the bursts' doing
    advice = pacing_advice(series, 100, throttled)
    assert advice is not None
    assert len(advice.bursts) == 3
    assert [b.start_s for b in advice.bursts] == [100, 400, 700]
    assert advice.throttled == 120
    assert not advice.estimated
    assert advice.bursts[0].peak_per_minute == 140


def test_a_burst_lasts_while_its_minute_is_over_the_limit():
    series = with_burst([0] * 300, 10, 150)
    (burst,) = find_bursts(series, 100)
    assert (burst.start_s, burst.end_s) == (10, 69)


def test_without_429_counts_a_sliding_limiter_is_simulated():
    series = with_burst([0] * 120, 5, 130)
    rejected = estimated_rejections(series, 100)
    assert sum(rejected) == 30 and rejected[5] == 30
    advice = pacing_advice(series, 100)
    assert advice is not None and advice.estimated and advice.throttled == 30


def test_the_recommended_bucket_never_exceeds_the_limit_in_any_minute():
    for limit in (60, 100, 200, 500):
        rate, burst = bucket_setting(limit)
        assert rate + burst <= limit and burst >= 1


def test_advice_sentence_names_bursts_429s_bucket_and_spacing():
    series = QUIET
    throttled = [0] * 900
    for at, hits in ((100, 70), (400, 70), (700, 72)):
        series = with_burst(series, at, 90)
        throttled[at] = hits
    text = pacing_text(pacing_advice(series, 100, throttled))
    assert text == (
        "3 bursts over 100/min in 15 min caused 212 429s; a token bucket of 90/min with burst 10,"
        " or ≥ 0.6 s between requests, would have avoided them"
    )


def test_estimated_sentence_says_so():
    text = pacing_text(pacing_advice(with_burst([0] * 120, 5, 61), 60))
    assert text.startswith("1 burst over 60/min in 2 min would have caused about 1 429;")
    assert "≥ 1 s between requests" in text


def test_mismatched_series_are_refused():
    with pytest.raises(ValueError):
        pacing_advice([1, 2, 3], 100, [0])


# ---- from a source's per-second counts (demo, meter) to the sentence on screen 4 ----------------

AT = datetime(2026, 11, 25, 14, 3, 7, tzinfo=UTC)


def counts(requests, throttled=None, limit=100) -> SecondCounts:
    return SecondCounts(AT, tuple(requests), tuple(throttled or [0] * len(requests)), limit)


def test_summary_says_when_the_bot_kept_under_the_limit():
    text = pacing_summary(counts(QUIET))
    assert text.startswith("No minute over 100/min in 15 min (busiest: 60/min)")
    assert "busiest minute in 15 min had 60" in pacing_summary(counts(QUIET, limit=None))


def test_demo_counts_match_its_live_429s_and_yield_advice():
    backend = DemoBackend(seed=3, clock=FixedClock(AT), plan_id="surge")
    seconds = backend.request_log.second_counts(15, AT)
    live = backend.traffic.live(15, AT)
    assert len(seconds.requests) == 900 and seconds.limit_per_minute == 100
    assert sum(seconds.throttled) == live.throttled_in_window > 0
    advice = pacing_advice(seconds.requests, 100, seconds.throttled)
    assert advice is not None and advice.throttled == sum(seconds.throttled)


async def test_meter_counts_each_second_and_its_429s(tmp_path):
    path = tmp_path / "meter.sqlite3"
    start = AT.timestamp() - 60
    with Recorder(path, retention_days=365_000) as recorder:
        for i in range(130):  # 130 requests in one second: 30 refused
            status = 429 if i >= 100 else 200
            recorder.add(Record(start + 0.001 * i, "GET", "/fills", status, 5.0, 10, None, None))
    seconds = await MeterSource(path, clock=FixedClock(AT), plan_id="surge").second_counts(15)
    assert len(seconds.requests) == 900 and sum(seconds.requests) == 130
    assert max(seconds.throttled) == 30
    assert pacing_summary(seconds).startswith("1 burst over 100/min in 15 min caused 30 429s")


async def test_screen_4_shows_the_advice():
    runtime = Runtime(settings=Settings(), demo=True, clock=FixedClock(AT), demo_seed=3)
    app = make_app(runtime, live=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("4")
        advice = app.screen.query_one("#pacing-advice")
        for _ in range(200):
            await pilot.pause()
            if str(advice.content):
                break
        assert "429s; a token bucket of 90/min with burst 10" in str(advice.content)


def test_ht_dash_runs_summary_carries_the_advice():
    from ht_dash.api.plans import plan_by_id
    from ht_dash.insights.run_summary import summarise

    started = AT.timestamp()
    records = [  # 130 requests in one second on a 100/min plan: 30 refused
        Record(started + 10 + i / 1000, "GET", "/fills", 429 if i >= 100 else 200, 5.0, 10,
               None, None)  # fmt: skip
        for i in range(130)
    ]
    summary = summarise(records, seconds=120, plan=plan_by_id("surge"), started=started)
    assert summary.pacing is not None
    assert summary.pacing.startswith("1 burst over 100/min in 2 min caused 30 429s")
    assert any(line.startswith("  pacing: 1 burst") for line in summary.lines())
    assert summary.as_json()["pacing"] == summary.pacing
    calm = summarise(records[:50], seconds=120, plan=plan_by_id("surge"), started=started)
    assert calm.pacing is None and calm.as_json()["pacing"] is None


def test_summary_without_the_peak_leaves_the_figure_to_the_screen_that_shows_it():
    assert pacing_summary(counts(QUIET), with_peak=False) == (
        "No minute over 100/min in 15 min: the bot's pacing keeps under the limit."
    )
    assert "60" not in pacing_summary(counts(QUIET, limit=None), with_peak=False)
