"""`ht-dash status`: plan, quota, reset time, live req/min, 429s and streams at a glance."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ht_dash.commands import _common as common
from ht_dash.insights import format as fmt

if TYPE_CHECKING:
    from rich.console import Console

    from ht_dash.api.models import LiveUsage, StreamUsage, Subscription
    from ht_dash.api.source import AccountSource
    from ht_dash.runtime import Runtime

WINDOW_MINUTES = 15


@dataclass(frozen=True)
class Status:
    at: datetime
    subscription: Subscription | None
    live: LiveUsage | None
    why: dict[str, str] = field(default_factory=dict)  # section -> what would provide it


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = common.add_command(
        subparsers,
        "status",
        help="plan, quota, req/min and 429s at a glance",
        description="Show the plan, usage tokens spent against the quota, when the quota resets, "
        "the current requests per minute against the limit, 429s (requests refused) in the "
        "last 15 minutes and live-stream usage.",
    )
    common.add_format_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    async def fetch(source: AccountSource) -> Status:
        from ht_dash.api.errors import NotAvailable

        results = await asyncio.gather(
            common.retried(source.subscription),
            common.retried(lambda: source.live(window_minutes=WINDOW_MINUTES)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, NotAvailable):
                raise result
        if all(isinstance(result, NotAvailable) for result in results):
            raise results[1]  # the source's own words on why it has no live data
        subscription, live = (None if isinstance(r, NotAvailable) else r for r in results)
        at = live.at if live is not None else runtime.clock.now()
        why = {
            section: str(result)
            for section, result in zip(("plan", "rate"), results, strict=True)
            if isinstance(result, NotAvailable)
        }
        origin = getattr(source, "origins", {}).get("subscription")
        if origin is not None and origin.kind == "plan":  # the plan is known, its usage is not
            why["tokens"] = origin.note
        return Status(at=at, subscription=subscription, live=live, why=why)  # type: ignore[arg-type]

    return common.run_command(args, runtime, fetch, to_json=to_json, to_table=to_table)


def to_json(status: Status) -> dict[str, Any]:
    sub, live = status.subscription, status.live
    plan = tokens = rate = streams = None
    if sub is not None:
        p = sub.plan
        plan = {
            "id": p.id,
            "name": p.name,
            "price_cents": p.price_cents,
            "currency": p.currency,
            "price": fmt.money_or_none(p.price_cents, p.currency),
            "quota": p.quota,
            "quota_period": p.quota_period,
            "rate_limit_per_minute": p.rate_limit_per_minute,
            "streams_included": p.streams_included,
        }
        tokens = {
            "used": sub.tokens_used,
            "quota": p.quota,
            "remaining": max(0, p.quota - sub.tokens_used),
            "used_fraction": round(sub.quota_fraction, 6),
            "period": p.quota_period,
            "period_start": fmt.iso_or_none(sub.period_start),
            "resets_at": fmt.iso_or_none(sub.resets_at),
        }
    if live is not None:
        rate = {
            "requests_per_minute": live.requests_per_minute,
            "limit_per_minute": live.limit_per_minute,
            "used_fraction": None
            if not live.limit_per_minute
            else round(live.requests_per_minute / live.limit_per_minute, 6),
            "throttled_last_15m": live.throttled_in_window,
            "window_minutes": WINDOW_MINUTES,
        }
        if live.streams is not None:
            streams = {
                "connections_open": live.streams.connections_open,
                "connection_limit": live.streams.connection_limit,
                "messages_per_minute": live.streams.messages_per_minute,
                "subscriptions": live.streams.subscriptions,
                "not_seen_at": live.streams.not_seen_at,
            }
    document = {
        "at": fmt.iso_or_none(status.at),
        "plan": plan,
        "subscription_status": None if sub is None else sub.status,
        "tokens": tokens,
        "rate": rate,
        "streams": streams,
        # Meters sharing one store (--source meter): each host's share; empty from the API.
        "instances": [
            {
                "instance": i.instance,
                "requests_per_minute": i.requests_per_minute,
                "requests_last_15m": i.requests_in_window,
                "throttled_last_15m": i.throttled_in_window,
            }
            for i in (live.instances if live is not None else ())
        ],
    }
    if status.why:
        why = dict(status.why)
        if "plan" in why:
            why.setdefault("tokens", why["plan"])
        if "tokens" in why:
            document["tokens"] = None
        document["why"] = why
    return document


def _streams_text(s: StreamUsage) -> str:
    if s.not_seen_at is not None:
        return f"not seen locally — point the bot's stream URL at the meter: {s.not_seen_at}"
    limit = f" / {s.connection_limit}" if s.connection_limit else ""
    text = f"{s.connections_open}{limit} connections · {s.messages_per_minute:,} messages/min"
    if s.subscriptions is not None:
        text += f" · {s.subscriptions:,} subscription{'' if s.subscriptions == 1 else 's'}"
    return text


def _level(fraction: float) -> str:
    return "red" if fraction >= 0.95 else "yellow" if fraction >= 0.8 else "green"


def to_table(status: Status, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    sub, live = status.subscription, status.live
    table = Table(
        title=f"HyperTracker status · {fmt.when(status.at)}",
        show_header=False,
        box=None,
        padding=(0, 2, 0, 0),
        title_justify="left",
    )
    table.add_column(style="bold")
    table.add_column()
    if sub is not None:
        p = sub.plan
        table.add_row("Plan", f"{p.name} ({fmt.plan_price(p)}) · {sub.status}")
        fraction = sub.quota_fraction
        period = "today" if p.quota_period == "day" else "this month"
        tokens = Text(f"{sub.tokens_used:,} / {p.quota:,} {period} (")
        tokens.append(fmt.percent(fraction), style=_level(fraction))
        tokens.append(f") · {max(0, p.quota - sub.tokens_used):,} left")
        table.add_row("Usage tokens", status.why.get("tokens") or tokens)
        table.add_row("Resets at", fmt.when(sub.resets_at, status.at))
    else:
        table.add_row("Plan", status.why.get("plan", "not available from this source"))
    if live is not None:
        if live.limit_per_minute:
            fraction = live.requests_per_minute / live.limit_per_minute
            rate = Text(f"{live.requests_per_minute:,} / {live.limit_per_minute:,} (")
            rate.append(fmt.percent(fraction, 0), style=_level(fraction))
            rate.append(")")
        else:
            rate = Text(f"{live.requests_per_minute:,} (no per-minute limit)")
        table.add_row("Requests/min", rate)
        if len(live.instances) > 1:  # several hosts' meters on one store: each one's share
            for share in live.instances:
                table.add_row(
                    "",
                    Text(f"{share.requests_per_minute:,} on {share.instance}", style="dim"),
                )
        throttled = Text(
            f"{live.throttled_in_window:,}", style="red" if live.throttled_in_window else ""
        )
        throttled.append(f" in the last {WINDOW_MINUTES} min", style="")
        table.add_row(fmt.THROTTLED, throttled)
        if live.streams is not None:
            table.add_row("Streams", _streams_text(live.streams))
        elif sub is not None and not sub.plan.streams_included:
            table.add_row("Streams", "not in this plan")
    else:
        table.add_row("Requests/min", status.why.get("rate", "not available from this source"))
    common.print_table(console, table)
