"""Screen 4 drill-down: a cursor over the 15-minute sparkline, the plan's limit drawn across it."""

from __future__ import annotations

from datetime import UTC, datetime

from ht_dash.api.models import LiveUsage
from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.feeds.registry import LIVE
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app
from ht_dash.tui.widgets.sparkline_panel import (
    LIMIT_LINE,
    RateSparkline,
    columns_of,
    limit_row,
    resample,
)

AT = datetime(2026, 11, 25, 14, 3, 7, tzinfo=UTC)


def test_every_value_is_found_in_the_columns_that_draw_it():
    for count, width in ((60, 30), (60, 120), (60, 60), (60, 47)):
        for index in range(count):
            for column in columns_of(index, count, width):
                start = column * count // width
                assert start <= index < max(start + 1, (column + 1) * count // width)


def test_the_limit_line_sits_in_the_row_of_the_limit():
    assert limit_row(100, 2, 200) == 1  # half way up a two-line chart: the lower line
    assert limit_row(100, 2, 100) == 0  # the top of the scale: the upper line
    assert limit_row(0, 2, 100) is None
    values = [10.0] * 20
    assert max(resample(values, 10)) == 10.0


async def test_arrows_show_one_moments_rate_and_429s_and_the_limit_is_drawn():
    runtime = Runtime(settings=Settings(), demo=True, clock=FixedClock(AT), demo_seed=3)
    app = make_app(runtime, live=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("4")
        for _ in range(200):
            await pilot.pause()
            if isinstance(app.feeds.state(LIVE).data, LiveUsage):
                break
        live = app.feeds.state(LIVE).data
        screen = app.screen
        await pilot.press("left")
        last = live.series[-1]
        line = str(screen.query_one("#live-cursor").content)
        assert f"{last.at:%H:%M:%S}" in line
        assert f"{last.requests * 4:,} req/min" in line
        busiest = max(range(len(live.series)), key=lambda i: live.series[i].throttled)
        for _ in range(len(live.series) - 1 - busiest):
            await pilot.press("left")
        line = str(screen.query_one("#live-cursor").content)
        assert f"{live.series[busiest].throttled:,}[/] 429s" in line and "over the 100/min" in line
        spark = screen.query_one(RateSparkline)
        assert spark.cursor == busiest and spark.limit == 100
        drawn = "".join(seg.text for y in range(spark.size.height) for seg in spark.render_line(y))
        assert LIMIT_LINE in drawn
