"""Screen 3 by keys on the demo backend: sort, filter, timeframe, hints, and refresh in place."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from rich.console import Console

from ht_dash.api.models import EndpointUsage
from ht_dash.feeds.registry import USAGE
from ht_dash.tui.screens.endpoints import EndpointsScreen
from ui_harness import wait_until

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


async def open_endpoints(pilot) -> EndpointsScreen:
    await pilot.press("3")
    screen = pilot.app.screen
    assert isinstance(screen, EndpointsScreen)
    await wait_until(
        pilot,
        lambda: screen.report is not None and screen.table.row_count,
        what="endpoint usage",
    )
    return screen


def row_keys(screen) -> list[str]:
    table = screen.table
    return [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]


def by_key(screen) -> dict[str, EndpointUsage]:
    return {e.key: e for e in screen.report.endpoints}


async def test_demo_data_yields_hints_shown_with_a_count(demo_app):
    app = demo_app(at=NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_endpoints(pilot)
        assert screen.table.row_count == len(screen.report.endpoints) > 10
        assert any(h.kind == "polling" and h.path == "/positions/heatmap" for h in screen.hints)
        title = screen.query_one("#hints").border_title
        assert title.startswith(f"Hints ({len(screen.hints)})")
        console = Console(width=200)
        with console.capture() as captured:
            console.print(screen.query_one("#hints-text").content)
        assert "/positions/heatmap is called every" in captured.get()


async def test_sorting_by_keys_puts_the_cursor_on_the_top_row(demo_app):
    app = demo_app(at=NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_endpoints(pilot)
        data = by_key(screen)
        requests = [data[k].requests for k in row_keys(screen)]
        assert requests == sorted(requests, reverse=True)  # the default
        await pilot.press("G")  # the last row: the table scrolls down
        assert screen.table.cursor_row == screen.table.row_count - 1
        await pilot.press("s")
        await pilot.pause()
        assert screen.sort_column == "latency"
        latencies = [data[k].avg_latency_ms for k in row_keys(screen)]
        assert latencies == sorted(latencies, reverse=True)
        # The slowest endpoint is what a sort by latency is for: cursor and view at the top.
        assert screen.table.cursor_row == 0 and screen.table.scroll_y == 0
        await pilot.press("j", "j", "S")
        await pilot.pause()
        latencies = [data[k].avg_latency_ms for k in row_keys(screen)]
        assert latencies == sorted(latencies)
        assert str(screen.table.columns["latency"].label) == "Avg ms▲"
        assert screen.table.cursor_row == 0


async def test_table_keys_are_the_same_as_history(demo_app):
    app = demo_app(at=NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_endpoints(pilot)
        table = screen.table
        await pilot.press("j", "j", "k")
        assert table.cursor_row == 1
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1 and table.scroll_x == 0
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("G", "g")
        assert table.cursor_row == 0


async def test_filter_by_path_fragment_and_escape_clears_it(demo_app):
    app = demo_app(at=NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_endpoints(pilot)
        total = screen.table.row_count
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press("p", "o", "s")
        keys = row_keys(screen)
        assert keys and all("pos" in k for k in keys)
        assert len(keys) == sum("pos" in e.path for e in screen.report.endpoints)
        assert "matching “pos”" in str(screen.query_one("#endpoint-totals").render())
        await pilot.press("enter", "down")  # back to the table; the filter stays
        chosen = row_keys(screen)[screen.table.cursor_row]
        assert screen.filter_text == "pos" and screen.table.has_focus
        await pilot.press("escape")
        assert screen.table.row_count == total
        assert row_keys(screen)[screen.table.cursor_row] == chosen


async def test_refresh_updates_only_changed_cells_and_keeps_cursor_sort_and_filter(demo_app):
    app = demo_app(at=NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_endpoints(pilot)
        await pilot.press("s")  # latency
        screen.set_filter("/")
        await pilot.press("down", "down", "down")
        table = screen.table
        chosen = row_keys(screen)[table.cursor_row]
        report = screen.report
        updates = []
        original_update, original_clear = table.update_cell, table.clear
        table.update_cell = lambda *a, **k: (updates.append(a[:2]), original_update(*a, **k))
        table.clear = lambda *a, **k: (_ for _ in ()).throw(AssertionError("table rebuilt"))

        # The same numbers again: nothing is touched.
        screen.render_data("usage", replace(report))
        assert updates == []

        # One endpoint slows down to the top, one disappears, one is new.
        slow, gone = report.endpoints[-1], report.endpoints[-2]
        new = EndpointUsage("GET", "/wallets/{address}", 10, 0, 0, 5.0, 1.0, 3600.0)
        endpoints = [e for e in report.endpoints if e not in (slow, gone)]
        endpoints += [replace(slow, avg_latency_ms=9_999.0), new]
        screen.render_data("usage", replace(report, endpoints=tuple(endpoints)))
        assert set(updates) == {(slow.key, "latency")}
        keys = row_keys(screen)
        assert keys[0] == slow.key and gone.key not in keys and new.key in keys
        assert keys[-1] == new.key  # 5 ms: the fastest
        assert row_keys(screen)[table.cursor_row] == chosen
        assert (screen.sort_column, screen.filter_text) == ("latency", "/")
        table.update_cell, table.clear = original_update, original_clear


async def test_timeframe_key_fetches_that_timeframe(demo_app):
    app = demo_app(at=NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_endpoints(pilot)
        assert screen.report.timeframe == "30d"
        await pilot.press("t")
        assert app.feeds.param(USAGE, "timeframe") == "90d"
        await wait_until(pilot, lambda: screen.report.timeframe == "90d")
        assert "[b reverse] Last 90 days [/]" in str(screen.query_one("#timeframes").content)
        await pilot.press("T", "T")
        assert app.feeds.param(USAGE, "timeframe") == "month"


async def test_a_thousand_endpoints_refresh_in_place(demo_app):
    app = demo_app(at=NOW, endpoint_count=1000)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_endpoints(pilot)
        assert screen.table.row_count == len(screen.report.endpoints) > 990
        await pilot.press("end")
        chosen = row_keys(screen)[screen.table.cursor_row]
        report = screen.report
        bumped = (replace(report.endpoints[0], errors=report.endpoints[0].errors + 1),)
        screen.render_data("usage", replace(report, endpoints=bumped + report.endpoints[1:]))
        assert row_keys(screen)[screen.table.cursor_row] == chosen
        assert screen._cells[report.endpoints[0].key][5] == f"{report.endpoints[0].errors + 1:,}"


def test_endpoints_snapshot(snap_compare, demo_app):
    async def run_before(pilot) -> None:
        await open_endpoints(pilot)
        await pilot.press("s")  # sorted by latency: the arrow moves to "Avg ms"

    assert snap_compare(demo_app(at=NOW), terminal_size=(100, 30), run_before=run_before)



async def test_usage_the_api_does_not_offer_shows_as_a_state_and_r_asks_again(demo_app):
    from ht_dash.api.errors import NotOffered
    from ht_dash.tui.widgets.panel import DataPanel

    app = demo_app(at=NOW)
    asked = []

    async def not_offered(timeframe: str = "30d"):
        asked.append(timeframe)
        raise NotOffered("the API does not offer endpoint usage to tokens", status=404)

    app.feeds.source.endpoint_usage = not_offered
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        panel = app.screen.query_one("#usage-panel", DataPanel)
        await wait_until(pilot, lambda: asked and not app.feeds.state(USAGE).loading)
        subtitle = str(panel.border_subtitle)
        message = str(panel.query_one(".panel-message").render())
        assert subtitle == "not offered by this API · asked again hourly, r asks now"
        assert message.startswith("Not offered by the API: the API does not offer endpoint usage")
        assert not panel.has_class("-error") and "retrying" not in subtitle + message
        await pilot.press("2", "3")  # shown again: no new request, the state stands
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(asked) == 1
        await pilot.press("r")
        await wait_until(pilot, lambda: len(asked) == 2)


async def test_hint_severities_differ_in_shape_not_only_colour(demo_app, monkeypatch):
    # Under NO_COLOR every row's mark was the same '●' whatever the hint's severity.
    monkeypatch.setenv("NO_COLOR", "1")
    app = demo_app(at=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_endpoints(pilot)
        table = screen.table
        flag = list(table.columns).index("flag")
        marks = {}
        for row in range(table.row_count):
            key = table.coordinate_to_cell_key((row, 0)).row_key.value
            cell = table.get_cell_at((row, flag))
            marks[key] = cell.plain if hasattr(cell, "plain") else str(cell)
        severities = {h.key: h.severity for h in reversed(screen.hints)}  # the first hint wins
        shapes = {severity: marks[key] for key, severity in severities.items()}
        assert len(set(severities.values())) > 1, "the demo has hints of more than one severity"
        assert len(set(shapes.values())) == len(shapes)  # one shape per severity
        assert all(marks[key] == "" for key in marks if key not in severities)
