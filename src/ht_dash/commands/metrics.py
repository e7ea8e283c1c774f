"""`ht-dash metrics`: daily requests, latency, error rate and 429s over N days."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ht_dash.commands import _common as common
from ht_dash.insights import format as fmt

if TYPE_CHECKING:
    from rich.console import Console

    from ht_dash.api.models import Metrics, MetricsSummary
    from ht_dash.api.source import AccountSource
    from ht_dash.runtime import Runtime

DAYS_RANGE = (1, 365)


def days_arg(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    low, high = DAYS_RANGE
    if not low <= days <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {days}")
    return days


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = common.add_command(
        subparsers,
        "metrics",
        help="requests, latency, error rate and 429s over N days",
        description="Average daily requests, average latency, error rate and 429s over "
        "the last N UTC days (ending today), against the N days before, and the daily series.",
    )
    parser.add_argument(
        "--days", type=days_arg, default=90, metavar="N", help="number of days, 1-365 (default: 90)"
    )
    common.add_format_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    async def fetch(source: AccountSource) -> Metrics:
        return await common.retried(lambda: source.metrics(days=args.days))

    return common.run_command(args, runtime, fetch, to_json=to_json, to_table=to_table)


def _summary(s: MetricsSummary | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "avg_daily_requests": round(s.avg_daily_requests, 2),
        "avg_latency_ms": round(s.avg_latency_ms, 2),
        "error_rate": round(s.error_rate, 6),
        "rate_limit_hits": s.rate_limit_hits,
    }


# The CLI's JSON (docs/cli.md) is a stable contract of its own: spelled out here, not borrowed
# from api.contract, so re-pointing the client at the real account API never changes it.
def to_json(m: Metrics) -> dict[str, Any]:
    return {
        "days": m.days,
        "from": fmt.iso_date(m.start),
        "to": fmt.iso_date(m.end),
        "summary": _summary(m.summary),
        "previous_summary": _summary(m.previous_summary),
        "daily": [
            {
                "date": d.date.isoformat(),
                "requests": d.requests,
                "avg_latency_ms": round(d.avg_latency_ms, 2),
                "errors": d.errors,
                "rate_limited": d.rate_limited,
            }
            for d in m.daily
        ],
    }


def fit(values: list[int], width: int) -> list[float]:
    """At most `width` values: consecutive days averaged when the series is longer."""
    width = max(8, width)
    if len(values) <= width:
        return [float(v) for v in values]
    size = len(values) / width
    groups = [values[round(i * size) : round((i + 1) * size)] for i in range(width)]
    return [sum(g) / len(g) for g in groups if g]


def to_table(m: Metrics, console: Console) -> None:
    """The metrics screen's cards as rows: the same labels, spellings and changes (a change of the
    error rate in percentage points, the others in percent)."""
    from rich.table import Table

    from ht_dash.insights.metrics import find_incident, summary_cards

    title = f"Metrics · last {m.days} days ({fmt.day_range(m.start, m.end)})"
    table = Table(title=title, title_justify="left")
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    table.add_column(f"Previous {m.days} d", justify="right")
    table.add_column("Change", justify="right")
    cards = summary_cards(m.summary, m.previous_summary)
    previous = summary_cards(m.previous_summary, None) if m.previous_summary else None
    for i, card in enumerate(cards):
        table.add_row(
            card.label,
            card.value,
            fmt.MISSING if previous is None else previous[i].value,
            "" if card.change is None else card.change.text,
        )
    common.print_table(console, table)
    if m.daily:
        requests = [d.requests for d in m.daily]
        label = "Daily requests" if len(requests) <= console.width - 40 else "Requests"
        spark = common.sparkline(fit(requests, console.width - 40))
        console.print(f"{label:<14}  {spark}  (peak {max(requests):,}/day)")
        incident = find_incident(m.daily)
        if incident is not None:
            console.print(
                f"Incident        {fmt.day(incident.date, weekday=True)}: "
                f"{incident.errors:,} errors, {incident.rate_limited:,} {fmt.THROTTLED} "
                f"({incident.factor:.0f}× a usual day)"
            )
