"""Fits at 60x20 and 80x24 (issue 17 §3): Help and Quit always in the footer, the tab bar whole."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from textual.widgets import Static, Tabs
from textual.widgets._footer import FooterKey

from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.demo import DemoBackend
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app
from ht_dash.tui.screens import SCREENS

AT = datetime(2026, 11, 25, 14, 3, 20, tzinfo=UTC)


def build():
    clock = FixedClock(AT)
    runtime = Runtime(settings=Settings(), demo=True, clock=clock)
    runtime._backend = DemoBackend(clock=clock)
    return make_app(runtime, live=False)


def visible_footer_keys(screen) -> dict[str, FooterKey]:
    """Footer keys drawn whole inside the screen, by description."""
    width = screen.size.width
    return {
        key.description: key
        for key in screen.query(FooterKey)
        if key.region.width and key.region.x >= 0 and key.region.right <= width
    }


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)])
async def test_help_and_quit_stay_in_the_footer_on_every_screen(size):
    app = build()
    async with app.run_test(size=size) as pilot:
        for mode, key, label, _, _ in SCREENS:
            await pilot.press(key)
            await pilot.pause()
            await pilot.pause()
            screen = app.screen
            keys = visible_footer_keys(screen)
            assert {"Help", "Quit"} <= set(keys), (size, mode, sorted(keys))
            shown = [k for k in screen.query(FooterKey) if k.region.width]
            assert all(k.region.right <= size[0] for k in shown), "a key cut at the edge"
            # The tab bar never scrolls: every tab is in view, the active one by name.
            tabs = screen.query_one(Tabs)
            for tab in tabs.query("Tab"):
                assert tab.region.right <= size[0], (size, mode, str(tab.label))
            assert str(tabs.active_tab.label) == f"{key} {label}"
            badge = screen.query_one("#nav-context", Static)
            assert "DEMO" in str(badge.render()), (size, mode)


@pytest.mark.parametrize(
    ("size", "columns"),
    [
        ((60, 20), {"path", "requests", "throttled"}),
        ((80, 24), {"path", "requests", "throttled", "latency", "every"}),
        ((120, 40), {"method", "path", "requests", "share", "errors", "throttled", "every"}),
    ],
)
async def test_endpoints_choose_columns_by_width_and_never_scroll_sideways(size, columns):
    from textual.widgets import DataTable

    app = build()
    async with app.run_test(size=size) as pilot:
        await pilot.press("3")
        for _ in range(50):
            await pilot.pause()
            table = app.screen.query_one("#endpoint-table", DataTable)
            if table.row_count:
                break
        await pilot.pause()
        shown = {key.value for key in table.columns}
        assert columns <= shown, sorted(shown)
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert not table.show_horizontal_scrollbar


@pytest.mark.parametrize(
    ("size", "columns"),
    [
        ((60, 20), ("at", "path", "status", "latency")),
        ((80, 24), ("at", "method", "path", "status", "latency", "retry")),
        ((120, 40), ("at", "method", "path", "status", "latency", "bytes", "retry")),
    ],
)
async def test_request_log_chooses_columns_by_width_and_never_scrolls_sideways(size, columns):
    from ht_dash.tui.screens.requests import ROUTE_MIN

    app = build()
    async with app.run_test(size=size) as pilot:
        await pilot.press("7")
        table = app.screen.query_one("#requests-table")
        for _ in range(100):
            await pilot.pause(0.01)
            if table.row_count:
                break
        await pilot.pause()
        assert tuple(c.key for c in table.columns) == columns
        route = table._widths[columns.index("path")]  # noqa: SLF001
        assert route >= ROUTE_MIN  # "/position-metrics/coin/…", not "/position-m…"
        assert table.virtual_size.width <= table.scrollable_content_region.width
        header = table.render_line(0).text
        assert "Status" in header and "Time" in header


@pytest.mark.parametrize(
    ("size", "columns", "date"),
    [
        ((60, 20), ("date", "description", "amount"), "2026-11-"),
        ((80, 24), ("date", "kind", "description", "status", "amount"), "2026-11-"),
        ((120, 40), ("date", "kind", "description", "status", "amount"), ":"),
    ],
)
async def test_history_gives_the_description_room_at_every_width(size, columns, date):
    from ht_dash.tui.screens.history import DESCRIPTION_MIN

    app = build()
    async with app.run_test(size=size) as pilot:
        await pilot.press("6")
        table = app.screen.query_one("#history-table")
        for _ in range(100):
            await pilot.pause(0.01)
            if table.row_count:
                break
        await pilot.pause()
        assert tuple(c.key for c in table.columns) == columns
        assert table._widths[columns.index("description")] >= DESCRIPTION_MIN  # noqa: SLF001
        assert table.virtual_size.width <= table.scrollable_content_region.width
        first = table.render_line(1).text
        assert date in first and "…" not in first.split()[0]  # the date whole, with or without time


@pytest.mark.parametrize("size", [(120, 40), (200, 60)])
async def test_history_loads_pages_until_the_view_is_full(size):
    from ht_dash.tui.widgets.virtual_table import VirtualTable

    app = build()
    async with app.run_test(size=size) as pilot:
        await pilot.press("6")
        table = app.screen.query_one("#history-table", VirtualTable)
        for _ in range(200):
            await pilot.pause(0.01)
            if table.row_count > 25 or app.screen.book.complete:
                break
        await app.workers.wait_for_complete()
        await pilot.pause()
        # The first page is 25 entries; a taller view asks for the next pages by itself.
        assert table.row_count >= min(table.visible_rows, 26) or app.screen.book.complete
        assert table.row_count > 25


async def test_history_detail_is_as_tall_as_its_fields():
    from textual.containers import Vertical

    from ht_dash.tui.screens.history_detail import HistoryDetailScreen

    app = build()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        for _ in range(100):
            await pilot.pause(0.01)
            if app.screen.table.row_count:
                break
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, HistoryDetailScreen)
        box = app.screen.query_one(Vertical)
        # description, a blank line, six fields, the key line and two borders (was 35 rows)
        assert box.region.height <= 12


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_limits_chart_and_gauges_grow_with_the_space(size):
    from textual.containers import VerticalScroll

    from ht_dash.tui.screens.limits import SPARK_MAX
    from ht_dash.tui.widgets.gauge import Gauge

    app = build()
    async with app.run_test(size=size) as pilot:
        await pilot.press("4")
        screen = app.screen
        spark = screen.query_one("#rate-spark").spark
        scroll = screen.query_one(VerticalScroll)
        for _ in range(100):
            await pilot.pause(0.01)
            bottom = max(child.region.bottom for child in scroll.children)
            if spark.size.height > 2 and bottom == scroll.content_region.bottom:
                break
        bottom = max(child.region.bottom for child in scroll.children)
        # No blank rows under the panels: the sparkline took them (at 200x60 too: 16 were left).
        assert bottom == scroll.content_region.bottom
        assert spark.size.height < SPARK_MAX
        assert spark.size.height > 2
        gauge = screen.query_one("#rate-gauge", Gauge)
        bar = str(gauge.render()).count("█") + str(gauge.render()).count("░")
        assert bar >= size[0] - 50  # the bar fills the row beside its label and figures


async def test_billing_keeps_the_price_table_in_view_at_80x24_and_fills_200x60():
    from textual.containers import VerticalScroll

    from ht_dash.tui.screens.billing import MORE_BELOW

    app = build()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        screen = app.screen
        await app.workers.wait_for_complete()
        for _ in range(50):
            await pilot.pause(0.01)
            if screen._history_state == "loaded":  # noqa: SLF001
                break
        await pilot.pause()
        scroll = screen.query_one("#billing-scroll", VerticalScroll)
        invoice = str(screen.query_one("#invoice-text").render())
        assert "$399.00 USD · Visa" in invoice  # one row less: amount and payment share one
        table = screen.query_one("#plans-table")
        # the price table from its header to Stream is on screen without scrolling
        assert table.region.y + 6 <= scroll.content_region.bottom
        pace = screen.query_one("#pace-panel")
        assert pace.border_title.endswith(MORE_BELOW)  # and the screen says there is more
        await pilot.press("end")
        await pilot.pause()
        assert not pace.border_title.endswith(MORE_BELOW)
        assert not screen.query_one("#daily-panel").display
        await pilot.resize_terminal(200, 60)
        for _ in range(50):
            await pilot.pause(0.01)
            if screen.query_one("#daily-panel").display:
                break
        await pilot.pause()
        daily = screen.query_one("#daily-panel")
        # the days behind the advice fill the rows under it: no blank half screen
        assert daily.region.height >= 20 and daily.region.bottom == scroll.content_region.bottom
        assert "Tokens / day" in str(screen.query_one("#daily-chart").render())


async def test_the_footer_refits_when_the_terminal_shrinks():
    from test_keys_and_toasts import footer

    app = build()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        await pilot.pause()
        wide = footer(app)
        await pilot.resize_terminal(60, 20)
        for _ in range(20):
            await pilot.pause(0.02)
        keys = footer(app)
        assert {"Help", "Quit"} <= set(keys) and len(keys) < len(wide)
        assert all(k.region.right <= 60 for k in app.screen.query(FooterKey) if k.region.width)


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
async def test_the_plan_picker_fits_with_its_keys_in_view(size):
    from textual.widgets import OptionList

    from ht_dash.tui.screens.plan_picker import PlanPicker

    app = build()
    async with app.run_test(size=size) as pilot:
        await pilot.press("4")
        await pilot.pause()
        await pilot.press("P")
        await pilot.pause()
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, PlanPicker)
        help_line = picker.query_one(".dialog-help")
        assert help_line.region.height and help_line.region.bottom <= size[1]  # Enter/Esc shown
        options = picker.query_one(OptionList)
        # each plan's terms wrap in their own column, under the terms, not under the name
        lines = [options.render_line(y).text for y in range(1, options.size.height - 1)]
        wrapped = [line for line in lines if line.strip("▊▎ ▔▁") and not line[2:3].strip()]
        prices = [line.index("/month") for line in lines if "/month" in line]
        assert len(set(prices)) == 1, lines  # prices right-aligned in one column
        assert all(line.index(line.strip("▊▎ ")[0]) > prices[0] for line in wrapped), lines


def _contrast(fg, bg) -> float:
    def luminance(rgb) -> float:
        def channel(v: float) -> float:
            v /= 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        r, g, b = rgb
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("look", ["light", "no_color"])
async def test_words_stay_readable_on_a_light_theme_and_under_no_color(look, monkeypatch):
    """Text (not borders or bars) on screens 4 and 5 and the DEMO badge: contrast ≥ 2.5."""
    if look == "no_color":
        monkeypatch.setenv("NO_COLOR", "1")
    app = build()
    async with app.run_test(size=(80, 24)) as pilot:
        if look == "light":
            app.theme = "textual-light"
        poor = []
        for key in ("4", "5"):
            await pilot.press(key)
            await app.workers.wait_for_complete()
            for _ in range(20):
                await pilot.pause(0.01)
            for y, strip in enumerate(app.screen._compositor.render_strips()):  # noqa: SLF001
                for line_filter in app._filters:  # noqa: SLF001 - NO_COLOR's monochrome
                    strip = strip.apply_filter(line_filter, app.screen.styles.background)
                for segment in strip:
                    style, text = segment.style, segment.text.strip()
                    words = any(ch.isalnum() for ch in text)
                    if not words or style is None or style.color is None or not style.bgcolor:
                        continue
                    if y == 0 and "DEMO" not in text:
                        continue  # the tab labels are Textual's own
                    ratio = _contrast(style.color.get_truecolor(), style.bgcolor.get_truecolor())
                    if ratio < 2.5:
                        poor.append((key, y, text, round(ratio, 2)))
        assert not poor, poor


@pytest.mark.parametrize(("key", "strip_id", "labels"), [
    ("3", "#timeframes", ("Today", "This week", "This month", "Last 30 days", "Last 90 days")),
    ("6", "#history-kinds", ("All", "Payments", "Invoices", "Plan changes", "Refunds", "Support")),
])  # fmt: skip
async def test_choice_strips_break_between_choices_in_a_narrow_pane(key, strip_id, labels):
    app = build()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.press(key)
        for _ in range(20):
            await pilot.pause(0.01)
        strip = app.screen.query_one(strip_id)
        lines = str(strip.render()).splitlines()
        assert len(lines) == 2 and all(len(line) <= strip.content_size.width for line in lines)
        for label in labels:  # every choice whole, on one line
            assert any(label in line for line in lines), (label, lines)
        assert strip.region.height == 2  # not cut to one row
