"""Screen 2 on the demo backend: cards, charts, the incident day, the period switch."""

from __future__ import annotations

import asyncio

from textual.widgets import Static

from ht_dash.api.models import Metrics
from ht_dash.feeds.registry import METRICS
from ht_dash.insights import format as fmt
from ht_dash.insights.metrics import find_incident, summary_cards
from ht_dash.tui.widgets.bar_chart import BREAK, BarChart
from ht_dash.tui.widgets.panel import DataPanel
from ht_dash.tui.widgets.stat_card import StatCard
from ui_harness import wait_until

SIZE = (100, 30)


async def settle(pilot, days: int) -> Metrics:
    """Wait until the metrics feed holds `days` days and the screen has drawn them."""
    app = pilot.app

    def drawn() -> bool:
        state = app.feeds.state("metrics")
        return state.data is not None and state.data.days == days and not state.loading

    await wait_until(pilot, drawn)
    await app.workers.wait_for_complete()
    await pilot.pause()
    data = app.feeds.state("metrics").data
    assert data is not None and data.days == days
    return data


def text(widget) -> str:
    return str(widget.render())


async def test_cards_and_charts_show_the_demo_metrics(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        metrics = await settle(pilot, 90)
        screen = app.screen
        assert screen.query_one("#metrics-panel", DataPanel).border_title == (
            f"Metrics · Last 90 days · {fmt.day(metrics.start)} – {fmt.day(metrics.end)}"
        )
        expected = summary_cards(metrics.summary, metrics.previous_summary)
        for card_id, card in zip(
            ("card-requests", "card-latency", "card-errors", "card-429"), expected, strict=True
        ):
            widget = screen.query_one(f"#{card_id}", StatCard)
            assert text(widget.query_one(".stat-value", Static)) == card.value
            assert text(widget.query_one(".stat-change", Static)).startswith(card.change.text)
            assert widget.query_one(".stat-change").has_class(f"-{card.change.verdict}")

        requests = screen.query_one("#chart-requests", BarChart)
        assert requests.values == [float(d.requests) for d in metrics.daily]
        assert len(requests.values) == 90


async def test_the_demo_incident_day_is_named_and_marked_in_every_chart(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        metrics = await settle(pilot, 90)
        incident_day = app.runtime.demo_backend.account.incident_day
        incident = find_incident(metrics.daily)
        assert incident is not None and incident.date == incident_day
        note = text(app.screen.query_one("#metrics-note", Static))
        assert note.startswith(
            f"⚠ Incident {fmt.day(incident_day, weekday=True)}: {incident.errors:,} errors"
        )
        for chart in app.screen.query(BarChart):
            assert chart.mark == incident.index
        errors_chart = app.screen.query_one("#chart-errors", BarChart)
        assert f"max {incident.errors:,} {fmt.day_label(incident_day)}" in errors_chart.notes[0]
        # The mark is a shape, not only a colour: NO_COLOR users see it, and the text says so.
        assert "▓" in errors_chart.render().plain
        assert "red" not in note and "▓" in note


def date_line(chart: BarChart) -> str:
    return chart.render().plain.splitlines()[-1].strip()


async def test_the_incident_day_goes_off_a_clipped_scale_and_c_shows_the_full_scale(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        metrics = await settle(pilot, 90)
        incident = find_incident(metrics.daily)
        assert incident is not None
        errors = app.screen.query_one("#chart-errors", BarChart)
        scale = errors.scale()
        # the axis fits the ordinary days: the incident is above its top, not squashing them
        assert scale.clip is not None and scale.clip.outliers == (incident.index,)
        usual = max(d.errors for i, d in enumerate(metrics.daily) if i != incident.index)
        assert usual <= scale.high < incident.errors
        drawn = errors.render().plain
        title, cut_row = drawn.splitlines()[:2]
        assert f"clipped at {scale.high:,.0f}" in title
        assert f"{BREAK}{incident.errors:,}" in cut_row  # the cut bar says how high it goes
        # the latency axis does not start at 0, and its title says so
        latency = app.screen.query_one("#chart-latency", BarChart)
        assert latency.scale().low > 0
        assert "axis from " in latency.render().plain.splitlines()[0]

        await pilot.press("c")
        assert errors.scale().clip is None and errors.scale().high >= incident.errors
        assert BREAK not in errors.render().plain and "clipped" not in errors.render().plain
        await pilot.press("c")
        assert errors.scale().clip is not None


async def test_every_chart_puts_the_same_dates_under_the_same_period(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await settle(pilot, 90)
        for size in ((80, 24), (120, 40)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            lines = {date_line(chart) for chart in app.screen.query(BarChart)}
            assert len(lines) == 1, (size, lines)


async def test_a_worse_change_is_bold_not_only_red(demo_app):
    from ht_dash.tui.widgets.stat_card import StatCard

    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, 90)
        changes = [card.query_one(".stat-change") for card in app.screen.query(StatCard)]
        worse = [line for line in changes if line.has_class("-bad")]
        assert worse, "the demo has a worse figure"
        assert all(line.styles.text_style.bold for line in worse)
        assert not any(line.styles.text_style.bold for line in changes if line not in worse)


async def test_with_no_color_worse_and_the_marked_day_are_the_brightest_text(demo_app, monkeypatch):
    """NO_COLOR greys colours by lightness: the alert red became dark grey on near-black."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, 90)
        worse = [
            line
            for card in app.screen.query(StatCard)
            if (line := card.query_one(".stat-change")).has_class("-bad")
        ]
        assert worse
        for line in worse:
            assert line.styles.color.brightness > 0.7
            assert line.styles.text_style.bold and line.styles.text_style.underline
        chart = app.screen.query_one("#chart-errors", BarChart)
        mark = chart.get_component_rich_style("bar-chart--mark").color.get_truecolor()
        bar = chart.get_component_rich_style("bar-chart--bar").color.get_truecolor()
        assert sum(mark) > sum(bar) and sum(mark) > 3 * 180  # ▓ and cut bars stand out


async def test_d_switches_the_period_refetches_and_redraws(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        ninety = await settle(pilot, 90)
        await pilot.press("d")
        week = await settle(pilot, 7)
        assert app.feeds.param(METRICS, "days") == 7
        screen = app.screen
        assert "Last 7 days" in screen.query_one("#metrics-panel", DataPanel).border_title
        assert len(screen.query_one("#chart-latency", BarChart).values) == 7
        assert week.summary != ninety.summary
        card = screen.query_one("#card-requests", StatCard)
        assert (
            text(card.query_one(".stat-value", Static))
            == summary_cards(week.summary, week.previous_summary)[0].value
        )
        await pilot.press("d")
        await settle(pilot, 30)
        assert len(screen.query_one("#chart-errors", BarChart).values) == 30
        await pilot.press("D")  # back to 7
        await settle(pilot, 7)


async def test_palette_offers_each_period(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, 90)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"Metrics: last 7 days", "Metrics: last 30 days", "Metrics: last 90 days"} <= set(
            commands
        )
        commands["Metrics: last 30 days"].callback()
        await settle(pilot, 30)
        assert "Last 30 days" in app.screen.query_one("#metrics-panel", DataPanel).border_title


def test_metrics_snapshot_80x24(snap_compare, demo_app):
    async def run_before(pilot) -> None:
        await pilot.press("2")
        await settle(pilot, 90)

    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=run_before)


def test_metrics_snapshot_large_7_days(snap_compare, demo_app):
    async def run_before(pilot) -> None:
        await pilot.press("2")
        await settle(pilot, 90)
        await pilot.press("d")
        await settle(pilot, 7)

    assert snap_compare(demo_app(), terminal_size=(160, 48), run_before=run_before)


async def test_switching_twice_during_a_slow_fetch_ends_on_the_last_choice(demo_app):
    app = demo_app()
    gate = asyncio.Event()
    real_metrics = app.feeds.source.metrics
    asked = []

    async def slow_metrics(days: int = 90):
        asked.append(days)
        if len(asked) == 2:  # the first fetch after the switch hangs until released
            await gate.wait()
        return await real_metrics(days)

    app.feeds.source.metrics = slow_metrics
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, 90)
        await pilot.press("d")  # 7 days: fetch in flight, held at the gate
        await pilot.pause()
        await pilot.press("d")  # 30 days while the 7-day fetch is in flight
        await pilot.pause()
        gate.set()
        await settle(pilot, 30)
        assert asked == [90, 7, 30]
        assert "Last 30 days" in app.screen.query_one("#metrics-panel", DataPanel).border_title
