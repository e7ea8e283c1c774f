"""One figure, one value: screens 2, 3 and 5 and `status/usage/metrics --json` agree on the same
demo account at the same instant (issue 17 §1)."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime

from textual.widgets import Static

from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.demo import DemoBackend
from ht_dash.insights.live import live_peak
from ht_dash.insights.metrics import format_count, format_ms
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app
from ht_dash.tui.widgets.stat_card import StatCard
from test_cli_support import run_cli

AT = datetime(2026, 11, 25, 14, 3, 20, tzinfo=UTC)
SIZE = (120, 40)


def cli_at(capsys, monkeypatch, *argv: str) -> str:
    """What `ht-dash --demo ARGV` prints with the clock stopped at AT (the default demo account)."""
    from ht_dash import cli

    make_runtime = cli.make_runtime

    def at_fixed_instant(args):
        runtime = make_runtime(args)
        runtime.clock = FixedClock(AT)
        return runtime

    monkeypatch.setattr(cli, "make_runtime", at_fixed_instant)
    code, out, err = run_cli(capsys, "--demo", *argv)
    assert code == 0, err
    return out


def cli_json(capsys, monkeypatch, *argv: str) -> dict:
    return json.loads(cli_at(capsys, monkeypatch, *argv, "--json"))


def render(widget: Static) -> str:
    """The text a Static shows, whether it holds markup or a rich renderable."""
    from rich.console import Console

    content = widget.content
    if isinstance(content, str):
        return str(widget.render())
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(content)
    return " ".join(console.export_text().split())


async def wait_for(pilot, predicate, what: str) -> None:
    for _ in range(300):
        await pilot.pause(0.01)
        if predicate():
            return
    raise AssertionError(f"never happened: {what}")


def test_screens_and_commands_agree_on_the_same_demo_instant(capsys, monkeypatch):
    metrics = cli_json(capsys, monkeypatch, "metrics", "--days", "30")
    usage = cli_json(capsys, monkeypatch, "usage", "--timeframe", "30d")
    status = cli_json(capsys, monkeypatch, "status")

    # "Last 30 days" is one window: the 30 UTC days ending today, for the daily metrics and the
    # per-endpoint usage alike (a rolling 720 h window disagreed with the daily series).
    daily = metrics["daily"]
    assert usage["from"] == f"{metrics['from']}T00:00:00Z"
    assert usage["totals"]["requests"] == sum(d["requests"] for d in daily)
    assert usage["totals"]["throttled"] == sum(d["rate_limited"] for d in daily)
    assert usage["totals"]["throttled"] == metrics["summary"]["rate_limit_hits"]

    asyncio.run(screens_agree(metrics, usage, status))


async def screens_agree(metrics: dict, usage: dict, status: dict) -> None:
    clock = FixedClock(AT)
    runtime = Runtime(settings=Settings(), demo=True, clock=clock)
    runtime._backend = DemoBackend(clock=clock)  # the default demo account, as the CLI's
    app = make_app(runtime, live=False)
    async with app.run_test(size=SIZE) as pilot:
        # Screen 2, set to 30 days (d cycles 90 → 7 → 30): the cards are the CLI's summary.
        await pilot.press("2", "d", "d")
        await wait_for(
            pilot,
            lambda: getattr(app.feeds.state("metrics").data, "days", None) == 30,
            "30 days of metrics",
        )
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen

        def card(card_id: str) -> str:
            return render(screen.query_one(f"#{card_id} .stat-value", Static))

        summary = metrics["summary"]
        assert card("card-requests") == format_count(summary["avg_daily_requests"])
        assert card("card-latency") == format_ms(summary["avg_latency_ms"])
        assert card("card-429") == format_count(summary["rate_limit_hits"])
        latency_chart = " ".join(screen.query_one("#chart-latency").notes)
        assert f"avg {format_ms(summary['avg_latency_ms'])}" in latency_chart  # not a plain mean
        assert screen.query_one("#card-429", StatCard) is not None

        # Screen 3, last 30 days: the totals line is the CLI's totals.
        await pilot.press("3")
        await wait_for(pilot, lambda: app.feeds.state("usage").data is not None, "endpoint usage")
        await pilot.pause()
        totals = render(app.screen.query_one("#endpoint-totals", Static))
        assert f"{usage['totals']['requests']:,} requests" in totals
        assert f"429s {usage['totals']['throttled']:,}" in totals

        # Screen 5: the tokens used are status's; the peak is the one definition of it.
        await pilot.press("5")
        await wait_for(
            pilot,
            lambda: "Peak" in render(app.screen.query_one("#pace-text", Static)),
            "the plan advice with the peak",
        )
        pace = render(app.screen.query_one("#pace-text", Static))
        assert f"{status['tokens']['used']:,} tokens so far" in pace
        live = await runtime.make_client(runtime.demo_backend.token).live(window_minutes=15)
        assert f"Peak {live_peak(live).per_minute:,} req/min" in pace
        assert f"({metrics['summary']['rate_limit_hits']:,}," in pace  # 429s of the 30 days
