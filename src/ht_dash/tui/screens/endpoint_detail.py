"""One endpoint in full: every figure (the narrow table leaves some out), its hints, and its daily
series over the window of screen 3 — requests, latency, errors and 429s per day, drawn as screen 2
draws the account's (same charts, same scale rules, same day labels)."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ht_dash.api.errors import HtError
from ht_dash.api.models import TIMEFRAME_LABELS, EndpointDaily, EndpointUsage, EndpointUsageReport
from ht_dash.feeds.registry import ENDPOINT_DAILY
from ht_dash.feeds.scheduler import FeedState
from ht_dash.insights import format as fmt
from ht_dash.insights.chart_scale import chart_series
from ht_dash.insights.hints import Hint, call_interval_s
from ht_dash.insights.metrics import find_incident, peak, period_average
from ht_dash.tui.screens.metrics import CHARTS
from ht_dash.tui.typed_app import typed_app
from ht_dash.tui.widgets.bar_chart import BarChart
from ht_dash.tui.widgets.panel import DataPanel


def endpoint_fields(e: EndpointUsage, total_requests: int) -> list[tuple[str, str]]:
    share = e.requests / total_requests if total_requests else 0.0
    error_rate = e.errors / e.requests if e.requests else 0.0
    throttled = e.throttled / e.requests if e.requests else 0.0
    interval = call_interval_s(e)
    return [
        ("Requests", f"{e.requests:,} ({fmt.percent(share)} of all)"),
        ("Errors", f"{e.errors:,} ({fmt.percent(error_rate)} of its requests)"),
        (fmt.THROTTLED, f"{e.throttled:,} ({fmt.percent(throttled)} of its requests)"),
        ("Avg latency", f"{e.avg_latency_ms:,.0f} ms"),
        ("Calls / hour", f"{e.calls_per_hour:,.1f} while in use"),
        ("Every", "—" if interval is None else fmt.duration(interval)),
    ]


def window_label(report: EndpointUsageReport) -> str:
    """ "Last 30 days", or the one day of a drill-down from screen 2."""
    if report.date is not None:
        return fmt.day(report.date)
    return TIMEFRAME_LABELS.get(report.timeframe, report.timeframe)


class EndpointDetailScreen(ModalScreen[None]):
    """Enter on an endpoint row: its figures for the window, its days, and what the hints say."""

    DEFAULT_CSS = """
    EndpointDetailScreen { align: center middle; background: $background 60%; }
    EndpointDetailScreen > Vertical {
        width: 90%; max-width: 120; height: 90%; max-height: 44;
        border: round $accent; background: $surface; padding: 0 1;
    }
    EndpointDetailScreen #endpoint-about { height: 1fr; min-height: 4; }
    EndpointDetailScreen #endpoint-daily { height: 2fr; min-height: 10; }
    EndpointDetailScreen #endpoint-charts { height: 1fr; grid-size: 2 2; grid-gutter: 0 2; }
    EndpointDetailScreen .dialog-help { color: $text-muted; }
    """
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="endpoints.detail.close")]

    app = typed_app()

    def __init__(
        self,
        endpoint: EndpointUsage,
        total_requests: int,
        report: EndpointUsageReport,
        hints: list[Hint],
    ) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.total_requests = total_requests
        self.report = report
        self.hints = hints
        self.daily: EndpointDaily | None = None

    def compose(self) -> ComposeResult:
        e = self.endpoint
        rows = endpoint_fields(e, self.total_requests)
        body = "\n".join(f"[dim]{name:<12}[/] {escape(value)}" for name, value in rows)
        advice = (
            "\n\n".join(f"[b]{escape(h.title)}[/]\n{escape(h.advice)}" for h in self.hints)
            or "[dim]No hint for this endpoint.[/]"
        )
        with Vertical() as box:
            box.border_title = f"{e.method} {e.path} · {window_label(self.report)}"
            with VerticalScroll(id="endpoint-about"):
                yield Static(body, id="endpoint-fields")
                yield Static(f"\n{advice}", id="endpoint-hints")
            with DataPanel(title="Per day", id="endpoint-daily"), Grid(id="endpoint-charts"):
                for _, chart_id, title, _, _ in CHARTS:
                    yield BarChart(title, id=f"endpoint-{chart_id}")
            yield Label("↑/↓ scroll · Esc / Enter: close", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one("#endpoint-about").focus()
        self.run_worker(self._load(), exclusive=True)

    async def _load(self) -> None:
        """The endpoint's days over the same window as the row, through the feed engine's gate;
        what the source cannot answer (not offered, no meter) is shown inside the panel."""
        report = self.report
        try:
            daily = await self.app.feeds.fetch(
                ENDPOINT_DAILY,
                method=self.endpoint.method,
                path=self.endpoint.path,
                timeframe=report.timeframe if report.date is None else "30d",
                date=report.date,
            )
        except HtError as exc:
            self._show(FeedState(ENDPOINT_DAILY.name, error=exc))
            return
        self._show(FeedState(ENDPOINT_DAILY.name, data=daily, updated_at=self.app.clock.now()))
        self._draw(daily)

    def _show(self, state: FeedState) -> None:
        panel = self.query_one("#endpoint-daily", DataPanel)
        panel.show_state(state, self.app.clock.now(), self.app.feeds.origin_of(state))

    def _draw(self, daily: EndpointDaily) -> None:
        self.daily = daily
        days = daily.daily
        dates = [d.date for d in days]
        incident = find_incident(days)  # this endpoint's own bad day, shaded as on screen 2
        for name, chart_id, _, spell, zero_based in CHARTS:
            values = chart_series(days, name)
            notes = []
            top = peak(days, name)
            if name == "requests" and top is not None:  # as screen 2 (a total, fetched after the
                notes.append(f"max {spell(top.value)}")  # row, could disagree with it)
            average = period_average(days, name)
            if average is not None and name != "requests":
                notes.append(f"avg {spell(average)}")
            self.query_one(f"#endpoint-{chart_id}", BarChart).show(
                values,
                dates,
                notes=notes,
                mark=None if incident is None else incident.index,
                fmt=spell,
                zero_based=zero_based,
            )

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
