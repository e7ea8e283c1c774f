"""Screen 6 driven by keys on the demo backend: paging, kind filter, sort, detail, CSV export."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ht_dash.insights.export import read_history_csv
from ht_dash.tui.screens.history import HistoryScreen
from ht_dash.tui.screens.history_detail import ExportPathScreen, HistoryDetailScreen
from ui_harness import wait_until

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


async def open_history(pilot) -> HistoryScreen:
    await pilot.press("6")
    screen = pilot.app.screen
    assert isinstance(screen, HistoryScreen)
    await wait_until(
        pilot,
        lambda: screen.table.row_count and not screen._fetch_lock.locked(),
        what="the first history page",
    )
    return screen


async def settle(pilot, screen) -> None:
    await wait_until(
        pilot,
        lambda: not screen._fetch_lock.locked() and not pilot.app.workers._workers,
        what="history to stop loading",
    )


def ids(screen) -> list[str]:
    return [e.id for e in screen.table.rows]


async def test_paging_to_the_end_loads_the_whole_history_and_stops(demo_app):
    app = demo_app(at=NOW, history_entries=130)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_history(pilot)
        total = len(app.runtime.demo_backend.history.visible(None, int(NOW.timestamp())))
        assert screen.table.row_count == 25  # the first page only
        status = str(screen.query_one("#history-status").render())
        assert "1 page loaded · more at the end" in status  # was '1 page(s)'
        for _ in range(10):
            await pilot.press("end")
            await settle(pilot, screen)
        assert screen.table.row_count == total == 130
        assert len(set(ids(screen))) == total
        assert screen.book.complete
        status = str(screen.query_one("#history-status").render())
        assert "130 entries" in status and "all loaded" in status


async def test_sorting_by_keys_puts_the_cursor_on_the_top_row(demo_app):
    app = demo_app(at=NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_history(pilot)
        await pilot.press("j", "j", "j", "k")  # j/k move here too (k was the kind filter)
        assert screen.table.cursor_row == 2 and screen.book.kind is None
        await pilot.press("s")  # date -> amount, largest first
        assert screen.book.sort_column == "amount"
        amounts = [e.amount_cents for e in screen.table.rows if e.amount_cents is not None]
        assert amounts == sorted(amounts, reverse=True)
        assert screen.table.cursor_row == 0
        await pilot.press("G", "S")
        amounts = [e.amount_cents for e in screen.table.rows if e.amount_cents is not None]
        assert amounts == sorted(amounts)
        assert screen.table.cursor_row == 0
        assert "Amount ▲" in str(screen.table.render_line(0).text)
        await pilot.press("G")
        assert screen.table.cursor_row == screen.table.row_count - 1
        await pilot.press("g")
        assert screen.table.cursor_row == 0


async def test_kind_filter_by_key_and_back(demo_app):
    app = demo_app(at=NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_history(pilot)
        await pilot.press("f")  # payments
        await settle(pilot, screen)
        kinds = {e.kind for e in screen.table.rows}
        assert kinds == {"payment"}
        assert screen.table.cursor_row == 0
        await pilot.press("F")  # back to all
        await settle(pilot, screen)
        assert len({e.kind for e in screen.table.rows}) > 2


async def test_refresh_in_place_keeps_cursor_sort_and_filter(demo_app):
    app = demo_app(at=NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_history(pilot)
        await pilot.press("f", "f")  # invoices
        await settle(pilot, screen)
        await pilot.press("s", "down", "down")
        before_rows, chosen = ids(screen), screen.table.cursor_value
        await pilot.press("r")
        await settle(pilot, screen)
        assert screen._feed_page is app.feeds.state("history").data  # the refresh arrived
        assert (screen.book.kind, screen.book.sort_column) == ("invoice", "amount")
        assert ids(screen) == before_rows
        assert screen.table.cursor_value == chosen


async def test_enter_opens_the_detail_of_the_entry_under_the_cursor(demo_app):
    app = demo_app(at=NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_history(pilot)
        await pilot.press("down")
        entry = screen.table.cursor_value
        await pilot.press("enter")
        await pilot.pause()
        detail = app.screen
        assert isinstance(detail, HistoryDetailScreen) and detail.entry == entry
        text = str(detail.query_one("#detail-fields").render())
        assert entry.id in text and entry.status in text
        await pilot.press("escape")
        assert app.screen is screen


async def test_export_all_pages_through_everything_and_tells_the_path(isolated_home, demo_app):
    app = demo_app(at=NOW, history_entries=333)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_history(pilot)
        notes = []
        app.notify = lambda message, **kw: notes.append(message)  # type: ignore[method-assign]
        await pilot.press("E")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportPathScreen)
        path = dialog.default
        assert path.parent == isolated_home / "exports"
        await pilot.press("enter")
        await settle(pilot, screen)
        exported = read_history_csv(path)
        assert [e.id for e in exported] == [e.id for e in screen.book.everything.entries]
        assert len(exported) == 333
        assert notes and str(path) in notes[-1]
        assert str(path) in str(screen.query_one("#history-status").render())


async def test_export_loaded_to_a_typed_path(tmp_path, monkeypatch, demo_app):
    monkeypatch.chdir(tmp_path)
    app = demo_app(at=NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_history(pilot)
        notes = []
        app.notify = lambda message, **kw: notes.append(message)  # type: ignore[method-assign]
        await pilot.press("f")  # payments only, as shown
        await settle(pilot, screen)
        await pilot.press("e")
        await pilot.pause()
        field = app.screen.query_one("#export-path")
        field.value = "mine"  # relative to where ht-dash runs
        await pilot.press("enter")
        await settle(pilot, screen)
        exported = read_history_csv(tmp_path / "mine.csv")
        assert [e.id for e in exported] == ids(screen)
        assert {e.kind for e in exported} == {"payment"}
        assert str(tmp_path / "mine.csv") in notes[-1]  # the whole path, not "mine.csv"


@pytest.mark.parametrize("entries", [50_000])
async def test_fifty_thousand_entries_stay_responsive(entries, demo_app):
    app = demo_app(at=NOW, history_entries=entries)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_history(pilot)
        screen = app.screen
        await screen._fetch(None, everything=True)
        await settle(pilot, screen)
        assert screen.table.row_count == entries
        await pilot.press("s")  # sort by amount over 50,000 rows, then repaint
        await pilot.pause()
        assert screen.book.sort_column == "amount"
        view = screen.book.view()
        assert len(view) == entries
        amounts = [e.amount_cents for e in view if e.amount_cents is not None]
        assert amounts in (sorted(amounts), sorted(amounts, reverse=True))
        assert all(e.amount_cents is None for e in view[len(amounts) :])  # no amount: last
        # How fast is measured by benchmarks/run.py (budget 0.1 s), not asserted by a timed test.


def test_history_snapshot(snap_compare, demo_app):
    async def run_before(pilot) -> None:
        screen = await open_history(pilot)
        await pilot.press("down", "down")
        await settle(pilot, screen)

    assert snap_compare(demo_app(at=NOW), terminal_size=(100, 30), run_before=run_before)



async def test_a_401_on_a_later_page_opens_the_login_and_stops_polling(demo_app):
    from ht_dash.tui.screens.login import LoginScreen

    app = demo_app(at=NOW, history_entries=130)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_history(pilot)
        app.runtime.demo_backend.set_fault("/account/history", 401)
        await pilot.press("end")  # the cursor nears the end: the next page is asked for
        await settle(pilot, screen)
        assert isinstance(app.screen, LoginScreen)
        assert app.feeds.scheduler.auth_failed is not None
        assert screen.table.row_count == 25  # what was loaded stays


async def test_the_detail_shows_the_whole_text_and_w_opens_it_in_the_web_dashboard(
    demo_app, monkeypatch
):
    from ht_dash.api.service import WEB_DASHBOARD
    from ht_dash.tui import web

    opened = []
    monkeypatch.setattr(web, "_open", lambda url: opened.append(url) or True)
    app = demo_app(at=NOW)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await open_history(pilot)
        entry = screen.table.cursor_value
        await pilot.press("enter")
        await pilot.pause()
        detail = app.screen
        assert isinstance(detail, HistoryDetailScreen)
        description = str(detail.query_one("#detail-description").render())
        assert " ".join(description.split()) == entry.description  # the text in full, wrapped
        assert "w: open in the web dashboard" in str(detail.query_one(".dialog-help").render())
        await pilot.press("w")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert opened == [WEB_DASHBOARD]
        assert any(entry.reference in n.message for n in app._notifications)


async def test_without_a_browser_the_address_goes_to_the_clipboard(demo_app, monkeypatch):
    from ht_dash.api.service import WEB_DASHBOARD
    from ht_dash.tui import web

    monkeypatch.setattr(web, "_open", lambda url: False)
    app = demo_app(at=NOW)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_history(pilot)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("w")
        await app.workers.wait_for_complete()
        await pilot.pause()
        # the toast wraps a long address over lines: selecting it by hand would copy breaks
        assert app.clipboard == WEB_DASHBOARD
        assert any("clipboard" in n.message for n in app._notifications)
