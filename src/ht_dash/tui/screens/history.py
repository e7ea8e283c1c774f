"""Screen 6: support & billing history — paged as you scroll, filtered by kind, sorted, exported.

The table is virtual (only visible rows are drawn), so 50,000 loaded entries paint as fast as 50.
The app's history feed (`HISTORY`) brings the newest page (and, on refresh, new or changed
entries on top); this screen fetches the following pages itself, through the feed engine's gate,
when the cursor nears the end.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path

from rich.markup import escape
from textual import events, on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.widgets import Input, Static

from ht_dash.api.errors import HtError
from ht_dash.api.models import HistoryEntry, HistoryPage
from ht_dash.feeds.registry import HISTORY
from ht_dash.insights.export import ExportError, default_export_path, write_history_csv
from ht_dash.insights.format import MISSING, money_or_none
from ht_dash.insights.history_view import (
    BULK_PAGE_SIZE,
    KIND_CYCLE,
    KIND_LABELS,
    PAGE_SIZE,
    SORT_COLUMNS,
    HistoryBook,
    PageRequest,
)
from ht_dash.paths import export_dir
from ht_dash.tui.screens.base import DashScreen
from ht_dash.tui.screens.history_detail import (
    ExportPathScreen,
    HistoryDetailScreen,
    kind_label,
)
from ht_dash.tui.widgets.nav import choice_strip
from ht_dash.tui.widgets.panel import DataPanel
from ht_dash.tui.widgets.virtual_table import Column, VirtualTable, fit_columns

COLUMNS = (
    Column("date", "Date", 16),
    Column("kind", "Kind", 11),
    Column("description", "Description", None, min_width=10),
    Column("status", "Status", 9),
    Column("amount", "Amount", 10, justify="right"),
)
# While the description would get fewer than DESCRIPTION_MIN cells, the time of day goes from the
# date, then the status, then the kind (Enter shows every field).
GIVE_WAY = (Column("date", "Date", 10), "status", "kind")
DESCRIPTION_MIN = 22
TABLE_MARGIN = 7  # panel margins, border, padding and the vertical scrollbar
# Sorting a column first sorts it this way (True: descending).
DEFAULT_DESCENDING = {"date": True, "amount": True}
SORT_LABELS = {c.key: c.label.lower() for c in COLUMNS}


def settle_bulk_load() -> None:
    """After every page is loaded: collect once, then freeze what is left. Tens of thousands of
    entries live on, and each later full collection walked them all (a 100+ ms pause that landed
    on a sort keypress). Entries hold no reference cycles: those dropped later are still freed."""
    gc.collect()
    gc.freeze()


FILTER_PLACEHOLDER = "/ type part of a description, reference or status · Enter keeps · Esc clears"


def searchable_text(e: HistoryEntry) -> str:
    return " ".join((e.description, e.kind, e.status, e.reference or "", e.id)).casefold()


CELLS: dict[str, Callable[[HistoryEntry], str]] = {
    "date": lambda e: f"{e.at:%Y-%m-%d %H:%M}",
    "kind": lambda e: kind_label(e.kind),
    "description": lambda e: e.description,
    "status": lambda e: e.status,
    "amount": lambda e: money_or_none(e.amount_cents, e.currency) or MISSING,
}


def row_formatter(columns: Sequence[Column]) -> Callable[[HistoryEntry], tuple[str, ...]]:
    """Cell texts for these columns; a date column too narrow for the time shows the day."""
    cells = [
        (lambda e: f"{e.at:%Y-%m-%d}") if c.key == "date" and (c.width or 0) < 16 else CELLS[c.key]
        for c in columns
    ]
    return lambda e: tuple(cell(e) for cell in cells)


class HistoryScreen(DashScreen):
    FEEDS = (HISTORY,)
    PANELS = {HISTORY.name: "history-panel"}
    BINDINGS = [
        # k moves up in the table, as in every table: the kind filter is f / F.
        Binding("f", "cycle_kind(1)", "Kind", id="history.kind"),
        Binding("F", "cycle_kind(-1)", "Kind back", show=False, id="history.kind_back"),
        Binding("s", "cycle_sort", "Sort", id="history.sort"),
        Binding("S", "reverse_sort", "Reverse", id="history.reverse"),
        Binding("slash", "start_filter", "Filter", key_display="/", id="history.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="history.clear_filter"),
        Binding("e", "export(False)", "Export", id="history.export"),
        Binding("E", "export(True)", "Export all", id="history.export_all"),
        Binding("w", "web_dashboard", "Web dashboard", id="history.web"),
    ]
    AUTO_FOCUS = "#history-table"
    DEFAULT_CSS = """
    HistoryScreen #history-kinds { height: auto; padding: 0 2; color: $text-muted; }
    HistoryScreen #history-panel { height: 1fr; }
    HistoryScreen #history-status { height: 1; color: $text-muted; }
    HistoryScreen #history-filter { display: none; height: 1; border: none; padding: 0 1;
                                    background: $boost; }
    HistoryScreen #history-filter.-shown { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.book = HistoryBook()
        self._feed_page: HistoryPage | None = None
        self._fetch_lock = asyncio.Lock()
        self._load_error: HtError | None = None
        self._last_export: str | None = None
        self._busy: str | None = None
        self.filter_text = ""  # what `/` typed: entries whose text contains it

    def compose_body(self) -> ComposeResult:
        yield Static(id="history-kinds")
        yield DataPanel(
            Input(placeholder=FILTER_PLACEHOLDER, id="history-filter"),
            VirtualTable(
                COLUMNS, row_formatter(COLUMNS), empty_text="no entries", id="history-table"
            ),
            Static(id="history-status"),
            title="Support & billing history",
            id="history-panel",
        )

    def on_mount(self) -> None:
        self._fit_columns(self.app.size.width)
        self.table.set_sort(self.book.sort_column, self.book.sort_reverse)
        self._render_kinds()
        self._render_status()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#history-table", VirtualTable)

    # ---- data --------------------------------------------------------------------------------

    def render_data(self, kind: str, data: object) -> None:
        if kind != HISTORY.name or not isinstance(data, HistoryPage) or data is self._feed_page:
            return
        self._feed_page = data
        if self.book.everything.started:
            self.book.merge_newest(data)
        else:
            self.book.add_page(PageRequest(None, None), data)
        self._show()
        self.call_after_refresh(self._fill_view)

    def _fill_view(self) -> None:
        """Load pages until the rows fill the view (a tall terminal shows more than one page)."""
        if not self._fetch_lock.locked() and self._needs_more():
            self.load_more()

    def on_resize(self, event: events.Resize) -> None:
        self._fit_columns(event.size.width)
        self.call_after_refresh(self._render_kinds)  # the strip breaks at the new width
        self.call_after_refresh(self._fill_view)

    def _fit_columns(self, width: int) -> None:
        columns = fit_columns(COLUMNS, width - TABLE_MARGIN, GIVE_WAY, DESCRIPTION_MIN)
        table = self.table
        if columns != table.columns:
            table.columns = columns
            table.format_row = row_formatter(columns)
            table.set_rows(table.rows)  # widths and the scroll area follow the new columns

    def _show(self, *, cursor_to_top: bool = False) -> None:
        """Put the current view in the table, keeping the cursor on the same entry."""
        table = self.table
        current = table.cursor_value
        rows = self.rows()
        target = 0
        if current is not None and not cursor_to_top:
            target = table.cursor_row
            if target >= len(rows) or rows[target].id != current.id:
                target = next((i for i, e in enumerate(rows) if e.id == current.id), target)
        table.set_rows(rows, cursor=target)
        self._render_status()

    def rows(self) -> list[HistoryEntry]:
        """The loaded entries of the kind, sorted, and matching the `/` filter."""
        rows = self.book.view()
        if not self.filter_text:
            return rows
        return [e for e in rows if self.filter_text in searchable_text(e)]

    # ---- text filter (/) ---------------------------------------------------------------------

    def action_start_filter(self) -> None:
        box = self.query_one("#history-filter", Input)
        box.add_class("-shown")
        self.call_after_refresh(box.focus)  # focusable once displayed

    def action_clear_filter(self) -> None:
        box = self.query_one("#history-filter", Input)
        box.value = ""  # Input.Changed applies it
        box.remove_class("-shown")
        self.table.focus()

    @on(Input.Changed, "#history-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        text = event.value.strip().casefold()
        if text != self.filter_text:
            self.filter_text = text
            self._show(cursor_to_top=True)
            self._fill_view()

    @on(Input.Submitted, "#history-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.remove_class("-shown")
        self.table.focus()

    def on_virtual_table_cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        # A fetch in progress re-checks the need after each page; no second one.
        if not self._fetch_lock.locked() and self._needs_more():
            self.load_more()

    def _needs_more(self) -> bool:
        if self.book.next_request() is None:
            return False
        table = self.table
        return table.cursor_row >= table.row_count - table.visible_rows

    @work(group="history-more", exit_on_error=False)
    async def load_more(self) -> None:
        await self._fetch(self.book.kind, everything=False)

    async def _fetch(self, kind: str | None, *, everything: bool) -> bool:
        """Fetch pages of `kind` while needed (or all of them); False if a request failed."""
        async with self._fetch_lock:
            ok = await self._fetch_pages(kind, everything=everything)
        if everything:
            settle_bulk_load()
        if ok and everything and self._needs_more():
            self.load_more()
        return ok

    async def _fetch_pages(self, kind: str | None, *, everything: bool) -> bool:
        self._load_error = None
        pages = 0
        while (request := self.book.next_request_for(kind)) is not None:
            if not everything and (kind != self.book.kind or not self._needs_more()):
                break
            try:
                limit = BULK_PAGE_SIZE if everything else PAGE_SIZE
                page = await self.app.feeds.request(  # through the gate: 401 opens the login
                    lambda source, request=request, limit=limit: source.history(
                        kind=request.kind, cursor=request.cursor, limit=limit
                    )
                )
            except HtError as exc:
                self._load_error = exc
                self.notify(
                    f"{exc.message} — {exc.hint}" if exc.hint else exc.message,
                    title=f"History: {exc.title}",
                    severity="error",
                )
                self._render_status()
                return False
            self.book.add_page(request, page)
            pages += 1
            if everything and self._busy:
                self._busy = (
                    f"loading every page for the export… {len(self.book.entries_of(kind)):,}"
                )
            # Re-sorting 50,000 rows for every page would be wasted: show every 10th page.
            if not everything or pages % 10 == 0 or self.book.next_request_for(kind) is None:
                self._show()
            else:
                self._render_status()
        return True

    # ---- kind and sort -----------------------------------------------------------------------

    def set_kind(self, kind: str | None) -> None:
        self.book.set_kind(kind)
        self._render_kinds()
        self._show(cursor_to_top=True)
        if self._needs_more():
            self.load_more()

    def action_set_kind(self, kind: str) -> None:
        self.set_kind(kind or None)

    def action_cycle_kind(self, step: int) -> None:
        index = KIND_CYCLE.index(self.book.kind)
        self.set_kind(KIND_CYCLE[(index + step) % len(KIND_CYCLE)])

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        if reverse is None:
            reverse = DEFAULT_DESCENDING.get(column, False)
        self.book.set_sort(column, reverse)
        self.table.set_sort(column, reverse)
        self._show(cursor_to_top=True)  # the best rows are the ones to see after a sort

    def action_cycle_sort(self) -> None:
        index = SORT_COLUMNS.index(self.book.sort_column)
        self.sort_by(SORT_COLUMNS[(index + 1) % len(SORT_COLUMNS)])

    def action_reverse_sort(self) -> None:
        self.sort_by(self.book.sort_column, not self.book.sort_reverse)

    def on_virtual_table_header_clicked(self, event: VirtualTable.HeaderClicked) -> None:
        if event.column == self.book.sort_column:
            self.action_reverse_sort()
        else:
            self.sort_by(event.column)

    def on_virtual_table_row_activated(self, event: VirtualTable.RowActivated) -> None:
        entry = self.table.cursor_value
        if entry is not None:
            self.app.push_screen(HistoryDetailScreen(entry))

    # ---- export ------------------------------------------------------------------------------

    def action_export(self, everything: bool) -> None:
        kind = self.book.kind
        what_kind = "" if kind is None else f"{kind_label(kind).lower()} "
        default = default_export_path(export_dir(), self.app.clock.now(), kind)
        if everything:
            left = "" if self.book.complete else " (the remaining pages are loaded first)"
            prompt = f"Export every {what_kind}entry{left} to:"
        else:
            count = len(self.rows())
            if not count:
                self.notify("Nothing loaded to export yet", severity="warning")
                return
            more = "" if self.book.complete else " (more on the server: E exports all)"
            prompt = (
                f"Export the {count:,} loaded {what_kind}entries{more}, in the order shown, to:"
            )
        self.app.push_screen(
            ExportPathScreen(prompt, default), partial(self._export_to, kind, everything)
        )

    def _export_to(self, kind: str | None, everything: bool, path: Path | None) -> None:
        if path is not None:
            self.export(kind, everything, path)

    @work(group="history-export", exit_on_error=False)
    async def export(self, kind: str | None, everything: bool, path: Path) -> None:
        if everything:
            self._busy = "loading every page for the export…"
            self._render_status()
            try:
                if not await self._fetch(kind, everything=True):
                    self.notify(
                        "Export cancelled: not every page could be loaded", severity="error"
                    )
                    return
            finally:
                self._busy = None
            rows = self.book.sorted_entries(kind)
        else:
            rows = list(self.rows())
        try:
            count = await asyncio.to_thread(write_history_csv, rows, path)
        except ExportError as exc:
            self.notify(f"{exc} — choose another path", title="Export failed", severity="error")
            return
        path = path.absolute()  # the whole path, whatever was typed
        self._last_export = f"exported {count:,} to {path}"
        self.notify(f"{count:,} entries written to {path}", title="Exported", timeout=10)
        self._render_status()

    # ---- text --------------------------------------------------------------------------------

    def _render_kinds(self) -> None:
        parts = []
        for kind in KIND_CYCLE:
            label = KIND_LABELS[kind]
            if kind == self.book.kind:
                parts.append(f"[b reverse] {label} [/]")
            else:
                parts.append(f"[@click=screen.set_kind('{kind or ''}')] {label} [/]")
        strip = self.query_one("#history-kinds", Static)
        strip.update(choice_strip("Kind:", parts, "  [dim]f / F[/]", strip.content_size.width))

    def _render_status(self) -> None:
        book = self.book
        shown = self.table.row_count
        source = book.source
        parts = [f"{shown:,} {'entry' if shown == 1 else 'entries'}"]
        if self.filter_text:
            parts[0] += f" matching “{escape(self.filter_text)}”"
        if book.kind is not None and book.filtered_locally:
            parts[0] += f" of {len(book.everything):,}"
        order = "▼" if book.sort_reverse else "▲"
        parts.append(f"sorted by {SORT_LABELS[book.sort_column]} {order}")
        if self._busy:
            parts.append(self._busy)
        elif self._load_error is not None:
            parts.append(
                f"[$text-error]⚠ {escape(self._load_error.message)}[/] — move to the end to retry"
            )
        elif source.done:
            note = " (server repeated a page cursor; stopped)" if source.repeated_cursor else ""
            parts.append(f"all loaded{note}")
        elif source.started:
            pages = "1 page" if source.pages == 1 else f"{source.pages:,} pages"
            parts.append(f"{pages} loaded · more at the end")
        if self._last_export:
            parts.append(self._last_export)
        self.query_one("#history-status", Static).update(" · ".join(parts))

    def action_web_dashboard(self) -> None:
        """The history the API does not offer to tokens is in the web dashboard."""
        from ht_dash.tui.web import open_web_dashboard

        self.run_worker(
            open_web_dashboard(self.app, "Billing and support history"),
            group="history-web",
            exit_on_error=False,
        )

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "History: open the web dashboard",
            "Billing and support history in your browser (w)",
            self.action_web_dashboard,
        )
        for kind in KIND_CYCLE:
            yield SystemCommand(
                f"History: show {KIND_LABELS[kind].lower()}",
                "Filter the history by kind (f)",
                partial(self.set_kind, kind),
            )
        for column in SORT_COLUMNS:
            yield SystemCommand(
                f"History: sort by {SORT_LABELS[column]}",
                "Sort the history (s cycles, S reverses)",
                partial(self.sort_by, column),
            )
        yield SystemCommand(
            "History: export loaded entries to CSV", "Write what is loaded (e)",
            partial(self.action_export, False),
        )  # fmt: skip
        yield SystemCommand(
            "History: export all entries to CSV", "Load every page, then write (E)",
            partial(self.action_export, True),
        )  # fmt: skip
