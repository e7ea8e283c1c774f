"""Screen 2 · Metrics: four summary cards against the previous period, and daily charts."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Grid, Horizontal
from textual.widgets import Static

from ht_dash.api.models import Metrics
from ht_dash.feeds.registry import METRICS
from ht_dash.insights.metrics import (
    PERIODS,
    find_incident,
    format_count,
    format_ms,
    next_period,
    peak,
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
    """Averages of the period against the one before it (▲/▼ green when better, red when worse),
    and one bar per day. An incident day — far more errors and 429s than a usual day — is drawn
    red in every chart. When the days outnumber the columns, a bar shows the highest of its days.
    Keys: d cycles the period 7 → 30 → 90 days, D goes back."""

    MODE = "metrics"
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
    ]
    DEFAULT_CSS = """
    MetricsScreen #metrics-panel { height: 1fr; }
    MetricsScreen #metrics-cards { height: 3; }
    MetricsScreen #metrics-note { height: 1; color: $text-muted; text-wrap: nowrap;
                                  text-overflow: ellipsis; }
    MetricsScreen #metrics-note.-incident { color: $warning; }
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
        incident = find_incident(daily)
        note = self.query_one("#metrics-note", Static)
        note.set_class(incident is not None, "-incident")
        if incident is not None:
            note.update(
                f"⚠ Incident {incident.date:%a %b %d}: {incident.errors:,} errors, "
                f"{incident.rate_limited:,} 429s ({incident.factor:.0f}× a usual day) — red bars"
            )
        elif not daily:
            note.update("No daily data in this period.")
        else:
            note.update(f"No unusual day in the last {metrics.days} days. d switches the period.")

        dates = [d.date for d in daily]
        for name, chart_id, _, fmt, zero_based in CHARTS:
            values = series(daily, name)
            top = peak(daily, name)
            notes = [] if top is None else [f"max {fmt(top.value)} {top.date:%b %d}"]
            if values:
                notes.append(f"mean {fmt(sum(values) / len(values))}")
            self.query_one(f"#{chart_id}", BarChart).show(
                values,
                dates,
                notes=notes,
                mark=None if incident is None else incident.index,
                fmt=fmt,
                zero_based=zero_based,
            )

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
