"""A daily bar chart in block characters: y-axis labels, dates along the bottom, one marked day.

Chosen over textual-plotext (pins plotext < 6, one release in a year, global plot state) and over
Textual's Sparkline (no axes, no labels): a user needs to read "how many, which day" at 80x24.
The layout arithmetic (`bucket_columns`, `nice_ceiling`, `bar_column`) has no Textual in it.

The scale says what it is: an axis that does not start at 0 says so in the title ("axis from
80 ms"); when a few days tower over the others (`insights.chart_scale`), the axis fits the others
and those days reach the top with a break mark (╱) and their value printed beside them
("clipped at 40" in the title) — unless the owner asks for the full scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from ht_dash.insights.chart_scale import Clip, clip_for, clipped
from ht_dash.insights.format import day_label  # the one spelling of a day under a chart

EIGHTHS = " ▁▂▃▄▅▆▇█"
MAX_BAR_WIDTH = 6
DATE_LABEL_WIDTH = len(day_label(date(2026, 12, 1)))
# Axis labels take at least this many cells, so charts side by side ("6,500", "780 ms") get the
# same plot width, the same columns and so the same dates under them.
LABEL_MIN_WIDTH = 7
GRID = "┈"
FULL_BLOCK = EIGHTHS[-1]
MARK_BLOCK = "▓"  # the marked (incident) day: visible without colour
BREAK = "╱"  # the top of a bar cut by a clipped scale


NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
NO_DATA = math.nan  # a day with nothing to show (an average latency of no requests): no bar


def known(values: Sequence[float]) -> list[float]:
    """The values that are not NO_DATA."""
    return [v for v in values if not math.isnan(v)]


def highest(values: Sequence[float]) -> float:
    """The highest known value; NO_DATA when none is known."""
    return max(known(values), default=NO_DATA)


def nice_ceiling(value: float) -> float:
    """The smallest "round" number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) not below value."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in NICE_STEPS:
        candidate = step * 10**exponent
        if candidate >= value * (1 - 1e-9):
            return candidate
    return 10.0 ** (exponent + 1)


def axis_scale(values: Sequence[float], rows: int, *, zero_based: bool) -> tuple[float, float]:
    """(low, per_row): each of `rows` rows covers a round `per_row`, the axis starts at `low`
    (0, or a multiple of per_row below the data when not zero-based), and the top covers the max."""
    values = known(values)
    top = max(values, default=0.0)
    bottom = min(values, default=0.0)
    # not zero-based: start below the lowest value by half the range (none: one flat level at 0)
    guess = 0.0 if zero_based or top <= bottom else max(0.0, bottom - (top - bottom) * 0.5)
    per_row = nice_ceiling(max(top - guess, 1e-9) / rows)
    while True:
        low = math.floor(guess / per_row) * per_row
        if low + per_row * rows >= top * (1 - 1e-9):
            return low, per_row
        per_row = nice_ceiling(per_row * 1.0001)


@dataclass(frozen=True, slots=True)
class Column:
    """One drawn column: the days it covers (indices into the data) and the value it shows."""

    first: int
    last: int
    value: float


def bucket_columns(values: Sequence[float], slots: int) -> list[Column]:
    """One column per value, or, when there are more values than slots, `slots` columns each
    showing the max of its days (so a one-day spike stays visible when 90 days share 40 columns)."""
    n = len(values)
    if n == 0 or slots <= 0:
        return []
    if n <= slots:
        return [Column(i, i, v) for i, v in enumerate(values)]
    bounds = [i * n // slots for i in range(slots + 1)]
    return [
        Column(a, b - 1, highest(values[a:b])) for a, b in zip(bounds, bounds[1:], strict=False)
    ]


def bar_column(value: float, low: float, high: float, rows: int) -> list[str]:
    """The cells of one bar, top row first, in 1/8 cells; a non-zero value shows at least 1/8."""
    span = high - low
    if math.isnan(value):
        return [" "] * rows
    eighths = 0 if span <= 0 else round((value - low) / span * rows * 8)
    eighths = max(0, min(rows * 8, eighths))
    if eighths == 0 and value > low and value > 0:
        eighths = 1
    cells = []
    for row in range(rows):
        floor = (rows - 1 - row) * 8
        cells.append(EIGHTHS[max(0, min(8, eighths - floor))])
    return cells


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one column is drawn: its first cell, the bar's width and the gap after it."""

    at: int
    bar: int
    gap: int


def column_slots(count: int, width: int) -> list[Slot]:
    """Lay `count` columns into `width` cells. Narrow columns (< 3 cells) share the width out
    evenly with no gaps, so the bars read as an area that fills the chart; wider ones get a
    uniform bar (up to MAX_BAR_WIDTH) and a one-cell gap."""
    if count <= 0:
        return []
    even = width // count
    if even >= 3:
        slot = min(MAX_BAR_WIDTH, even)
        return [Slot(i * slot, slot - 1, 1) for i in range(count)]
    edges = [i * width // count for i in range(count + 1)] if even >= 1 else list(range(count + 1))
    return [Slot(a, max(1, b - a), 0) for a, b in zip(edges, edges[1:], strict=False)]


def date_axis(dates: Sequence[date], columns: Sequence[Column], slots: Sequence[Slot]) -> str:
    """Dates under their columns: the first and the last always, more between when there is room."""
    if not columns:
        return ""
    width = max(slots[-1].at + slots[-1].bar, DATE_LABEL_WIDTH * 2 + 1)
    line = [" "] * width

    def place(at: int, text: str) -> bool:
        at = max(0, min(width - len(text), at))
        lo, hi = max(0, at - 1), min(width, at + len(text) + 1)
        if any(c != " " for c in line[lo:hi]):
            return False
        line[at : at + len(text)] = text
        return True

    place(0, day_label(dates[columns[0].first]))
    if columns[-1].last != columns[0].first:  # one day is labelled once
        place(width - DATE_LABEL_WIDTH, day_label(dates[columns[-1].last]))
    spacing = DATE_LABEL_WIDTH * 2 + 2
    next_free = spacing
    for column, slot in zip(columns, slots, strict=True):
        if slot.at >= next_free and place(slot.at, day_label(dates[column.first])):
            next_free = slot.at + spacing
    return "".join(line).rstrip()


@dataclass(frozen=True, slots=True)
class Scale:
    """The y axis: from `low`, `per_row` a row; `clip` set when outliers are drawn off it."""

    low: float
    per_row: float
    rows: int
    clip: Clip | None
    integer: bool = False  # whole numbers: only whole-number labels

    @property
    def high(self) -> float:
        return self.low + self.per_row * self.rows


def chart_scale(
    values: Sequence[float], rows: int, *, zero_based: bool, clip_outliers: bool
) -> Scale:
    """The axis for these values in `rows` rows: fitted to all of them, or (`clip_outliers`) to
    the days below the towering ones when `insights.chart_scale` finds some. A clipped scale
    keeps its top row for the cut bars' break marks and values: `rows - 1` rows of axis.
    Counts (whole numbers) get a whole-number top: 3 errors a day is not drawn against "3.2"."""
    integer = all(float(v).is_integer() for v in known(values))
    # days without data count as 0 for finding outliers (their index stays), not for the axis
    filled = [0.0 if math.isnan(v) else v for v in values]
    clip = clip_for(filled) if clip_outliers and rows >= 3 else None
    if clip is not None:
        scale = _fitted(clipped(values, clip), rows - 1, zero_based, integer, clip)
        if any(values[i] > scale.high for i in clip.outliers):
            return scale
    return _fitted(values, rows, zero_based, integer, None)


def _fitted(
    values: Sequence[float], rows: int, zero_based: bool, integer: bool, clip: Clip | None
) -> Scale:
    low, per_row = axis_scale(values, rows, zero_based=zero_based)
    if integer and not per_row.is_integer():  # counts: a whole, round top ("25", not "25.5")
        top = max(known(values), default=0.0) - low
        per_row = math.ceil(nice_ceiling(top) if top >= 1 else 1.0) / rows
    return Scale(low, per_row, rows, clip, integer)


def scale_notes(scale: Scale, fmt: Callable[[float], str]) -> list[str]:
    """What the title must say about the axis: where it starts when not at 0, where it is cut."""
    notes = []
    if scale.low > 0:
        notes.append(f"axis from {fmt(scale.low)}")
    if scale.clip is not None:
        notes.append(f"clipped at {fmt(scale.high)}")
    return notes


class BarChart(Widget):
    """Set data with `show(...)`; the chart redraws to whatever size it is given: more axis labels,
    grid lines and dates when it is larger, one column per day when there is room."""

    COMPONENT_CLASSES = {
        "bar-chart--title",
        "bar-chart--caption",
        "bar-chart--bar",
        "bar-chart--mark",
        "bar-chart--axis",
        "bar-chart--grid",
        "bar-chart--cursor",
    }
    DEFAULT_CSS = """
    BarChart { height: 1fr; min-height: 4; }
    BarChart > .bar-chart--title { text-style: bold; }
    BarChart > .bar-chart--caption { color: $text-muted; }
    BarChart > .bar-chart--bar { color: $primary; }
    BarChart > .bar-chart--mark { color: $error; }
    BarChart > .bar-chart--axis { color: $text-muted; }
    BarChart > .bar-chart--grid { color: $foreground 25%; }
    BarChart > .bar-chart--cursor { color: $accent; background: $accent 25%; }
    /* NO_COLOR turns colours to greys by their lightness: red went dark grey on near-black.
       There the bars are mid grey, the marked and cut days bright and bold, the cursor reversed. */
    BarChart:nocolor > .bar-chart--bar { color: $foreground 65%; }
    BarChart:nocolor > .bar-chart--mark { color: $foreground; text-style: bold; }
    BarChart:nocolor > .bar-chart--cursor { color: $foreground; text-style: reverse; }
    """

    class DayClicked(Message):
        """A click on a column: `index` is its day (the highest of its days when it has several)."""

        def __init__(self, chart: BarChart, index: int) -> None:
            super().__init__()
            self.chart = chart
            self.index = index

        @property
        def control(self) -> BarChart:
            return self.chart

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.values: list[float] = []
        self.dates: list[date] = []
        self.mark: int | None = None
        self.cursor: int | None = None  # the day under the drill-down cursor
        self.notes: list[str] = []
        self._layout: tuple[int, list[Column], list[Slot]] | None = None  # for clicks
        self.zero_based = True
        self.clip_outliers = True
        self.fmt: Callable[[float], str] = lambda v: f"{v:,.0f}"

    def show(
        self,
        values: Sequence[float],
        dates: Sequence[date],
        *,
        notes: Sequence[str] = (),
        mark: int | None = None,
        fmt: Callable[[float], str] | None = None,
        zero_based: bool = True,
        clip_outliers: bool = True,
    ) -> None:
        """Draw these daily values. `notes` follow the scale's own notes in the title, most
        important first, as many as fit; `mark` is the index of a day drawn shaded (▓) in the
        alert colour; `clip_outliers` lets towering days go off a scale fitted to the others."""
        if len(values) != len(dates):
            raise ValueError("values and dates differ in length")
        self.values, self.dates = list(values), list(dates)
        self.notes, self.mark, self.zero_based = list(notes), mark, zero_based
        self.clip_outliers = clip_outliers
        if fmt is not None:
            self.fmt = fmt
        self.refresh()

    def set_cursor(self, index: int | None) -> None:
        if index != self.cursor:
            self.cursor = index
            self.refresh()

    def scale(self, rows: int | None = None) -> Scale:
        """The axis drawn at this height (rows of bars; the widget's own by default)."""
        rows = max(1, self.size.height - 2) if rows is None else rows
        return chart_scale(
            self.values, rows, zero_based=self.zero_based, clip_outliers=self.clip_outliers
        )

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or self._layout is None:
            return
        label_width, columns, slots = self._layout
        x = offset.x - label_width
        for column, slot in zip(columns, slots, strict=True):
            if slot.at <= x < slot.at + slot.bar + slot.gap:
                days = self.values[column.first : column.last + 1]
                top = highest(days)
                at = 0 if math.isnan(top) else days.index(top)
                self.post_message(self.DayClicked(self, column.first + at))
                return

    def _title(self, width: int, notes: Sequence[str]) -> Text:
        style = self.get_component_rich_style
        title = Text(self.title, style=style("bar-chart--title"))
        for i, note in enumerate(notes):
            separator = "  " if i == 0 else " · "
            if title.cell_len + len(separator) + len(note) > width:
                break
            title.append(separator, style=style("bar-chart--caption"))
            title.append(note, style=style("bar-chart--caption"))
        title.truncate(width, overflow="ellipsis")
        return title

    def _labels(self, scale: Scale) -> dict[int, str]:
        """Axis labels by row: the top and the baseline; when taller, one about every 4 rows."""
        rows, low, per_row = scale.rows, scale.low, scale.per_row
        labels = {0: self.fmt(low + per_row * rows), rows - 1: self.fmt(low)}
        if rows >= 7:
            for row in range(4, rows - 2, 4):
                value = low + per_row * (rows - row)
                if not scale.integer or abs(value - round(value)) < 1e-9:
                    labels[row] = self.fmt(value)
        return labels

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        if not self.values or height < 3 or width < 12:
            return self._title(width, self.notes)
        scale = self.scale(height - 2)
        rows, low, high = scale.rows, scale.low, scale.high
        labels = self._labels(scale)
        label_width = max(LABEL_MIN_WIDTH, *(len(text) for text in labels.values())) + 1
        plot_width = width - label_width
        columns = bucket_columns(self.values, plot_width)
        slots = column_slots(len(columns), plot_width)
        self._layout = (label_width, columns, slots)
        outliers = set() if scale.clip is None else set(scale.clip.outliers)
        style = self.get_component_rich_style
        axis, bar, mark, grid, cursor = (
            style(f"bar-chart--{n}") for n in ("axis", "bar", "mark", "grid", "cursor")
        )
        # the plot as rows of (text, style) cells; a clipped scale's top row holds the cut bars
        plot: list[list[tuple[str, Style]]] = [[] for _ in range(rows)]
        top: list[tuple[str, Style]] = []
        cut: list[tuple[int, int, str]] = []  # (first cell, cell after, value) of cut bars
        for column, slot in zip(columns, slots, strict=True):
            span = range(column.first, column.last + 1)
            marked = self.mark is not None and self.mark in span
            off_scale = column.value > high and not outliers.isdisjoint(span)
            under_cursor = self.cursor is not None and self.cursor in span
            if off_scale:
                top.append((BREAK * slot.bar, mark))
                cut.append((slot.at, slot.at + slot.bar, self.fmt(column.value)))
                top.append((" " * slot.gap, grid))
            else:
                top.append((" " * (slot.bar + slot.gap), grid))
            cells = bar_column(column.value, low, high, rows)
            for row in range(rows):
                gridline = row in labels and 0 < row < rows - 1
                gap = ((GRID if gridline else " ") * slot.gap, grid)
                char = cells[row]
                if under_cursor:
                    plot[row] += [(char * slot.bar, cursor), gap]
                elif char == " " and gridline:
                    plot[row].append((GRID * (slot.bar + slot.gap), grid))
                else:
                    if marked and char == FULL_BLOCK:  # shaded too: the mark survives NO_COLOR
                        char = MARK_BLOCK
                    plot[row] += [(char * slot.bar, mark if marked or off_scale else bar), gap]
        lines = [(" " * label_width, _overlay_values(top, cut, mark))] if scale.clip else []
        lines += [(f"{labels.get(row, ''):>{label_width - 1}} ", plot[row]) for row in range(rows)]
        out = Text(no_wrap=True, overflow="crop")
        out.append_text(self._title(width, [*scale_notes(scale, self.fmt), *self.notes]))
        for label, cells in lines:
            out.append("\n")
            out.append(label, style=axis)
            for text, cell_style in cells:
                out.append(text, style=cell_style)
        out.append("\n" + " " * label_width)
        out.append(date_axis(self.dates, columns, slots), style=axis)
        return out


def _overlay_values(
    row: list[tuple[str, Style]], values: Sequence[tuple[int, int, str]], style: Style
) -> list[tuple[str, Style]]:
    """The top row with each cut bar's value (bar's first cell, cell after it, text) written
    beside the bar where the row is blank with a blank cell to spare: after the bar, else before
    it. A value that finds no room is still in the title ("max 380 11-12")."""
    if not values:
        return row
    cells = [(ch, cell_style) for text, cell_style in row for ch in text]

    def blank(lo: int, hi: int) -> bool:
        return all(cells[x][0] in (" ", GRID) for x in range(max(0, lo), min(len(cells), hi)))

    for first, after, text in values:
        for at in (after, first - len(text)):
            end = at + len(text)
            if at < 0 or end > len(cells) or not blank(at, end):
                continue
            if at == after and end < len(cells) and not blank(end, end + 1):
                continue
            if at != after and at > 0 and not blank(at - 1, at):
                continue
            cells[at:end] = [(ch, style) for ch in text]
            break
    return cells
