"""A zero-based sparkline of a req/min series, bars over the limit in the alert colour, the limit
drawn as a line across it, an optional cursor column, and a time axis.

Textual's own Sparkline scales from the series' minimum, which turns a steady 70–80 req/min
into towering bars; a rate against a limit has to start at zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

BLOCKS = " ▁▂▃▄▅▆▇█"
BANDS = ("ok", "near", "over")
LIMIT_LINE = "╌"


def columns_of(index: int, count: int, width: int) -> range:
    """The columns `resample` draws value `index` in (or the one column it is squeezed into)."""
    if count <= 0 or width <= 0:
        return range(0)
    first = next((c for c in range(width) if index < max(c * count // width + 1,
                                                           (c + 1) * count // width)), width - 1)
    last = first
    while last + 1 < width and (last + 1) * count // width <= index:
        last += 1
    return range(first, last + 1)


def limit_row(limit: float, height: int, scale: float) -> int | None:
    """The line (0 = top) the limit falls in, when it is inside the chart."""
    if limit <= 0 or scale <= 0:
        return None
    eighths = round(limit / scale * height * 8)
    if not 1 <= eighths <= height * 8:
        return None
    return height - 1 - (eighths - 1) // 8


def resample(values: Sequence[float], width: int) -> list[float]:
    """`width` columns: each slice's max when squeezing, values repeated when stretching."""
    count = len(values)
    if count == 0 or width <= 0:
        return []
    columns = []
    for column in range(width):
        start = column * count // width
        end = max(start + 1, (column + 1) * count // width)
        columns.append(max(values[start:end]))
    return columns


def spark_rows(values: Sequence[float], height: int, scale: float) -> list[list[int]]:
    """Eighth-levels per column, one row per line from the top: 0 (empty) to 8 (full)."""
    scale = scale if scale > 0 else 1.0
    rows = []
    for line in range(height):
        floor = (height - 1 - line) * 8
        row = []
        for value in values:
            eighths = round(max(0.0, value) / scale * height * 8)
            if value > 0:
                eighths = max(eighths, 1)  # any traffic at all shows
            row.append(max(0, min(8, eighths - floor)))
        rows.append(row)
    return rows


class RateSparkline(Widget):
    """Drawn line by line (Textual's Line API) from strips built once per change of the data,
    size or theme: a rich Text per update cost more than everything else on screen 4."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "spark--ok",
        "spark--near",
        "spark--over",
        "spark--limit",
        "spark--cursor",
    }
    DEFAULT_CSS = """
    RateSparkline { height: 2; width: 1fr; }
    RateSparkline > .spark--limit { color: $warning 70%; }
    RateSparkline > .spark--cursor { background: $accent 40%; }
    RateSparkline > .spark--ok { color: $primary; }
    RateSparkline > .spark--near { color: $warning; }
    RateSparkline > .spark--over { color: $error; }
    /* NO_COLOR: greys by lightness would make "over" the darkest; the limit line marks it */
    RateSparkline:nocolor > .spark--ok { color: $foreground 60%; }
    RateSparkline:nocolor > .spark--near { color: $foreground 80%; }
    RateSparkline:nocolor > .spark--over { color: $foreground; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values: list[float] = []
        self.limit: float | None = None
        self.cursor: int | None = None  # index into `values` under the drill-down cursor
        self._strips: list[Strip] = []
        self._strips_key: tuple[object, ...] | None = None

    def show(
        self, values: Sequence[float], limit: float | None, cursor: int | None = None
    ) -> None:
        values = list(values)
        if values == self.values and limit == self.limit and cursor == self.cursor:
            return  # the same picture: no repaint
        self.values = values
        self.limit = limit
        self.cursor = cursor
        self._strips_key = None
        self.refresh()

    class Clicked(Message):
        """A click on the sparkline: `index` is the value under it."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        width = self.size.width
        if offset is not None and self.values and width > 0 and 0 <= offset.x < width:
            self.post_message(self.Clicked(offset.x * len(self.values) // width))

    def render_line(self, y: int) -> Strip:
        strips = self._current_strips()
        return strips[y] if 0 <= y < len(strips) else Strip.blank(self.size.width)

    def _current_strips(self) -> list[Strip]:
        width, height = self.size.width or 60, self.size.height or 1
        names = (*BANDS, "limit", "cursor")
        styles = tuple(self.get_component_rich_style(f"spark--{name}") for name in names)
        key = (width, height, styles)
        if key != self._strips_key:
            self._strips = self._build_strips(width, height, dict(zip(names, styles, strict=True)))
            self._strips_key = key
        return self._strips

    def _build_strips(self, width: int, height: int, styles: dict[str, Style]) -> list[Strip]:
        columns = resample(self.values, width)
        scale = max([*columns, self.limit or 0.0, 1.0])
        bands = [self._band(value) for value in columns]
        cursor = (
            set(columns_of(self.cursor, len(self.values), width))
            if self.cursor is not None
            else set()
        )
        line = limit_row(self.limit, height, scale) if self.limit else None
        strips = []
        for y, row in enumerate(spark_rows(columns, height, scale)):
            # cells as (text, style name); then one segment per run of a style, not per cell
            cells = []
            for x, level in enumerate(row):
                name = bands[x]
                text = BLOCKS[level]
                if level == 0 and y == line:
                    text, name = LIMIT_LINE, "limit"
                cells.append((text, name, x in cursor))
            segments, start = [], 0
            for end in range(1, len(cells) + 1):
                if end == len(cells) or cells[end][1:] != cells[start][1:]:
                    _, name, under_cursor = cells[start]
                    style = styles[name] + styles["cursor"] if under_cursor else styles[name]
                    segments.append(Segment("".join(c[0] for c in cells[start:end]), style))
                    start = end
            strips.append(Strip(segments, len(row)))
        return strips

    def _band(self, value: float) -> str:
        if not self.limit:
            return "ok"
        if value > self.limit:
            return "over"
        return "near" if value >= 0.8 * self.limit else "ok"


class SparklinePanel(Vertical):
    """The sparkline with an axis line under it: '-15 min … peak 118/min at 14:03 … now'."""

    DEFAULT_CSS = """
    SparklinePanel { height: auto; }
    SparklinePanel > .spark-axis { color: $text-muted; height: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.spark = RateSparkline()
        self.axis = Static("", classes="spark-axis")

    def compose(self) -> ComposeResult:
        yield self.spark
        yield self.axis

    def show(
        self,
        values: Sequence[float],
        limit: float | None,
        left: str,
        middle: str,
        cursor: int | None = None,
    ) -> None:
        self.spark.show(values, limit, cursor)
        self._left, self._middle = left, middle
        self._layout_axis()

    def on_resize(self) -> None:
        if hasattr(self, "_left"):
            self._layout_axis()

    def _layout_axis(self) -> None:
        width = self.size.width or 60
        right = "now"
        gap = width - len(self._left) - len(self._middle) - len(right)
        if gap < 2:
            axis = Text(f"{self._middle}", no_wrap=True, overflow="ellipsis")
        else:
            before = gap // 2
            axis = Text(self._left + " " * before + self._middle + " " * (gap - before) + right)
        if axis != self.axis.content:  # an update lays the screen out again: only on change
            self.axis.update(axis)
