"""Screen 2 · Metrics: four summary cards against the previous period, and daily charts."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Grid, Horizontal
from textual.widgets import Static

from ht_dash.api.models import DailyMetric, Metrics
from ht_dash.feeds.registry import METRICS, USAGE
from ht_dash.insights import format as spelling
from ht_dash.insights.metrics import (
    PERIODS,
    find_incident,
    format_count,
    format_ms,
    next_period,
    peak,
    period_average,
    period_title,
    series,
    summary_cards,
)
from ht_dash.tui.screens.base import DashScreen
from ht_dash.tui.widgets.bar_chart import BarChart
from ht_dash.tui.widgets.panel import DataPanel
from ht_dash.tui.widgets.stat_card import StatCard

CARD_IDS = ("card-requests", "card-latency", "card-errors", "card-429")
# (series, chart id, title, value format, y axis starts at zero)
CHARTS = (
    ("requests", "chart-requests", "Requests / day", format_count, True),
    ("latency", "chart-latency", "Avg latency", format_ms, False),
    ("errors", "chart-errors", "Errors / day", format_count, True),
    ("rate_limited", "chart-429", "429s / day", format_count, True),
)


class MetricsScreen(DashScreen):
    """Averages of the period against the one before it (▲/▼ green when better, red and bold when
    worse), and one bar per day. An incident day — far more errors and 429s than a usual day — is
    drawn shaded (▓, red where there is colour) in every chart. When the days outnumber the
    columns, a bar shows the highest of its days.
    Keys: d cycles the period 7 → 30 → 90 days, D goes back; ←/→ (or a click on a bar) put a cursor
    on a day and show its four figures, i jumps to the incident day, Enter opens its endpoints."""

    FEEDS = (METRICS,)
    PANELS = {METRICS.name: "metrics-panel"}
    BINDINGS = [
        Binding("d", "next_period", "Period 7/30/90 d", id="metrics.period_next"),
        Binding(
            "D,shift+d",
            "previous_period",
            "Previous period (90/30/7 d)",
            key_display="D",
            show=False,
            id="metrics.period_prev",
        ),
        # priority: before the focused tab bar, whose ←/→ would switch screens
        Binding(
            "left", "move_day(-1)", "Day ◀", key_display="←", priority=True, id="metrics.day_prev"
        ),
        Binding(
            "right", "move_day(1)", "Day ▶", key_display="→", priority=True, id="metrics.day_next"
        ),
        Binding("i", "incident_day", "Incident day", show=False, id="metrics.incident"),
        Binding("enter", "open_day", "Day's endpoints", id="metrics.open_day"),
    ]
    DEFAULT_CSS = """
    MetricsScreen #metrics-panel { height: 1fr; }
    MetricsScreen #metrics-cards { height: 3; }
    MetricsScreen #metrics-note { height: 1; color: $text-muted; text-wrap: nowrap;
                                  text-overflow: ellipsis; }
    MetricsScreen #metrics-note.-incident { color: $warning; }
    MetricsScreen #metrics-day { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    MetricsScreen #metrics-charts { height: 1fr; grid-size: 2 2; grid-gutter: 0 2; }
    """

    def compose_body(self) -> ComposeResult:
        with DataPanel(title="Metrics", id="metrics-panel"):
            with Horizontal(id="metrics-cards"):
                for card_id in CARD_IDS:
                    yield StatCard(id=card_id)
            yield Static("", id="metrics-note")
            with Grid(id="metrics-charts"):
                for _, chart_id, title, _, _ in CHARTS:
                    yield BarChart(title, id=chart_id)
            yield Static("", id="metrics-day")

    def __init__(self) -> None:
        super().__init__()
        self.daily: tuple[DailyMetric, ...] = ()
        self.day_cursor: int | None = None  # index into `daily`; None until ←/→ or a click

    def render_data(self, kind: str, data: object) -> None:
        if kind == METRICS.name and isinstance(data, Metrics):
            self._render_metrics(data)

    def _render_metrics(self, metrics: Metrics) -> None:
        panel = self.query_one("#metrics-panel", DataPanel)
        panel.border_title = f"Metrics · {period_title(metrics)}"
        compared = f"vs prev {metrics.days} d"
        cards = summary_cards(metrics.summary, metrics.previous_summary)
        for card_id, card in zip(CARD_IDS, cards, strict=True):
            self.query_one(f"#{card_id}", StatCard).show(card, compared)

        daily = metrics.daily
        if self.day_cursor is not None and self.daily:  # keep the cursor on the same day
            day = self.daily[min(self.day_cursor, len(self.daily) - 1)].date
            dates_now = [d.date for d in daily]
            self.day_cursor = dates_now.index(day) if day in dates_now else None
        self.daily = daily
        incident = find_incident(daily)
        note = self.query_one("#metrics-note", Static)
        note.set_class(incident is not None, "-incident")
        if incident is not None:
            note.update(
                f"⚠ Incident {spelling.day(incident.date, weekday=True)}: "
                f"{incident.errors:,} errors, "
                f"{incident.rate_limited:,} 429s ({incident.factor:.0f}× a usual day) — ▓ bars"
            )
        elif not daily:
            note.update("No daily data in this period.")
        else:
            note.update(f"No unusual day in the last {metrics.days} days. d switches the period.")

        dates = [d.date for d in daily]
        for name, chart_id, _, fmt, zero_based in CHARTS:
            values = series(daily, name)
            top = peak(daily, name)
            notes = []
            if top is not None:
                notes.append(f"max {fmt(top.value)} {spelling.day_label(top.date)}")
            average = period_average(daily, name)
            if average is not None:  # the same figure as the card above
                notes.append(f"avg {fmt(average)}")
            self.query_one(f"#{chart_id}", BarChart).show(
                values,
                dates,
                notes=notes,
                mark=None if incident is None else incident.index,
                fmt=fmt,
                zero_based=zero_based,
            )
        self._show_day()

    # ---- drill-down ----------------------------------------------------------------------------

    def _show_day(self) -> None:
        for _, chart_id, _, _, _ in CHARTS:
            self.query_one(f"#{chart_id}", BarChart).set_cursor(self.day_cursor)
        line = self.query_one("#metrics-day", Static)
        if self.day_cursor is None or not self.daily:
            line.update("[dim]←/→ or a click: a day's figures · Enter: its endpoints[/]")
            return
        d = self.daily[self.day_cursor]
        line.update(
            f"[b]{spelling.day(d.date, weekday=True)}[/]  {format_count(d.requests)} requests · "
            f"{format_ms(d.avg_latency_ms)} · {format_count(d.errors)} errors · "
            f"{format_count(d.rate_limited)} 429s   [dim]Enter: endpoints that day[/]"
        )

    def set_day(self, index: int) -> None:
        if self.daily:
            self.day_cursor = max(0, min(index, len(self.daily) - 1))
            self._show_day()

    def action_move_day(self, step: int) -> None:
        if self.day_cursor is None:  # the first press lands on the newest day
            self.set_day(len(self.daily) - 1)
        else:
            self.set_day(self.day_cursor + step)

    def action_incident_day(self) -> None:
        incident = find_incident(self.daily)
        if incident is None:
            self.notify("No incident day in this period.", timeout=2)
        else:
            self.set_day(incident.index)

    def on_bar_chart_day_clicked(self, event: BarChart.DayClicked) -> None:
        self.set_day(event.index)

    def action_open_day(self) -> None:
        """Screen 3 with the endpoints of the day under the cursor."""
        if self.day_cursor is None or not self.daily:
            self.notify("Put the cursor on a day first (← / →).", timeout=2)
            return
        self.app.feeds.set_param(USAGE, date=self.daily[self.day_cursor].date)
        self.app.switch_mode("endpoints")

    # ---- period switch -----------------------------------------------------------------------

    def set_period(self, days: int) -> None:
        """Ask the metrics feed for another period; the panel shows "refreshing…" until it comes."""
        self.app.feeds.set_param(METRICS, days=days)
        self.notify(f"Metrics: last {days} days", timeout=1.5)

    def action_next_period(self) -> None:
        self.set_period(next_period(self.app.feeds.param(METRICS, "days"), +1))

    def action_previous_period(self) -> None:
        self.set_period(next_period(self.app.feeds.param(METRICS, "days"), -1))

    def palette_commands(self) -> Iterable[SystemCommand]:
        for days in PERIODS:
            yield SystemCommand(
                f"Metrics: last {days} days",
                f"Show averages and daily charts for {days} days (d cycles)",
                partial(self.set_period, days),
            )
