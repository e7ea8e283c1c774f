"""One endpoint in full: every figure (the narrow table leaves some out) and its hints."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ht_dash.api.models import EndpointUsage
from ht_dash.insights import format as fmt
from ht_dash.insights.hints import Hint, call_interval_s
from ht_dash.tui.screens.history_detail import _DIALOG_CSS


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


class EndpointDetailScreen(ModalScreen[None]):
    """Enter on an endpoint row: its figures for the timeframe, and what the hints say."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="EndpointDetailScreen")
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="endpoints.detail.close")]

    def __init__(
        self, endpoint: EndpointUsage, total_requests: int, timeframe: str, hints: list[Hint]
    ) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.total_requests = total_requests
        self.timeframe = timeframe
        self.hints = hints

    def compose(self) -> ComposeResult:
        e = self.endpoint
        rows = endpoint_fields(e, self.total_requests)
        body = "\n".join(f"[dim]{name:<12}[/] {escape(value)}" for name, value in rows)
        advice = (
            "\n\n".join(f"[b]{escape(h.title)}[/]\n{escape(h.advice)}" for h in self.hints)
            or "[dim]No hint for this endpoint.[/]"
        )
        with Vertical() as box:
            box.border_title = f"{e.method} {e.path} · {self.timeframe}"
            with VerticalScroll():
                yield Static(body, id="endpoint-fields")
                yield Static(f"\n{advice}", id="endpoint-hints")
            yield Label("Esc / Enter: close", classes="dialog-help")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
