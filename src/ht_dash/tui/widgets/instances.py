"""Several hosts' meters on one store: each host's req/min, its share of the limit as a small
bar, and its 429s — busiest first, the top few and "+K more" when they do not all fit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

from ht_dash.api.models import InstanceRate
from ht_dash.insights.format import THROTTLED, percent
from ht_dash.insights.live import gauge_level
from ht_dash.sanitize import terminal_safe
from ht_dash.tui.widgets.gauge import bar_cells

BAR_WIDTH = 10
HOST_WIDTH = 18


def host_line(share: InstanceRate, limit: int | None, total: int, window: int) -> list[tuple]:
    """One row's pieces (text, component) — the bar is the share of the limit, or of the team's
    total when the plan has no per-minute limit."""
    base = limit or total
    fraction = share.requests_per_minute / base if base else 0.0
    filled, filled_len = bar_cells(fraction, BAR_WIDTH)
    host = terminal_safe(share.instance)
    if cell_len(host) > HOST_WIDTH:
        host = host[: HOST_WIDTH - 1] + "…"
    throttled = share.throttled_in_window
    return [
        ("  " + host.ljust(HOST_WIDTH), "name"),
        (f"{share.requests_per_minute:>7,}/min ", ""),
        (filled, gauge_level(fraction) if limit else "none"),
        ("░" * (BAR_WIDTH - filled_len), "empty"),
        (f" {percent(fraction, 0):>5}", ""),
        (f" · {THROTTLED} in {window} min: ", "muted"),
        (f"{throttled:,}", "bad" if throttled else ""),
    ]


class InstanceList(Widget):
    """`show(instances, limit, window_minutes)`: hidden with one host or none; redrawn in place."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "instances--name",
        "instances--muted",
        "instances--empty",
        "instances--ok",
        "instances--warn",
        "instances--bad",
        "instances--none",
    }
    DEFAULT_CSS = """
    InstanceList { height: auto; width: 1fr; }
    InstanceList > .instances--name { text-style: bold; }
    InstanceList > .instances--muted { color: $text-muted; }
    InstanceList > .instances--empty { color: $foreground 15%; }
    InstanceList > .instances--ok { color: $success; }
    InstanceList > .instances--warn { color: $warning; }
    InstanceList > .instances--bad { color: $error; text-style: bold; }
    InstanceList > .instances--none { color: $primary; }
    """

    def __init__(self, *, max_rows: int = 3, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_rows = max_rows
        self.instances: tuple[InstanceRate, ...] = ()
        self.limit: int | None = None
        self.window = 15
        self.display = False

    def show(
        self, instances: Sequence[InstanceRate], limit: int | None, window_minutes: int
    ) -> None:
        shown = (tuple(instances), limit, window_minutes)
        if shown == (self.instances, self.limit, self.window):
            return  # each refresh lays the screen out again, and the live feed ticks
        self.instances, self.limit, self.window = shown
        self.display = len(self.instances) > 1
        self.refresh(layout=True)

    def set_max_rows(self, rows: int) -> None:
        if rows != self.max_rows:
            self.max_rows = rows
            self.refresh(layout=True)

    def visible(self) -> tuple[tuple[InstanceRate, ...], int]:
        """The hosts drawn and how many more there are: "+K more" takes the last row."""
        if len(self.instances) <= self.max_rows:
            return self.instances, 0
        top = self.instances[: max(1, self.max_rows - 1)]
        return top, len(self.instances) - len(top)

    def get_content_height(self, container, viewport, width: int) -> int:
        top, more = self.visible()
        return 1 + len(top) + (1 if more else 0) if len(self.instances) > 1 else 0

    def render(self) -> Text:
        top, more = self.visible()
        style = self.get_component_rich_style
        total = sum(i.requests_per_minute for i in self.instances)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{len(self.instances)} hosts on this token", style("instances--muted"))
        for share in top:
            text.append("\n")
            for piece, component in host_line(share, self.limit, total, self.window):
                text.append(piece, style(f"instances--{component}") if component else "")
        if more:
            rest = sum(i.requests_per_minute for i in self.instances[len(top) :])
            text.append(f"\n  +{more} more · {rest:,}/min", style("instances--muted"))
        return text
