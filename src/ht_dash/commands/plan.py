"""`ht-dash plan set ID [--billing-day N] | plan show`: the plan the token is on, declared once.

Stored as `plan` and `billing_day` in config.toml; the local meter (`ht-dash meter --plan`) reads
and writes the same setting. The dashboard uses it where the API does not say: the quota and limit
on screen 4, the next invoice on screen 5.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ht_dash.commands import _common as common
from ht_dash.insights import format as fmt

if TYPE_CHECKING:
    from ht_dash.runtime import Runtime


# `plan` reads and writes the config file only: no network, no token.
LOCAL_EXIT_CODES = """\
exit codes:
  0 ok (also when no plan is declared: `plan show` says so on stderr)
  1 unexpected error (the config file could not be written)
  2 usage error (an unknown plan id, a billing day outside 1-31)"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = common.add_command(
        subparsers,
        "plan",
        help="declare the plan your token is on (used where the API does not say)",
        description="Declare your HyperTracker plan once, for the quota, the rate limit and the "
        "next invoice the dashboard shows when the API does not offer them. Stored in "
        "config.toml as `plan` and `billing_day`.",
        has_json=False,  # `plan show --json` has its own
        exit_codes=LOCAL_EXIT_CODES,
    )
    actions = parser.add_subparsers(dest="plan_action", metavar="action", required=True)
    set_parser = actions.add_parser("set", help="declare the plan (and the billing day)")
    set_parser.add_argument("plan_id", metavar="ID", help=f"one of: {_plan_ids()}")
    set_parser.add_argument(
        "--billing-day",
        type=int,
        metavar="N",
        help="day of the month your paid period starts (1-31; default: keep, else the 1st)",
    )
    set_parser.set_defaults(handler=run_set)
    show_parser = actions.add_parser("show", help="print the declared plan")
    common.add_format_options(show_parser)
    show_parser.set_defaults(handler=run_show)


def _plan_ids() -> str:
    from ht_dash.api.plans import PLANS

    return ", ".join(p.id for p in PLANS)


def run_set(args: argparse.Namespace, runtime: Runtime) -> int:
    from ht_dash.paths import config_file
    from ht_dash.sources.plan import declare_plan

    plan = declare_plan(args.plan_id, args.billing_day)
    day = args.billing_day or runtime.settings.billing_day
    print(f"Plan set to {plan.name} in {config_file()}" + (f", billing day {day}" if day else ""))
    return 0


def describe(runtime: Runtime) -> dict[str, Any]:
    from ht_dash.sources.plan import RESET_ASSUMED, declared_plan, period_bounds

    plan = declared_plan(runtime.settings)
    if plan is None:
        return {"plan": None, "why": f"no plan declared; run `ht-dash plan set ID` ({_plan_ids()})"}
    start, end = period_bounds(plan, runtime.settings.billing_day, runtime.clock.now())
    return {
        "plan": {
            "id": plan.id,
            "name": plan.name,
            "price": fmt.money_or_none(plan.price_cents, plan.currency),
            "quota": plan.quota,
            "quota_period": plan.quota_period,
            "rate_limit_per_minute": plan.rate_limit_per_minute,
        },
        "billing_day": runtime.settings.billing_day or None,
        "period_start": fmt.iso_or_none(start),
        "resets_at": fmt.iso_or_none(end),
        "note": RESET_ASSUMED,
    }


def run_show(args: argparse.Namespace, runtime: Runtime) -> int:
    doc = describe(runtime)
    if getattr(args, "json", False):
        common.write_json(doc)
        return 0
    if doc["plan"] is None:
        print(f"ht-dash: {doc['why']}", file=sys.stderr)
        return 0
    from ht_dash.sources.plan import declared_plan, period_bounds

    declared = declared_plan(runtime.settings)
    assert declared is not None  # describe() found it
    start, end = period_bounds(declared, runtime.settings.billing_day, runtime.clock.now())
    limit = declared.rate_limit_per_minute
    period = "day" if declared.quota_period == "day" else "month"
    print(
        f"{declared.name} · {fmt.plan_price(declared)} · {declared.quota:,} tokens/{period} · "
        + (f"{limit} req/min" if limit else "no stated req/min limit")
    )
    day = doc["billing_day"]
    print(
        f"Period {fmt.when(start)} → {fmt.when(end)}"
        + (f" (billing day {day})" if day else "")
        + f" · {doc['note']}"
    )
    return 0
