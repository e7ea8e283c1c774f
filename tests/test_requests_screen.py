"""Screen 7, the live request log, driven by keys: on the demo's stream and on a meter database."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.feeds.registry import REQUESTS
from ht_dash.meter.recorder import Record, Recorder
from ht_dash.meter.source import default_db_path
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app
from ht_dash.tui.screens.requests import NO_DATA_TEXT, RequestDetailScreen, RequestsScreen

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def demo_app(clock=None):
    runtime = Runtime(settings=Settings(), demo=True, clock=clock or FixedClock(NOW), demo_seed=7)
    return make_app(runtime, live=False)


async def wait_for(pilot, predicate, what: str) -> None:
    for _ in range(300):
        await pilot.pause()
        if predicate():
            return
    raise AssertionError(f"never: {what}")


async def open_log(pilot) -> RequestsScreen:
    await pilot.press("7")
    screen = pilot.app.screen
    assert isinstance(screen, RequestsScreen)
    await wait_for(pilot, lambda: screen.table.row_count > 0, "requests shown")
    return screen


def status_line(screen) -> str:
    return str(screen.query_one("#requests-status").content)


async def test_key_7_shows_the_demo_bots_requests_newest_first():
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_log(pilot)
        rows = screen.table.rows
        assert rows[0].at > rows[1].at > rows[50].at
        assert rows[0].at < NOW
        assert "requests · following" in status_line(screen)


async def test_filtering_to_429s_by_keyboard_alone():
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_log(pilot)
        total = screen.table.row_count
        await pilot.press("s", "s", "s")  # all → 2xx → 4xx → 429
        rows = screen.table.rows
        assert 0 < len(rows) < total and all(r.status == 429 for r in rows)
        assert "filter: status 429" in status_line(screen)
        await pilot.press("x")
        assert screen.table.row_count == total


async def test_new_requests_arrive_on_top_and_f_stops_following():
    clock = FixedClock(NOW)
    app = demo_app(clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_log(pilot)
        newest = screen.table.rows[0].id
        clock.advance(20)
        app.feeds.refresh([REQUESTS])
        await wait_for(pilot, lambda: screen.table.rows[0].id > newest, "new rows on top")
        assert screen.table.cursor_row == 0
        await pilot.press("f")
        shown_top = screen.table.rows[0].id
        clock.advance(20)
        app.feeds.refresh([REQUESTS])
        await wait_for(pilot, lambda: screen.request_log.waiting() > 0, "requests collected")
        assert screen.table.rows[0].id == shown_top
        assert "paused ·" in status_line(screen) and "new" in status_line(screen)
        await pilot.press("f")
        assert screen.table.rows[0].id > shown_top


async def test_slash_filters_by_text_and_escape_clears_it():
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_log(pilot)
        total = screen.table.row_count
        await pilot.press("slash", *"heatmap")
        rows = screen.table.rows
        assert 0 < len(rows) < total and all(r.path == "/positions/heatmap" for r in rows)
        await pilot.press("escape")
        assert screen.table.row_count == total and screen.table.has_focus


async def test_e_keeps_the_endpoint_under_the_cursor_and_enter_shows_one_request():
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_log(pilot)
        await pilot.press("down", "down")
        endpoint = screen.table.cursor_value.path
        await pilot.press("e")
        assert {r.path for r in screen.table.rows} == {endpoint}
        await pilot.press("enter")
        assert isinstance(app.screen, RequestDetailScreen)
        assert endpoint in str(app.screen.query_one("#request-fields").content)
        await pilot.press("escape")
        assert app.screen is screen


def write_requests(path, count: int, start_ts: float) -> None:
    with Recorder(path) as recorder:
        for i in range(count):
            recorder.add(Record(start_ts + i, "GET", "/fills", 200, 12.0, 300, None, None))
        recorder.flush()


async def test_meter_log_explains_how_to_get_data_then_picks_up_a_new_database():
    runtime = Runtime(settings=Settings(source="meter"), clock=FixedClock(NOW))
    app = make_app(runtime, live=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("7")
        screen = app.screen
        await wait_for(pilot, lambda: app.feeds.state(REQUESTS).data is not None, "a page")
        assert screen.table.row_count == 0 and "ht-dash run" in NO_DATA_TEXT
        path = default_db_path()
        write_requests(path, 5, time.time())
        app.feeds.refresh([REQUESTS])
        await wait_for(pilot, lambda: screen.table.row_count == 5, "the meter's rows")
        path.unlink()  # rotated: a new database with other ids
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        write_requests(path, 2, time.time())
        app.feeds.refresh([REQUESTS])
        await wait_for(pilot, lambda: screen.table.row_count == 2, "the new database's rows")


async def test_rows_arriving_keep_the_scrollbar_and_the_end_reachable():
    clock = FixedClock(NOW)
    app = demo_app(clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_log(pilot)
        table = screen.table
        before = table.row_count
        clock.advance(30)
        app.feeds.refresh([REQUESTS])
        await wait_for(pilot, lambda: table.row_count > before, "more rows")
        assert table.vertical_scrollbar.window_virtual_size == table.row_count + 1
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        assert table.scroll_offset.y == table.max_scroll_y > before - table.visible_rows


def test_text_from_the_database_loses_terminal_commands():
    from ht_dash.api.models import RequestRecord
    from ht_dash.tui.screens.requests import COLUMNS, INSTANCE_COLUMN, row_formatter

    record = RequestRecord(
        1, NOW, "GET\x1b[2J", "/x\x1b]52;c;QUFB\x07/y", 200, 1.0, 10, None, "bot\x9b1m"
    )
    cells = row_formatter((*COLUMNS, INSTANCE_COLUMN))(record)
    assert cells[1] == "GET" and cells[2] == "/x/y" and cells[-1] == "bot"
    assert not any("\x1b" in c or "\x07" in c for c in cells)


async def test_a_bots_requests_through_the_meter_reach_the_log():
    """The whole road: a bot → `ht-dash meter` (loopback upstream) → its database → screen 7."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from meter_harness import ScriptedUpstream, answer_ok, get, one_request, response, running_meter

    async def answer(up, seen, writer):
        if "fills" in seen.target:  # the bot went too fast on this one
            writer.write(response(429, b'{"error":"rate_limit_exceeded","retry_after":7}'))
            await writer.drain()
            return True
        return await answer_ok(up, seen, writer)

    runtime = Runtime(settings=Settings(source="meter"), clock=FixedClock(NOW))
    app = make_app(runtime, live=False)
    with ScriptedUpstream(answer) as up:
        async with running_meter(up.upstream, default_db_path()) as proxy:
            for path in ("/api/external/segments/7/summary", "/api/external/fills"):
                await one_request(proxy.port, get(path))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("7")
        screen = app.screen
        await wait_for(pilot, lambda: screen.table.row_count == 2, "the bot's two requests")
        newest, oldest = screen.table.rows
        assert (newest.status, newest.retry_after) == (429, 7.0)
        assert oldest.status == 200 and oldest.path.startswith("/segments/")
