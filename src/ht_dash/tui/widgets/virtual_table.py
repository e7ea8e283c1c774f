"""A table that renders only the rows on screen, so 50,000 rows cost what 30 do.

Textual's DataTable measures every row before it first paints (over a second for 10,000 rows).
This Line-API widget keeps a sequence of row objects and a function that turns one into cell
texts; it formats just the visible rows on each paint. Fixed-width columns plus at most one
flexible column that takes the rest of the width. A fixed header, a row cursor, sort arrows,
header clicks, Enter to activate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

SEPARATOR = 2  # blank cells between columns


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int | None = None  # None: flexible, takes the remaining width
    justify: Literal["left", "right"] = "left"
    min_width: int = 8


def fit_columns(
    columns: Sequence[Column], width: int, give_way: Sequence[str | Column], flexible_min: int
) -> tuple[Column, ...]:
    """The columns for a table `width` cells wide (scrollbar excluded): while the flexible column
    would get fewer than `flexible_min` cells, the next of `give_way` goes (a key) or replaces
    the column with its key (a narrower Column), first first. The table never scrolls sideways."""
    shown = list(columns)

    def room() -> int:
        fixed = sum(c.width or 0 for c in shown)
        return width - 2 - fixed - SEPARATOR * (len(shown) - 1)

    for step in give_way:
        if room() >= flexible_min:
            break
        if isinstance(step, Column):
            shown = [step if c.key == step.key else c for c in shown]
        else:
            shown = [c for c in shown if c.key != step]
    return tuple(shown)


def _fit(text: str, width: int, justify: str) -> str:
    """Pad or cut `text` to exactly `width` cells, with an ellipsis when cut."""
    text = text.replace("\n", " ")
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, max(0, width - 1)) + "…" if width > 0 else ""
    pad = " " * (width - length)
    return pad + text if justify == "right" else text + pad


class VirtualTable(ScrollView, can_focus=True):
    """Rows are any objects; `format_row(row) -> cell texts` is called only for visible rows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # The keys of every table in the app (the endpoints' DataTable has the same ones).
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First row", show=False),
        Binding("end,G", "last", "Last row", show=False),
        Binding("enter", "activate", "Open", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--stripe",
    }
    DEFAULT_CSS = """
    VirtualTable {
        height: 1fr; background: $surface;
        /* the scrollbar's column is kept: rows arriving never widen the table past the view */
        scrollbar-size-vertical: 1; scrollbar-gutter: stable;
    }
    VirtualTable > .virtual-table--header { text-style: bold; background: $panel; color: $text; }
    VirtualTable > .virtual-table--cursor { background: $secondary 30%; }
    VirtualTable:focus > .virtual-table--cursor { background: $accent 60%; text-style: bold; }
    VirtualTable > .virtual-table--stripe { background: $surface-lighten-1 30%; }
    """

    cursor_row: reactive[int] = reactive(0, always_update=True, init=False)

    class _RowMessage(Message):
        def __init__(self, table: VirtualTable, row: int) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> VirtualTable:
            return self.table

    class CursorMoved(_RowMessage):
        """The cursor is on another row."""

    class RowActivated(_RowMessage):
        """Enter (or a click) on a row."""

    class HeaderClicked(Message):
        def __init__(self, table: VirtualTable, column: str) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        format_row: Callable[[Any], Sequence[str]],
        *,
        empty_text: str = "nothing to show",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.columns = tuple(columns)
        self.format_row = format_row
        self.empty_text = empty_text
        self.rows: Sequence[Any] = ()
        self.sort_column: str | None = None
        self.sort_reverse = False
        self._widths: list[int] = [c.width or c.min_width for c in self.columns]

    # ---- data --------------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[Any], *, cursor: int | None = None) -> None:
        """Show `rows` (kept by reference, never copied); the cursor moves to `cursor` if given."""
        self.rows = rows
        self._update_virtual_size()
        target = self.cursor_row if cursor is None else cursor
        self._set_cursor(target, post=cursor is not None)
        self.refresh()

    def set_sort(self, column: str | None, reverse: bool) -> None:
        self.sort_column, self.sort_reverse = column, reverse
        self.refresh(self.size.region)

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def cursor_value(self) -> Any | None:
        return self.rows[self.cursor_row] if 0 <= self.cursor_row < len(self.rows) else None

    @property
    def visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    # ---- layout ------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()

    def _update_virtual_size(self) -> None:
        width = self.scrollable_content_region.width or self.size.width
        fixed = sum(c.width or 0 for c in self.columns) + SEPARATOR * (len(self.columns) - 1) + 2
        flexible = [i for i, c in enumerate(self.columns) if c.width is None]
        self._widths = [c.width or 0 for c in self.columns]
        for i in flexible:
            spare = (width - fixed) // len(flexible)
            self._widths[i] = max(self.columns[i].min_width, spare)
        total = sum(self._widths) + SEPARATOR * (len(self.columns) - 1) + 2
        size = Size(max(total, width), len(self.rows) + 1)
        old = self.virtual_size
        visible = self.scrollable_content_region.height
        if size.width == old.width and min(size.height, old.height) > visible > 0:
            # Only more (or fewer) rows below a scrollbar that stays: update the scrollbar without
            # laying out the whole screen again (a log growing every second paid that each time).
            self.set_reactive(ScrollView.virtual_size, size)
            self._scroll_update(size)
            self.refresh()
            return
        self.virtual_size = size

    # ---- rendering ---------------------------------------------------------------------------

    def _line(self, cells: Sequence[str], style: Style) -> list[Segment]:
        parts = [" "]
        for i, (column, width) in enumerate(zip(self.columns, self._widths, strict=False)):
            text = cells[i] if i < len(cells) else ""
            parts.append(_fit(text, width, column.justify))
            parts.append(" " * SEPARATOR if i < len(self.columns) - 1 else " ")
        return [Segment("".join(parts), style)]

    def _header_cells(self) -> list[str]:
        cells = []
        for column in self.columns:
            label = column.label
            if column.key == self.sort_column:
                label = f"{label} {'▼' if self.sort_reverse else '▲'}"
            cells.append(label)
        return cells

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("virtual-table--header")
            segments = self._line(self._header_cells(), style)
        else:
            index = scroll_y + y - 1
            if index >= len(self.rows):
                if index == 0:
                    text = _fit(f" {self.empty_text}", self.virtual_size.width, "left")
                    return Strip([Segment(text, base + Style(dim=True))]).crop(
                        scroll_x, scroll_x + width
                    )
                return Strip.blank(width, base)
            style = base
            if index == self.cursor_row:
                style = base + self.get_component_rich_style("virtual-table--cursor")
            elif index % 2:
                style = base + self.get_component_rich_style("virtual-table--stripe")
            segments = self._line(self.format_row(self.rows[index]), style)
        strip = Strip(segments)
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, style)

    # ---- cursor ------------------------------------------------------------------------------

    def _set_cursor(self, row: int, *, post: bool = True) -> None:
        clamped = max(0, min(row, len(self.rows) - 1)) if self.rows else 0
        self.set_reactive(VirtualTable.cursor_row, clamped)
        self._scroll_cursor_into_view()
        self.refresh()
        if post:
            self.post_message(self.CursorMoved(self, clamped))

    def move_cursor(self, row: int) -> None:
        self._set_cursor(row)

    def _scroll_cursor_into_view(self) -> None:
        top = round(self.scroll_offset.y)
        visible = self.visible_rows
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self._set_cursor(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self._set_cursor(self.cursor_row + direction * self.visible_rows)

    def action_first(self) -> None:
        self._set_cursor(0)

    def action_last(self) -> None:
        self._set_cursor(len(self.rows) - 1)

    def action_activate(self) -> None:
        if self.rows:
            self.post_message(self.RowActivated(self, self.cursor_row))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            if (column := self._column_at(offset.x + round(self.scroll_offset.x))) is not None:
                self.post_message(self.HeaderClicked(self, column))
            return
        index = round(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < len(self.rows):
            if index == self.cursor_row and event.chain > 1:
                self.post_message(self.RowActivated(self, index))
            self._set_cursor(index)

    def _column_at(self, x: int) -> str | None:
        left = 1
        for column, width in zip(self.columns, self._widths, strict=False):
            if left <= x < left + width + SEPARATOR:
                return column.key
            left += width + SEPARATOR
        return None
