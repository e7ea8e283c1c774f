"""A one-line gauge: label, a bar filled to a fraction, and the figures; coloured by level."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

PARTIAL_BLOCKS = " ▏▎▍▌▋▊▉"
LEVELS = ("ok", "warn", "bad", "none")


def bar_cells(fraction: float, width: int) -> tuple[str, int]:
    """The filled part of a bar `width` cells wide, with eighth-cell precision, and its length."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    filled = "█" * full + (PARTIAL_BLOCKS[part] if part else "")
    return filled, cell_len(filled)


class Gauge(Widget):
    """`show(fraction, figures, level)`: level is ok | warn | bad (green/yellow/red) or none."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "gauge--label",
        "gauge--empty",
        *(f"gauge--{level}" for level in LEVELS),
    }
    DEFAULT_CSS = """
    Gauge { height: 1; width: 1fr; }
    Gauge > .gauge--label { color: $text-muted; }
    Gauge > .gauge--empty { color: $foreground 30%; }
    Gauge > .gauge--ok { color: $text-success; }
    Gauge > .gauge--warn { color: $text-warning; }
    Gauge > .gauge--bad { color: $text-error; text-style: bold; }
    Gauge > .gauge--none { color: $primary; }
    """

    def __init__(self, label: str, *, label_width: int = 13, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.label_width = label_width
        self.fraction = 0.0
        self.figures = ""
        self.level = "none"

    def show(self, fraction: float, figures: str, level: str, label: str | None = None) -> None:
        shown = (
            fraction,
            figures,
            level if level in LEVELS else "none",
            self.label if label is None else label,
        )
        if shown == (self.fraction, self.figures, self.level, self.label):
            return  # the same bar: no repaint (screen 4's live feed shows it every second)
        self.fraction, self.figures, self.level, self.label = shown
        self.refresh()

    def render(self) -> Text:
        width = self.size.width or 80
        label = self.label.ljust(self.label_width)[: self.label_width]
        figures = f" {self.figures}"
        bar_width = max(4, width - cell_len(label) - cell_len(figures))  # grows with the screen
        filled, filled_len = bar_cells(self.fraction, bar_width)
        level_style = self.get_component_rich_style(f"gauge--{self.level}")
        return Text.assemble(
            (label, self.get_component_rich_style("gauge--label")),
            (filled, level_style),
            ("░" * (bar_width - filled_len), self.get_component_rich_style("gauge--empty")),
            (figures, level_style if self.level in ("warn", "bad") else ""),
            no_wrap=True,
            overflow="ellipsis",
        )
