"""`ht-dash billing`: the next invoice."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ht_dash.commands import _common as common
from ht_dash.insights import format as fmt

if TYPE_CHECKING:
    from rich.console import Console

    from ht_dash.api.models import NextBilling
    from ht_dash.api.source import AccountSource
    from ht_dash.runtime import Runtime


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = common.add_command(
        subparsers,
        "billing",
        help="the next invoice: date, amount, plan",
        description="The next invoice: its date, amount, plan and payment method.",
    )
    common.add_format_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    async def fetch(source: AccountSource) -> NextBilling:
        return await common.retried(source.next_billing)

    return common.run_command(args, runtime, fetch, to_json=to_json, to_table=to_table)


def to_json(bill: NextBilling) -> dict[str, Any]:
    return {
        "invoice_date": fmt.iso_date(bill.invoice_date),
        "amount_cents": bill.amount_cents,
        "currency": bill.currency,
        "amount": fmt.money_or_none(bill.amount_cents, bill.currency),
        "plan_id": bill.plan_id,
        "plan_name": bill.plan_name,
        "payment_method": bill.payment_method,
    }


def to_table(bill: NextBilling, console: Console) -> None:
    from rich.table import Table

    table = Table(
        title="Next billing",
        show_header=False,
        box=None,
        padding=(0, 2, 0, 0),
        title_justify="left",
    )
    table.add_column(style="bold")
    table.add_column()
    if bill.invoice_date is None:
        table.add_row("Invoice date", "nothing will be billed")
    else:
        table.add_row("Invoice date", fmt.day(bill.invoice_date, weekday=True))
    table.add_row("Amount", fmt.money(bill.amount_cents, bill.currency))
    table.add_row("Plan", bill.plan_name)
    table.add_row("Payment method", bill.payment_method or "none on file")
    common.print_table(console, table)
