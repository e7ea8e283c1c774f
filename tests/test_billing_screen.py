"""Screen 5 on the demo backend: invoice, countdown, usage pace, plan fit, the Free plan."""

from __future__ import annotations

from datetime import UTC, datetime, time

from textual.widgets import Static

from ht_dash.api.errors import ServerError
from ht_dash.api.models import NextBilling, Subscription
from ht_dash.insights import format as fmt
from ui_harness import wait_until

SIZE = (100, 30)


async def open_billing(pilot) -> None:
    await pilot.press("5")
    app = pilot.app

    def ready() -> bool:
        loaded = all(app.feeds.state(k).data is not None for k in ("billing", "subscription"))
        return loaded and getattr(app.screen, "_history_state", "") != "loading"

    await wait_until(pilot, ready)
    await app.workers.wait_for_complete()
    await pilot.pause()


def shown(app, widget_id: str) -> str:
    """What a Static shows, as plain text: markup or a Rich table rendered at the widget's width."""
    widget = app.screen.query_one(f"#{widget_id}", Static)
    content = widget.content
    if isinstance(content, str):
        return str(widget.render())
    options = app.console.options.update_width(widget.content_size.width)
    lines = app.console.render_lines(content, options, pad=False)
    return "\n".join("".join(seg.text for seg in line).rstrip() for line in lines)


async def test_surge_invoice_with_countdown_amount_plan_and_payment_method(demo_app):
    app = demo_app("surge")
    async with app.run_test(size=SIZE) as pilot:
        await open_billing(pilot)
        bill: NextBilling = app.feeds.state("billing").data
        invoice = shown(app, "invoice-text")
        # The countdown reads as the quota reset does on screen 4: "in 15 d 2 h".
        left = datetime.combine(bill.invoice_date, time(), UTC) - app.clock.now()
        assert f"{fmt.day(bill.invoice_date, weekday=True)} · in {fmt.duration(left)}" in invoice
        assert "$399.00 USD" in invoice
        assert "Surge (150,000 tokens/month, 100 req/min)" in invoice
        assert "Visa •••• 4242" in invoice


async def test_usage_pace_compares_last_period_with_the_quota_and_fits_a_plan(demo_app):
    app = demo_app("surge")
    async with app.run_test(size=SIZE) as pilot:
        await open_billing(pilot)
        sub: Subscription = app.feeds.state("subscription").data
        pace = shown(app, "pace-text")
        assert "Last period (" in pace and "of Surge's quota" in pace
        assert f"This period: {sub.tokens_used:,} tokens so far, on pace for" in pace
        assert "req/min of 100 in the last 15 min" in pace
        table = shown(app, "plans-table")
        surge_row = next(line for line in table.splitlines() if line.startswith("Surge"))
        assert "● current" in surge_row
        assert "✗ quota" in next(line for line in table.splitlines() if line.startswith("Pulse"))
        note = shown(app, "pace-note")
        assert note.startswith("Tokens counted as requests")


async def test_free_plan_says_nothing_will_be_billed(demo_app):
    app = demo_app("free")
    async with app.run_test(size=SIZE) as pilot:
        await open_billing(pilot)
        invoice = shown(app, "invoice-text")
        assert invoice.startswith("Nothing will be billed — the Free plan costs nothing.")
        pace = shown(app, "pace-text")
        assert "of Free's quota" in pace and "Today:" in pace


async def test_canceled_subscription_bills_nothing(demo_app):
    app = demo_app("surge")
    async with app.run_test(size=SIZE) as pilot:
        await open_billing(pilot)
        bill: NextBilling = app.feeds.state("billing").data
        sub: Subscription = app.feeds.state("subscription").data
        app.feeds.state("subscription").data = Subscription(
            sub.plan, "canceled", sub.tokens_used, sub.period_start, sub.resets_at
        )
        app.screen._render_invoice(
            NextBilling(None, 0, bill.currency, bill.plan_id, bill.plan_name, None)
        )
        await pilot.pause()
        invoice = shown(app, "invoice-text")
        assert invoice.startswith("Nothing will be billed — the subscription is canceled.")


async def test_usage_history_failure_is_said_and_u_retries(demo_app):
    app = demo_app("surge")
    real_metrics = app.feeds.source.metrics
    calls = []

    async def failing_metrics(days: int = 90):
        calls.append(days)
        if len(calls) == 1:
            raise ServerError("HTTP 503 from the account API", status=503)
        return await real_metrics(days)

    app.feeds.source.metrics = failing_metrics
    async with app.run_test(size=SIZE) as pilot:
        await open_billing(pilot)
        note = shown(app, "pace-note")
        assert note.startswith("⚠ daily usage unavailable: HTTP 503") and "press u to retry" in note
        pace = shown(app, "pace-text")
        assert "This period:" in pace and "Last period" not in pace  # advice from what is known
        await pilot.press("u")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert calls == [62, 62]
        assert "Last period (" in shown(app, "pace-text")


def test_billing_snapshot_80x24(snap_compare, demo_app):
    async def run_before(pilot) -> None:
        await open_billing(pilot)

    assert snap_compare(demo_app("surge"), terminal_size=(80, 24), run_before=run_before)


async def test_palette_can_recheck_the_usage_pace(demo_app):
    app = demo_app("surge")
    fetched = []
    real_live = app.feeds.source.live

    async def counting_live(window_minutes: int = 15):
        fetched.append(window_minutes)
        return await real_live(window_minutes)

    app.feeds.source.live = counting_live
    async with app.run_test(size=SIZE) as pilot:
        await open_billing(pilot)
        assert len(fetched) == 1
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        commands["Billing: recheck usage pace"].callback()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(fetched) == 2
        assert app.screen._history_state == "loaded"


async def test_advice_comes_even_when_the_billing_endpoint_fails(demo_app):
    app = demo_app("surge")

    async def broken_billing():
        raise ServerError("HTTP 500 from the account API", status=500)

    app.feeds.source.next_billing = broken_billing
    app.feeds.scheduler.feeds["billing"].fetch = broken_billing
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await wait_until(
            pilot,
            lambda: app.feeds.state("subscription").data and app.feeds.state("billing").error,
        )
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.query_one("#invoice-panel").has_class("-error")
        assert "Last period (" in shown(app, "pace-text")
        assert app.screen._history_state == "loaded"


async def test_a_401_on_the_usage_pace_opens_the_login(demo_app):
    from ht_dash.tui.screens.login import LoginScreen

    app = demo_app("surge")
    app.runtime.demo_backend.set_fault("/account/metrics", 401)  # only the pace asks for it here
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        assert app.feeds.scheduler.auth_failed is not None
