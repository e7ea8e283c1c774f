"""One spelling per kind of value (ht_dash.insights.format), and the plan price reads the same on
screen 4, screen 5 and in `ht-dash --demo status`."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta, timezone

from ht_dash.api.plans import plan_by_id
from ht_dash.insights.format import (
    ago,
    day,
    day_label,
    day_range,
    duration,
    iso,
    iso_date,
    money,
    percent,
    plan_price,
    points,
    short_date,
    signed_percent,
    time_of_day,
    when,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_money_has_cents_a_symbol_and_thousands():
    assert money(39_900, "USD") == "$399.00"
    assert money(199_900, "usd") == "$1,999.00"
    assert money(-1_250, "EUR") == "-€12.50"
    assert money(10_000, "CHF") == "100.00 CHF"
    assert plan_price(plan_by_id("surge")) == "$399.00/month"
    assert plan_price(plan_by_id("enterprise")) == "custom price"


def test_durations_read_in_the_two_largest_units():
    assert duration(timedelta(days=5, hours=3, minutes=20)) == "5 d 3 h"
    assert duration(timedelta(days=5, minutes=20)) == "5 d"
    assert duration(2 * 3600 + 600) == "2 h 10 min"
    assert duration(timedelta(minutes=4, seconds=59)) == "4 min 59 s"
    assert duration(77) == "1 min 17 s"
    assert duration(5400) == "1 h 30 min"  # never "1.5 h"
    assert duration(0.5) == "0.5 s"
    assert duration(20) == "20 s"
    assert duration(timedelta(seconds=-3)) == "0 s"
    assert ago(3 * 3600 + 300) == "3 h 5 min ago"
    assert ago(timedelta(days=2, hours=4, minutes=9)) == "2 d 4 h ago"


def test_percent_has_a_space_and_chosen_digits_and_changes_of_a_rate_are_points():
    assert percent(0.1234) == "12.3 %"
    assert percent(0.0058, 2) == "0.58 %"
    assert percent(0.37, 0) == "37 %"
    assert percent(None) == "—"
    assert signed_percent(0.827) == "+82.7 %"
    assert signed_percent(-0.04) == "-4.0 %"
    assert signed_percent(0.0001) == "±0.0 %"
    assert points(0.0129 - 0.012) == "0.09 pp"
    assert points(-0.003) == "-0.30 pp"


def test_instants_are_utc_with_a_four_digit_year():
    assert iso(datetime(2026, 12, 1, 1, 2, 3, 999, tzinfo=UTC)) == "2026-12-01T01:02:03Z"
    assert iso(datetime(2026, 12, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))) == (
        "2026-11-30T23:00:00Z"
    )
    assert iso(datetime(2026, 12, 1)) == "2026-12-01T00:00:00Z"  # naive is taken as UTC
    assert iso(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00Z"
    assert iso_date(date(999, 1, 2)) == "0999-01-02"
    assert when(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02 00:00 UTC"


def test_when_says_how_far_from_now():
    assert when(None) == "—"
    assert when(NOW) == "2026-12-02 12:00 UTC"
    assert when(NOW, NOW) == "2026-12-02 12:00 UTC (just now)"
    assert when(NOW - timedelta(hours=3), NOW) == "2026-12-02 09:00 UTC (3 h ago)"
    assert when(NOW + timedelta(days=12), NOW) == "2026-12-14 12:00 UTC (in 12 d)"
    # The distance to a date reads as the duration to it does ("Resets in 29 d 9 h").
    resets = NOW + timedelta(days=29, hours=9, minutes=5)
    assert when(resets, NOW) == f"2026-12-31 21:05 UTC (in {duration(resets - NOW)})"
    assert when(resets, NOW).endswith("(in 29 d 9 h)")


def test_a_day_is_iso_with_an_optional_weekday_and_a_short_axis_label():
    assert day(date(2027, 1, 1)) == "2027-01-01"
    assert day(date(2027, 1, 1), weekday=True) == "Fri 2027-01-01"
    assert day(datetime(2026, 12, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2)))) == "2026-12-02"
    assert day_label(date(2026, 12, 1)) == "12-01"
    assert day_range(date(2026, 10, 27), date(2026, 11, 25)) == "2026-10-27 – 2026-11-25"
    assert time_of_day(datetime(2026, 12, 1, 14, 53, 7, tzinfo=UTC)) == "14:53 UTC"
    assert time_of_day(datetime(2026, 12, 1, 14, 53, 7, tzinfo=UTC), seconds=True) == (
        "14:53:07 UTC"
    )
    assert short_date(NOW + timedelta(days=16), NOW) == "2026-12-18"
    assert short_date(NOW + timedelta(hours=5), NOW) == "2026-12-02 17:00 UTC"


async def test_the_plan_price_reads_the_same_on_screens_4_and_5_and_in_status(demo_app, capsys):
    from ht_dash import cli
    from test_billing_screen import open_billing, shown
    from test_limits_screen import SIZE, open_limits

    surge = plan_by_id("surge")
    price = money(surge.price_cents, surge.currency)
    assert price == "$399.00"
    app = demo_app("surge")
    async with app.run_test(size=SIZE) as pilot:
        await open_limits(pilot)
        screen_4 = str(app.screen.query_one("#plan-line").render())
        await open_billing(pilot)
        screen_5 = shown(app, "plans-table") + "\n" + shown(app, "invoice-text")
    assert await asyncio.to_thread(cli.main, ["--demo", "status"]) == 0  # its own event loop
    status = capsys.readouterr().out

    assert f"Surge · {plan_price(surge)} ·" in screen_4
    assert f"Surge ({plan_price(surge)})" in status
    surge_row = next(line for line in screen_5.splitlines() if "Surge" in line and "$" in line)
    assert price in surge_row
    # Every spelling of this amount anywhere is the same string: no "$399" or "$399.0".
    for text in (screen_4, screen_5, status):
        assert set(re.findall(r"\$399[\d.,]*", text)) == {price}, text
