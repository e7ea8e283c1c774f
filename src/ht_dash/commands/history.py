"""`ht-dash history`: payments, invoices, plan changes, refunds, support tickets; newest first."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ht_dash.api.models import HISTORY_KINDS
from ht_dash.commands import _common as common
from ht_dash.insights import format as fmt

if TYPE_CHECKING:
    from rich.console import Console

    from ht_dash.api.models import HistoryEntry
    from ht_dash.api.source import AccountSource
    from ht_dash.runtime import Runtime

LIMIT_RANGE = (1, 200)
PAGE_SIZE = 200


@dataclass(frozen=True)
class History:
    kind: str | None
    items: tuple[HistoryEntry, ...]
    more: bool


def limit_arg(text: str) -> int:
    try:
        limit = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    low, high = LIMIT_RANGE
    if not low <= limit <= high:
        raise argparse.ArgumentTypeError(
            f"must be between {low} and {high} (or use --all), got {limit}"
        )
    return limit


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = common.add_command(
        subparsers,
        "history",
        help="payments, invoices, plan changes, refunds, support tickets",
        description="Support and billing history, newest first.",
    )
    parser.add_argument("--kind", choices=HISTORY_KINDS, help="only entries of this kind")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument(
        "--limit",
        type=limit_arg,
        default=50,
        metavar="N",
        help="newest N entries, 1-200 (default: 50)",
    )
    amount.add_argument(
        "--all", action="store_true", help="every entry (pages through the history)"
    )
    common.add_format_options(parser, csv_too=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    async def fetch(source: AccountSource) -> History:
        if args.all:
            items = await common.retried(lambda: _collect(source, args.kind))
            return History(kind=args.kind, items=items, more=False)
        page = await common.retried(lambda: source.history(kind=args.kind, limit=args.limit))
        return History(kind=args.kind, items=page.items, more=page.next_cursor is not None)

    return common.run_command(
        args, runtime, fetch, to_json=to_json, to_csv=to_csv, to_table=to_table
    )


async def _collect(source: AccountSource, kind: str | None) -> tuple[HistoryEntry, ...]:
    """Every entry via the source's own pager (which stops on a repeated cursor)."""
    return tuple([entry async for entry in source.iter_history(kind=kind, limit=PAGE_SIZE)])


def _entry(e: HistoryEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": fmt.iso_or_none(e.at),
        "kind": e.kind,
        "description": e.description,
        "status": e.status,
        "amount_cents": e.amount_cents,
        "currency": e.currency,
        "amount": fmt.money_or_none(e.amount_cents, e.currency),
        "reference": e.reference,
    }


def to_json(history: History) -> dict[str, Any]:
    return {
        "kind": history.kind,
        "count": len(history.items),
        "more": history.more,
        "items": [_entry(e) for e in history.items],
    }


def to_csv(history: History) -> tuple[Sequence[str], Iterable[Sequence[Any]]]:
    """The app's export layout (insights.export): one CSV layout for the history."""
    from ht_dash.insights.export import history_csv_rows

    rows = history_csv_rows(history.items)
    return next(rows), rows


def to_table(history: History, console: Console) -> None:
    from rich.table import Table

    title = "History" + (f" · {history.kind}" if history.kind else "")
    if not history.items:
        console.print(f"{title}: no entries.")
        return
    table = Table(title=title, title_justify="left")
    table.add_column("Date")
    table.add_column("Kind")
    table.add_column("Description", overflow="fold")
    table.add_column("Status")
    table.add_column("Amount", justify="right")
    table.add_column("Reference")
    for e in history.items:
        table.add_row(
            fmt.day(e.at),
            e.kind.replace("_", " "),
            e.description,
            e.status,
            fmt.money_or_none(e.amount_cents, e.currency) or "",
            e.reference or "",
        )
    common.print_table(console, table)
    if history.more:
        common.print_note(
            console, f"Showing the newest {len(history.items)}; use --all for everything."
        )
