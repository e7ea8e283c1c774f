"""Screen 3: usage per endpoint — a sortable, filterable table and advice on where quota is wasted.

The table updates in place by row key ("GET /path"): a refresh touches only the cells whose text
changed, adds and removes rows, and re-sorts only when a value in the sort column moved, so the
cursor, the sort and the filter stay as they were. The hints come from `ht_dash.insights.hints`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.text import Text
from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.events import Resize
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import RowDoesNotExist

from ht_dash.api.models import TIMEFRAME_LABELS, TIMEFRAMES, EndpointUsage, EndpointUsageReport
from ht_dash.feeds.registry import USAGE
from ht_dash.insights import format as fmt
from ht_dash.insights.hints import (
    SEVERITY_RANK,
    Hint,
    call_interval_s,
    hints_for_report,
    total_saving_per_day,
)
from ht_dash.tui.screens.base import DashScreen
from ht_dash.tui.widgets.nav import choice_strip
from ht_dash.tui.widgets.panel import DataPanel

# (key, label, width or None to fit, right-aligned, sort value, descending first)
SortValue = Callable[[EndpointUsage], Any]


def _rate(count: int, requests: int) -> float:
    return count / requests if requests else 0.0


COLUMNS: tuple[tuple[str, str, int | None, bool, SortValue, bool], ...] = (
    ("flag", " ", 1, False, lambda e: e.path, False),  # sorted by hint severity: _sort_value
    ("method", "Method", 7, False, lambda e: (e.method, e.path), False),
    ("path", "Path", None, False, lambda e: e.path, False),
    ("requests", "Requests", 9, True, lambda e: e.requests, True),
    ("share", "Share", 7, True, lambda e: e.requests, True),
    ("errors", "Errors", 7, True, lambda e: e.errors, True),
    ("error_rate", "Err %", 7, True, lambda e: _rate(e.errors, e.requests), True),
    ("throttled", fmt.THROTTLED, 6, True, lambda e: e.throttled, True),
    ("latency", "Avg ms", 7, True, lambda e: e.avg_latency_ms, True),
    ("every", "Every", 11, True, lambda e: call_interval_s(e) or math.inf, False),
)
COLUMN_KEYS = tuple(c[0] for c in COLUMNS)
RIGHT = {c[0] for c in COLUMNS if c[3]}
SORT_VALUES = {c[0]: c[4] for c in COLUMNS}
DESCENDING_FIRST = {c[0]: c[5] for c in COLUMNS}
LABELS = {c[0]: c[1] for c in COLUMNS}
# `s` walks through these, starting from the default (requests).
SORT_CYCLE = (
    "requests",
    "latency",
    "errors",
    "error_rate",
    "throttled",
    "every",
    "path",
    "method",
    "flag",
)
# "sorted by …" and the palette name a column by its header; the flag column has none.
SORT_NAMES = {key: label.lower() for key, label in LABELS.items()} | {"flag": "hints"}
# A shape per severity, so NO_COLOR and colour-blind eyes tell them apart too.
SEVERITY_GLYPH = {"high": "●", "medium": "◐", "low": "○"}
SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "blue"}
# A change in any of these columns can move a row when sorting by the key column.
SORT_DEPENDS = {
    "share": {"share", "requests"},
    "error_rate": {"error_rate", "errors", "requests"},
    "flag": {"flag", "requests"},
}
FILTER_PLACEHOLDER = "/ type part of a path · Enter keeps it · Esc clears"
NARROW_WIDTH = 150  # below this the hints go under the table
HINTS_WIDTH = 60
HINTS_SHOWN = 20  # the most important; the table marks every endpoint that has one
PATH_WIDTH_RANGE = (24, 48)
CELL_PADDING = 1  # DataTable's, on each side of every column
FIXED_COLUMNS = 3  # flag, method and path stay in view (were there any scrolling right)


SCROLLBAR_WIDTH = 2  # Textual's vertical scrollbar
# Columns that give way, first first, when the table would need a horizontal scrollbar (the
# totals line under the table still has the errors).
DROP_ORDER = ("share", "method", "errors", "error_rate", "every", "latency")


def columns_for(screen_width: int) -> tuple[tuple[str, ...], int]:
    """The columns shown at this screen width, and the path column's width: the widest set that
    fits beside the path's minimum, so the table never scrolls sideways."""
    table = screen_width - 6 - SCROLLBAR_WIDTH  # panel margins, border and padding
    if screen_width >= NARROW_WIDTH:
        table -= HINTS_WIDTH + 1
    low, high = PATH_WIDTH_RANGE
    shown = list(COLUMN_KEYS)
    widths = {c[0]: c[2] or 0 for c in COLUMNS}

    def room_for_path() -> int:
        return table - sum(widths[key] + 2 * CELL_PADDING for key in shown)

    for key in DROP_ORDER:
        if room_for_path() >= low:
            break
        shown.remove(key)
    return tuple(shown), max(low, min(high, room_for_path()))


def fit_path(path: str, width: int) -> str:
    return path if len(path) <= width else path[: width - 1] + "…"


def format_endpoint(
    e: EndpointUsage, total_requests: int, severity: str | None, path_width: int
) -> tuple[str, ...]:
    """The cell texts of one row; compared with the previous ones to update only what changed."""
    interval = call_interval_s(e)
    return (
        severity or "",
        e.method,
        fit_path(e.path, path_width),
        f"{e.requests:,}",
        fmt.percent(_rate(e.requests, total_requests)),
        f"{e.errors:,}",
        fmt.percent(_rate(e.errors, e.requests)),
        f"{e.throttled:,}",
        f"{e.avg_latency_ms:,.0f}",
        "—" if interval is None else fmt.duration(interval),
    )


class EndpointTable(DataTable):
    """The keys of every table in the app: arrows and j/k move, Home/g and End/G go to the first
    and last row (DataTable's Home/End scroll sideways), Enter opens the row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "cursor_up", "Up", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("home,g", "scroll_top", "First row", show=False),
        Binding("end,G", "scroll_bottom", "Last row", show=False),
        # the columns fit: ← / → switch screens, as everywhere
        Binding("left", "app.step_screen(-1)", "Previous screen", show=False),
        Binding("right", "app.step_screen(1)", "Next screen", show=False),
    ]


class PathCell(Text):
    """The path cell remembers its row key: DataTable's sort hands the key function cell values."""

    def __init__(self, text: str, row_key: str) -> None:
        super().__init__(text)
        self.row_key = row_key


def _cell(column: str, text: str, row_key: str) -> str | Text:
    if column == "path":
        return PathCell(text, row_key)
    if column == "flag":
        return Text(SEVERITY_GLYPH[text], style=SEVERITY_STYLE[text]) if text else ""
    if column in RIGHT:
        return Text(text, justify="right")
    return Text(text)  # a str cell would be read as markup, and method/path are server text


class EndpointsScreen(DashScreen):
    FEEDS = (USAGE,)
    PANELS = {USAGE.name: "usage-panel"}
    AUTO_FOCUS = "#endpoint-table"
    BINDINGS = [
        Binding("t", "cycle_timeframe(1)", "Timeframe", id="endpoints.timeframe"),
        Binding(
            "T", "cycle_timeframe(-1)", "Timeframe back", show=False, id="endpoints.timeframe_back"
        ),
        Binding("s", "cycle_sort", "Sort", id="endpoints.sort"),
        Binding("S", "reverse_sort", "Reverse", id="endpoints.reverse"),
        Binding("slash", "start_filter", "Filter", key_display="/", id="endpoints.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="endpoints.clear_filter"),
    ]
    DEFAULT_CSS = """
    EndpointsScreen #timeframes { height: auto; padding: 0 2; color: $text-muted; }
    EndpointsScreen #endpoints-body { height: 1fr; }
    EndpointsScreen #usage-panel { height: 1fr; width: 1fr; }
    EndpointsScreen #endpoint-table { height: 1fr; }
    EndpointsScreen #endpoint-filter { display: none; height: 1; border: none; padding: 0 1;
                                       background: $boost; }
    EndpointsScreen #endpoint-filter.-shown { display: block; }
    EndpointsScreen #endpoint-totals { height: auto; color: $text-muted; }
    EndpointsScreen #hints { width: 61; height: 1fr; border: round $warning 70%;
                             border-title-color: $text; border-title-style: bold; padding: 0 1;
                             margin: 0 1 0 0; }
    EndpointsScreen #hints-text { height: auto; }
    EndpointsScreen #endpoints-body.-narrow { layout: vertical; }
    EndpointsScreen #endpoints-body.-narrow #hints { width: 1fr; height: auto; max-height: 40%;
                                                     margin: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.report: EndpointUsageReport | None = None
        self.hints: list[Hint] | None = None
        self.filter_text = ""
        self.sort_column = "requests"
        self.sort_reverse = True
        self._endpoints: dict[str, EndpointUsage] = {}
        self._severity: dict[str, str] = {}
        self._cells: dict[str, tuple[str, ...]] = {}  # what each row shows now, by row key
        self._path_width = 0
        self._shown: tuple[str, ...] = COLUMN_KEYS

    def compose_body(self) -> ComposeResult:
        yield Static(id="timeframes")
        with Horizontal(id="endpoints-body"):
            yield DataPanel(
                Input(placeholder=FILTER_PLACEHOLDER, id="endpoint-filter"),
                EndpointTable(
                    id="endpoint-table",
                    cursor_type="row",
                    zebra_stripes=True,
                    fixed_columns=FIXED_COLUMNS,
                    cell_padding=CELL_PADDING,
                ),
                Static(id="endpoint-totals"),
                title="Endpoint usage",
                id="usage-panel",
            )
            with VerticalScroll(id="hints") as hints:
                hints.border_title = "Hints"
                yield Static("waiting for usage data…", id="hints-text")

    def on_mount(self) -> None:
        self._render_timeframes()
        self._apply_width(self.app.size.width)

    def on_resize(self, event: Resize) -> None:
        self._apply_width(event.size.width)
        self.call_after_refresh(self._render_timeframes)  # the strip breaks at the new width

    def _apply_width(self, width: int) -> None:
        """Hints beside or below the table; the path column as wide as the screen allows."""
        self.query_one("#endpoints-body").set_class(width < NARROW_WIDTH, "-narrow")
        shown, path_width = columns_for(width)
        if (shown, path_width) == (self._shown, self._path_width):
            return
        # New columns or path width change every row: rebuild once (a resize, not a refresh).
        table = self.table
        cursor_key = self._cursor_key()
        self._shown, self._path_width = shown, path_width
        table.clear(columns=True)
        table.fixed_columns = sum(1 for key in ("flag", "method", "path") if key in shown)
        self._cells.clear()
        for key, _, width_, _, _, _ in COLUMNS:
            if key in shown:
                table.add_column("", width=path_width if key == "path" else width_, key=key)
        self._label_sort_column()
        self._sync(cursor_key)

    @property
    def table(self) -> DataTable:
        return self.query_one("#endpoint-table", DataTable)

    # ---- data --------------------------------------------------------------------------------

    def render_data(self, kind: str, data: object) -> None:
        if kind != USAGE.name or not isinstance(data, EndpointUsageReport) or data is self.report:
            return
        self.report = data
        self._endpoints = {e.key: e for e in data.endpoints}
        hints = hints_for_report(data)
        hints_changed = hints != self.hints
        self.hints = hints
        severity: dict[str, str] = {}
        for hint in self.hints:  # most severe first
            severity.setdefault(hint.key, hint.severity)
        self._severity = severity
        self._sync()
        if hints_changed:
            self._render_hints()
        self._render_timeframes()

    def _matches(self, e: EndpointUsage) -> bool:
        return not self.filter_text or self.filter_text in e.path.casefold()

    def _sync(self, cursor_key: str | None = None) -> None:
        """Bring the table to the data: update changed cells, add/remove rows, re-sort if needed."""
        table = self.table
        cursor_key = cursor_key or self._cursor_key()
        total = sum(e.requests for e in self._endpoints.values())
        wanted = {k: e for k, e in self._endpoints.items() if self._matches(e)}
        reorder = False
        for key in [k for k in self._cells if k not in wanted]:
            table.remove_row(key)
            del self._cells[key]
        depends = SORT_DEPENDS.get(self.sort_column, {self.sort_column})
        for key, e in wanted.items():
            cells = format_endpoint(e, total, self._severity.get(key), self._path_width)
            old = self._cells.get(key)
            if old is None:
                row = [
                    _cell(c, t, key)
                    for c, t in zip(COLUMN_KEYS, cells, strict=True)
                    if c in self._shown
                ]
                table.add_row(*row, key=key)
                reorder = True
            elif old != cells:
                for i, (before, after) in enumerate(zip(old, cells, strict=True)):
                    column = COLUMN_KEYS[i]
                    if before != after:
                        if column in self._shown:
                            table.update_cell(key, column, _cell(column, after, key))
                        reorder = reorder or column in depends
            self._cells[key] = cells
        if reorder:
            self._sort()
        self._restore_cursor(cursor_key)
        self._render_totals(wanted.values(), total)

    def _cursor_key(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except RowDoesNotExist:
            return None

    def _restore_cursor(self, key: str | None) -> None:
        table = self.table
        if key is not None and key in self._cells:
            row = table.get_row_index(key)
            if row != table.cursor_row:
                table.move_cursor(row=row, animate=False)

    def _sort_value(self, path: PathCell) -> Any:
        key = path.row_key
        e = self._endpoints[key]
        if self.sort_column == "flag":
            primary: Any = SEVERITY_RANK.get(self._severity.get(key, ""), 9)
            return (primary, -e.requests, key)
        return (SORT_VALUES[self.sort_column](e), key)

    def _sort(self) -> None:
        self.table.sort("path", key=self._sort_value, reverse=self.sort_reverse)

    # ---- sort and filter ---------------------------------------------------------------------

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        self.sort_column = column
        self.sort_reverse = DESCENDING_FIRST[column] if reverse is None else reverse
        if column == "flag":
            self.sort_reverse = False if reverse is None else reverse
        self._label_sort_column()
        self._sort()
        if self.table.row_count:  # the best rows are the ones to see after a sort
            self.table.move_cursor(row=0, animate=False)
        self._render_totals_again()

    def action_cycle_sort(self) -> None:
        index = SORT_CYCLE.index(self.sort_column) if self.sort_column in SORT_CYCLE else -1
        self.sort_by(SORT_CYCLE[(index + 1) % len(SORT_CYCLE)])

    def action_reverse_sort(self) -> None:
        self.sort_by(self.sort_column, not self.sort_reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = event.column_key.value or ""
        if column == self.sort_column:
            self.action_reverse_sort()
        elif column in SORT_VALUES:
            self.sort_by(column)

    def _label_sort_column(self) -> None:
        table = self.table
        for key, label, _, right, _, _ in COLUMNS:
            if key not in table.columns:
                continue
            if key == self.sort_column:
                label = f"{label}{'▼' if self.sort_reverse else '▲'}"
            table.columns[key].label = Text(label, justify="right") if right else Text(label)
        table.refresh()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: the endpoint in full (every figure, also those the width left out, and
        its daily series over the same window)."""
        from ht_dash.tui.screens.endpoint_detail import EndpointDetailScreen

        endpoint = self._endpoints.get(event.row_key.value or "")
        if endpoint is None or self.report is None:
            return
        total = sum(e.requests for e in self._endpoints.values())
        hints = [h for h in self.hints or () if h.key == endpoint.key]
        self.app.push_screen(EndpointDetailScreen(endpoint, total, self.report, hints))

    def action_start_filter(self) -> None:
        box = self.query_one("#endpoint-filter", Input)
        box.add_class("-shown")
        self.call_after_refresh(box.focus)  # focusable once displayed

    def action_clear_filter(self) -> None:
        box = self.query_one("#endpoint-filter", Input)
        box.value = ""  # Input.Changed applies it
        box.remove_class("-shown")
        self.set_filter("")
        self.table.focus()

    def set_filter(self, text: str) -> None:
        text = text.strip().casefold()
        if text != self.filter_text:
            self.filter_text = text
            self._sync()

    @on(Input.Changed, "#endpoint-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#endpoint-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.remove_class("-shown")
        self.table.focus()

    # ---- timeframe ---------------------------------------------------------------------------

    def set_timeframe(self, timeframe: str) -> None:
        if timeframe not in TIMEFRAMES:
            return
        # a change fetches it again; a timeframe ends a one-day drill-down
        self.app.feeds.set_param(USAGE, timeframe=timeframe, date=None)
        self._render_timeframes()

    def action_set_timeframe(self, timeframe: str) -> None:
        self.set_timeframe(timeframe)

    def action_cycle_timeframe(self, step: int) -> None:
        index = TIMEFRAMES.index(self.app.feeds.param(USAGE, "timeframe"))
        if self.app.feeds.param(USAGE, "date") is not None:  # back from a day: the same timeframe
            step = 0
        self.set_timeframe(TIMEFRAMES[(index + step) % len(TIMEFRAMES)])

    # ---- text --------------------------------------------------------------------------------

    def _render_timeframes(self) -> None:
        wanted = self.app.feeds.param(USAGE, "timeframe")
        day = self.app.feeds.param(USAGE, "date")
        shown = self.report.timeframe if self.report else None
        if day is not None:  # drilled down from a day on the metrics screen
            loading = "" if self.report and self.report.date == day else "  [$warning]loading…[/]"
            self.query_one("#timeframes", Static).update(
                f"Day: [b reverse] {fmt.day(day, weekday=True)} [/] (from the metrics screen)"
                f"   [dim]t: back to timeframes[/]{loading}"
            )
            return
        parts = []
        for tf in TIMEFRAMES:
            label = TIMEFRAME_LABELS[tf]
            if tf == wanted:
                parts.append(f"[b reverse] {label} [/]")
            else:
                parts.append(f"[@click=screen.set_timeframe('{tf}')] {label} [/]")
        note = ""
        if shown is not None and (shown != wanted or self.report.date is not None):
            note = f"  [$warning]loading {TIMEFRAME_LABELS[wanted].lower()}…[/]"
        strip = self.query_one("#timeframes", Static)
        tail = "  [dim]t / T[/]" + note
        strip.update(choice_strip("Timeframe:", parts, tail, strip.content_size.width))

    def _render_totals(self, shown: Iterable[EndpointUsage], total: int) -> None:
        shown = list(shown)
        requests = sum(e.requests for e in shown)
        errors = sum(e.errors for e in shown)
        throttled = sum(e.throttled for e in shown)
        latency = sum(e.avg_latency_ms * e.requests for e in shown) / requests if requests else 0.0
        count = len(self._endpoints)
        if self.filter_text:
            head = (
                f"[b]{len(shown)} of {count}[/] endpoints matching “{escape(self.filter_text)}” · "
                f"{requests:,} requests ({fmt.percent(_rate(requests, total))} of all)"
            )
        elif count:
            head = f"[b]Total[/] {count} endpoints · {requests:,} requests"
        else:
            head = "No data-API calls in this timeframe"
        direction = "▼" if self.sort_reverse else "▲"
        name = SORT_NAMES[self.sort_column]
        tail = (
            f" · errors {errors:,} ({fmt.percent(_rate(errors, requests))})"
            f" · {fmt.THROTTLED} {throttled:,}"
            f" · avg {latency:,.0f} ms"
            if requests
            else ""
        )
        self.query_one("#endpoint-totals", Static).update(
            f"{head}{tail} [dim]· sorted by {name} {direction}[/]"
        )

    def _render_totals_again(self) -> None:
        total = sum(e.requests for e in self._endpoints.values())
        self._render_totals((e for e in self._endpoints.values() if self._matches(e)), total)

    def _render_hints(self) -> None:
        box = self.query_one("#hints", VerticalScroll)
        text = self.query_one("#hints-text", Static)
        hints = self.hints
        saving = total_saving_per_day(hints)
        title = f"Hints ({len(hints)})"
        if saving:
            title += f" · save ~{saving:,} calls/day"
        box.border_title = title
        if not hints:
            text.update("[$success]✓[/] No waste found: nothing is polled faster than its data "
                        "changes, and no endpoint stands out for errors or 429s.")  # fmt: skip
            return
        blocks: list[RenderableType] = []
        for hint in hints[:HINTS_SHOWN]:
            if blocks:
                blocks.append(Text())
            head = Text(
                SEVERITY_GLYPH.get(hint.severity, "●"), style=SEVERITY_STYLE.get(hint.severity, "")
            )
            head.append(f" {hint.path}", style="bold")
            head.append(f"  {hint.title}", style="dim")
            blocks.append(head)
            blocks.append(Padding(Text(hint.advice), (0, 0, 0, 2)))
        if len(hints) > HINTS_SHOWN:
            more = len(hints) - HINTS_SHOWN
            legend = f"… and {more:,} more, marked in the table (● high ◐ medium ○ low)"
            blocks += [Text(), Text(legend, style="dim")]
        text.update(Group(*blocks))

    def palette_commands(self) -> Iterable[SystemCommand]:
        for tf in TIMEFRAMES:
            yield SystemCommand(
                f"Endpoints: {TIMEFRAME_LABELS[tf].lower()}",
                "Endpoint usage timeframe (t)",
                partial(self.set_timeframe, tf),
            )
        for column in SORT_CYCLE:
            name = SORT_NAMES[column]
            yield SystemCommand(
                f"Endpoints: sort by {name}", "Sort the table (s cycles, S reverses)",
                partial(self.sort_by, column),
            )  # fmt: skip
        yield SystemCommand(
            "Endpoints: filter by path", "Show only paths containing a text (/)",
            self.action_start_filter,
        )  # fmt: skip
