"""`ht-dash usage`: requests, errors, 429s and latency per data-API endpoint."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ht_dash.api.models import TIMEFRAME_LABELS, TIMEFRAMES
from ht_dash.commands import _common as common
from ht_dash.insights import format as fmt

if TYPE_CHECKING:
    from rich.console import Console

    from ht_dash.api.models import EndpointUsageReport
    from ht_dash.api.source import AccountSource
    from ht_dash.runtime import Runtime

CSV_HEADER = (
    "method",
    "path",
    "requests",
    "errors",
    "throttled",
    "avg_latency_ms",
    "calls_per_hour",
    "mean_interval_s",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = common.add_command(
        subparsers,
        "usage",
        help="usage per endpoint (JSON or CSV for spreadsheets)",
        description="Requests, errors, 429s, latency and call frequency for each "
        "data-API endpoint in a timeframe, most requested first.",
    )
    parser.add_argument(
        "--timeframe",
        choices=TIMEFRAMES,
        default="30d",
        help="today (since 00:00 UTC), week (since Monday), month (since the 1st), "
        "30d or 90d (the last 30 or 90 UTC days, today included, as `metrics` counts them; "
        "default: 30d)",
    )
    parser.add_argument(
        "--by",
        choices=("endpoint", "instance"),
        default="endpoint",
        help="instance: split each endpoint's row by meter instance (the hosts whose meters share "
        "one store; --source meter only)",
    )
    common.add_format_options(parser, csv_too=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    by_instance = args.by == "instance"

    async def fetch(source: AccountSource) -> EndpointUsageReport:
        if not by_instance:
            return await common.retried(lambda: source.endpoint_usage(timeframe=args.timeframe))
        from ht_dash.meter.source import MeterSource

        if not isinstance(source, MeterSource):
            from ht_dash.api.errors import ConfigError

            raise ConfigError(
                "--by instance splits the local meter's records",
                hint="use it with --source meter",
            )
        return await common.retried(
            lambda: source.endpoint_usage(timeframe=args.timeframe, by_instance=True)
        )

    return common.run_command(
        args, runtime, fetch, to_json=to_json, to_csv=to_csv, to_table=to_table
    )


# The CLI's JSON (docs/cli.md) is a stable contract of its own: spelled out here, not borrowed
# from api.contract, so re-pointing the client at the real account API never changes it.
def _split(report: EndpointUsageReport) -> bool:
    return any(e.instance is not None for e in report.endpoints)


def to_json(report: EndpointUsageReport) -> dict[str, Any]:
    split = _split(report)
    endpoints = [
        {
            **({"instance": e.instance} if split else {}),
            "method": e.method,
            "path": e.path,
            "requests": e.requests,
            "errors": e.errors,
            "throttled": e.throttled,
            "avg_latency_ms": round(e.avg_latency_ms, 2),
            "calls_per_hour": round(e.calls_per_hour, 3),
            "mean_interval_s": None if e.mean_interval_s is None else round(e.mean_interval_s, 2),
        }
        for e in report.endpoints
    ]
    document = {
        "timeframe": report.timeframe,
        "from": fmt.iso_or_none(report.start),
        "to": fmt.iso_or_none(report.end),
        "totals": {
            "requests": sum(e.requests for e in report.endpoints),
            "errors": sum(e.errors for e in report.endpoints),
            "throttled": sum(e.throttled for e in report.endpoints),
        },
        "endpoints": endpoints,
    }
    if split:
        document["instances"] = sorted({e.instance or "" for e in report.endpoints})
    return document


def to_csv(report: EndpointUsageReport) -> tuple[Sequence[str], Iterable[Sequence[Any]]]:
    split = _split(report)
    rows = (
        (
            *((e.instance,) if split else ()),
            e.method,
            e.path,
            e.requests,
            e.errors,
            e.throttled,
            f"{e.avg_latency_ms:.2f}",
            f"{e.calls_per_hour:.3f}",
            None if e.mean_interval_s is None else f"{e.mean_interval_s:.2f}",
        )
        for e in report.endpoints
    )
    return (("instance", *CSV_HEADER) if split else CSV_HEADER), rows


def to_table(report: EndpointUsageReport, console: Console) -> None:
    from rich.table import Table

    label = TIMEFRAME_LABELS.get(report.timeframe, report.timeframe)
    from rich import box

    table = Table(
        title=f"Endpoint usage · {label} ({fmt.when(report.start)} → {fmt.when(report.end)})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    split = _split(report)
    if split:
        table.add_column("Instance", overflow="fold")
    table.add_column("Endpoint", overflow="fold", ratio=1)
    for header in ("Requests", "Errors", fmt.THROTTLED, "Latency", "Calls/h", "Every"):
        table.add_column(header, justify="right", no_wrap=True)
    for e in report.endpoints:
        table.add_row(
            *((e.instance or "—",) if split else ()),
            f"{e.method} {e.path}",
            f"{e.requests:,}",
            f"{e.errors:,}",
            f"{e.throttled:,}",
            f"{e.avg_latency_ms:,.0f} ms",
            f"{e.calls_per_hour:,.1f}",
            "—" if e.mean_interval_s is None else fmt.duration(e.mean_interval_s),
        )
    if not report.endpoints:
        console.print(f"No data-API requests in this timeframe ({label.lower()}).")
        return
    common.print_table(console, table)
