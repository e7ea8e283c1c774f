"""Screen 7 · the live request log: the bot's latest requests through the meter, newest first.

The `REQUESTS` feed polls every second for what is newer than the newest id held
(`RequestLog.after_id`, its `after_id` parameter); this screen adds each page to the log, moves
the parameter on, and shows the log in a virtual table,
so 100,000 rows cost what 30 do. `f` stops/starts following, `/` filters by text, `s` by status
class, `e` by the endpoint under the cursor, Enter shows one request.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from ht_dash.api.models import RequestLogPage, RequestRecord
from ht_dash.feeds.registry import REQUESTS
from ht_dash.insights.request_log import (
    STATUS_CYCLE,
    LogFilter,
    RequestLog,
    endpoint_key,
)
from ht_dash.sanitize import terminal_safe
from ht_dash.tui.screens.base import DashScreen
from ht_dash.tui.widgets.panel import DataPanel
from ht_dash.tui.widgets.virtual_table import Column, VirtualTable, fit_columns

COLUMNS = (
    Column("at", "Time", 12),
    Column("method", "Method", 6),
    Column("path", "Route", None, min_width=12),
    Column("status", "Status", 6, justify="right"),
    Column("latency", "Latency", 8, justify="right"),
    Column("bytes", "Bytes", 7, justify="right"),
    Column("retry", "Retry", 5, justify="right"),
)
INSTANCE_COLUMN = Column("instance", "Instance", 10)
# Columns that give way, first first, when the route would get fewer than ROUTE_MIN cells (Enter
# still shows every field): time, route and status stay.
DROP_ORDER = ("bytes", "method", "retry", "instance", "latency")
ROUTE_MIN = 18
TABLE_MARGIN = 7  # panel margins, border, padding and the vertical scrollbar
NO_DATA_TEXT = (
    "no requests recorded yet — run your bot through the meter: "
    "ht-dash run -- python bot.py (or start `ht-dash meter` and point the bot at "
    "http://127.0.0.1:8787/api/external)"
)


def human_bytes(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"


CELLS: dict[str, Callable[[RequestRecord], str]] = {
    "at": lambda r: f"{r.at:%H:%M:%S}.{r.at.microsecond // 1000:03d}",
    "method": lambda r: terminal_safe(r.method),
    "path": lambda r: terminal_safe(r.path),
    "status": lambda r: str(r.status),
    "latency": lambda r: f"{r.latency_ms:,.0f} ms",
    "bytes": lambda r: human_bytes(r.bytes),
    "retry": lambda r: "" if r.retry_after is None else f"{r.retry_after:g}s",
    "instance": lambda r: terminal_safe(r.instance or ""),
}


def columns_for(screen_width: int, *, instances: bool) -> tuple[Column, ...]:
    """The columns shown at this screen width: the least important give way until the route has
    ROUTE_MIN cells, so the table never scrolls sideways."""
    columns = (*COLUMNS, INSTANCE_COLUMN) if instances else COLUMNS
    return fit_columns(columns, screen_width - TABLE_MARGIN, DROP_ORDER, ROUTE_MIN)


def row_formatter(columns: tuple[Column, ...]) -> Callable[[RequestRecord], tuple[str, ...]]:
    cells = [CELLS[c.key] for c in columns]
    return lambda r: tuple(cell(r) for cell in cells)


class RequestDetailScreen(ModalScreen[None]):
    """Every field of one request."""

    DEFAULT_CSS = """
    RequestDetailScreen { align: center middle; background: $background 60%; }
    RequestDetailScreen > Vertical {
        width: 90%; max-width: 80; height: auto; border: round $accent;
        background: $surface; padding: 0 1;
    }
    RequestDetailScreen .dialog-help { color: $text-muted; }
    """
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="requests.detail.close")]

    def __init__(self, record: RequestRecord) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        r = self.record
        rows = [
            ("Time", f"{r.at:%Y-%m-%d %H:%M:%S}.{r.at.microsecond // 1000:03d} UTC"),
            ("Request", f"{terminal_safe(r.method)} {terminal_safe(r.path)}"),
            ("Status", f"{r.status} ({r.status_class})"),
            ("Latency", f"{r.latency_ms:,.1f} ms until the response headers"),
            ("Bytes", f"{r.bytes:,} ({human_bytes(r.bytes)})"),
            ("Retry after", "—" if r.retry_after is None else f"{r.retry_after:g} s"),
            ("Instance", terminal_safe(r.instance) if r.instance else "—"),
            ("Request id", str(r.id)),
        ]
        body = "\n".join(f"[dim]{name:<12}[/] {escape(value)}" for name, value in rows)
        with Vertical() as box:
            box.border_title = f"{terminal_safe(r.method)} {terminal_safe(r.path)}"
            yield Static(body, id="request-fields")
            yield Label("Esc / Enter: close", classes="dialog-help")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class RequestsScreen(DashScreen):
    FEEDS = (REQUESTS,)
    PANELS = {"requests": "requests-panel"}
    BINDINGS = [
        Binding("f", "toggle_follow", "Follow", id="requests.follow"),
        Binding("slash", "search", "Filter", key_display="/", id="requests.search"),
        Binding("s", "cycle_status(1)", "Status", id="requests.status"),
        Binding("S", "cycle_status(-1)", "Status back", show=False, id="requests.status_back"),
        Binding("e", "filter_endpoint", "Endpoint", id="requests.endpoint"),
        Binding("x", "clear_filters", "Clear filters", id="requests.clear"),
    ]
    AUTO_FOCUS = "#requests-table"
    DEFAULT_CSS = """
    RequestsScreen #requests-panel { height: 1fr; }
    RequestsScreen #requests-status { height: 1; color: $text-muted; }
    RequestsScreen #requests-search { display: none; height: 3; margin: 0 1; }
    RequestsScreen #requests-search.-open { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._page: RequestLogPage | None = None
        self._instances: set[str] = set()  # the Instance column shows once there are two
        self.request_log = RequestLog()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#requests-table", VirtualTable)

    def compose_body(self) -> ComposeResult:
        yield DataPanel(
            VirtualTable(
                COLUMNS, row_formatter(COLUMNS), empty_text=NO_DATA_TEXT, id="requests-table"
            ),
            Static(id="requests-status"),
            title="Request log",
            id="requests-panel",
        )
        yield Input(
            placeholder="filter: text in method, route, status (Esc clears)", id="requests-search"
        )

    def on_mount(self) -> None:
        self._fit_columns(self.app.size.width)
        self._show()

    def on_resize(self, event: events.Resize) -> None:
        self._fit_columns(event.size.width)

    def _fit_columns(self, width: int) -> None:
        columns = columns_for(width, instances=len(self._instances) >= 2)
        table = self.table
        if columns != table.columns:
            table.columns = columns
            table.format_row = row_formatter(columns)
            table.set_rows(table.rows)  # widths and the scroll area follow the new columns

    # ---- data --------------------------------------------------------------------------------

    def render_data(self, kind: str, data: object) -> None:
        if kind != "requests" or not isinstance(data, RequestLogPage) or data is self._page:
            return
        self._page = data
        result = self.request_log.ingest(data)
        self.app.feeds.set_param(REQUESTS, after_id=self.request_log.after_id, fetch_now=False)
        if result.replaced:
            # This page answered the old log's id: ask the new log from its start now.
            self.app.feeds.refresh([REQUESTS])
            self.notify(
                "The meter's log was replaced (database rotated or deleted): showing the new one.",
                title="Request log",
                severity="warning",
            )
        if len(self._instances) < 2:
            self._instances |= {r.instance for r in data.requests if r.instance}
            if len(self._instances) >= 2:
                self._fit_columns(self.app.size.width)
        if result.added or result.replaced:
            self._show(shift=result.shown if self.request_log.following else 0)
        elif data.log_id == "" or not self.request_log.total:
            self._render_status()

    def _show(self, *, shift: int = 0) -> None:
        """Put the log's view in the table. Rows arriving on top push the cursor down with its
        row, unless it is on the newest row (following: it stays on top)."""
        table = self.table
        cursor = table.cursor_row
        if shift and cursor > 0:
            cursor += shift
        table.set_rows(self.request_log.view(), cursor=None)
        if cursor != table.cursor_row:
            table.move_cursor(cursor)
        self._render_status()

    def _render_status(self) -> None:
        log = self.request_log
        shown = len(log.view())
        total = f"{shown:,} shown of {log.total:,}" if log.filter.active else f"{shown:,} requests"
        parts = [total]
        if log.filter.active:
            parts.append(f"filter: {log.filter.describe()}")
        if log.following:
            parts.append("following")
        else:
            waiting = log.waiting()
            parts.append(f"paused · {waiting:,} new" if waiting else "paused")
        # One fixed-height line: no layout pass for it each second (it cost most of the CPU).
        self.query_one("#requests-status", Static).update(escape(" · ".join(parts)), layout=False)

    # ---- actions -----------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.request_log.set_following(not self.request_log.following)
        if self.request_log.following:
            self.table.set_rows(self.request_log.view(), cursor=0)
        self._render_status()

    def _apply_filter(self, log_filter: LogFilter) -> None:
        self.request_log.set_filter(log_filter)
        self.table.set_rows(self.request_log.view(), cursor=0)
        self._render_status()

    def action_cycle_status(self, step: int) -> None:
        current = STATUS_CYCLE.index(self.request_log.filter.status_class)
        status = STATUS_CYCLE[(current + step) % len(STATUS_CYCLE)]
        f = self.request_log.filter
        self._apply_filter(LogFilter(status, f.endpoint, f.text))

    def action_filter_endpoint(self) -> None:
        f = self.request_log.filter
        if f.endpoint is not None:
            self._apply_filter(LogFilter(f.status_class, None, f.text))
            return
        record = self.table.cursor_value
        if record is None:
            self.notify("No request under the cursor to take the endpoint from.", timeout=3)
            return
        self._apply_filter(LogFilter(f.status_class, endpoint_key(record), f.text))

    def action_clear_filters(self) -> None:
        self._close_search()
        self._apply_filter(LogFilter())

    def action_search(self) -> None:
        search = self.query_one("#requests-search", Input)
        search.value = self.request_log.filter.text
        search.add_class("-open")
        search.focus()

    def _close_search(self) -> None:
        search = self.query_one("#requests-search", Input)
        search.remove_class("-open")
        self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "requests-search":
            f = self.request_log.filter
            self._apply_filter(LogFilter(f.status_class, f.endpoint, event.value.strip()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "requests-search":
            event.stop()
            self._close_search()

    def on_key(self, event) -> None:
        search = self.query_one("#requests-search", Input)
        if event.key == "escape" and search.has_focus:
            event.stop()
            event.prevent_default()
            search.value = ""
            self._close_search()

    def on_virtual_table_row_activated(self, event: VirtualTable.RowActivated) -> None:
        record = self.table.cursor_value
        if record is not None:
            self.app.push_screen(RequestDetailScreen(record))
