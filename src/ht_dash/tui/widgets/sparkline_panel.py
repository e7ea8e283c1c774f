"""A zero-based sparkline of a req/min series, bars over the limit in red, with a time axis.

Textual's own Sparkline scales from the series' minimum, which turns a steady 70–80 req/min
into towering bars; a rate against a limit has to start at zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

BLOCKS = " ▁▂▃▄▅▆▇█"
BANDS = ("ok", "near", "over")


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

    COMPONENT_CLASSES: ClassVar[set[str]] = {"spark--ok", "spark--near", "spark--over"}
    DEFAULT_CSS = """
    RateSparkline { height: 2; width: 1fr; }
    RateSparkline > .spark--ok { color: $primary; }
    RateSparkline > .spark--near { color: $warning; }
    RateSparkline > .spark--over { color: $error; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values: list[float] = []
        self.limit: float | None = None
        self._strips: list[Strip] = []
        self._strips_key: tuple[object, ...] | None = None

    def show(self, values: Sequence[float], limit: float | None) -> None:
        values = list(values)
        if values == self.values and limit == self.limit:
            return  # the same picture: no repaint
        self.values = values
        self.limit = limit
        self._strips_key = None
        self.refresh()

    def render_line(self, y: int) -> Strip:
        strips = self._current_strips()
        return strips[y] if 0 <= y < len(strips) else Strip.blank(self.size.width)

    def _current_strips(self) -> list[Strip]:
        width, height = self.size.width or 60, self.size.height or 1
        styles = tuple(self.get_component_rich_style(f"spark--{band}") for band in BANDS)
        key = (width, height, styles)
        if key != self._strips_key:
            self._strips = self._build_strips(width, height, dict(zip(BANDS, styles, strict=True)))
            self._strips_key = key
        return self._strips

    def _build_strips(self, width: int, height: int, styles: dict[str, Style]) -> list[Strip]:
        columns = resample(self.values, width)
        scale = max([*columns, self.limit or 0.0, 1.0])
        bands = [self._band(value) for value in columns]
        strips = []
        for row in spark_rows(columns, height, scale):
            # one segment per run of a band, not per cell
            segments, start = [], 0
            for end in range(1, len(row) + 1):
                if end == len(row) or bands[end] != bands[start]:
                    cells = "".join(BLOCKS[level] for level in row[start:end])
                    segments.append(Segment(cells, styles[bands[start]]))
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

    def show(self, values: Sequence[float], limit: float | None, left: str, middle: str) -> None:
        self.spark.show(values, limit)
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
