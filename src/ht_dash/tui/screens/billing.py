"""Screen 5 · Next billing: the next invoice, and what the usage pace means for the next period."""

from __future__ import annotations

from collections.abc import Iterable

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from ht_dash.api.errors import HtError
from ht_dash.api.models import DailyMetric, LiveUsage, NextBilling, Plan, Subscription
from ht_dash.api.plans import PLANS, is_custom, plan_by_id
from ht_dash.feeds.registry import BILLING, SUBSCRIPTION
from ht_dash.insights.billing import (
    PlanAdvice,
    Usage,
    advise,
    countdown,
    fits,
)
from ht_dash.insights.format import day, money
from ht_dash.tui.screens.base import DashScreen
from ht_dash.tui.widgets.bar_chart import BarChart
from ht_dash.tui.widgets.field_text import FieldText
from ht_dash.tui.widgets.panel import DataPanel

# Daily history fetched for the advice: covers the previous month and the last 30 days.
HISTORY_DAYS = 62
# Below SHORT rows the invoice takes three lines (the plan table stays above the fold at 80x24);
# from TALL rows the daily usage behind the advice fills the space under it.
SHORT_SCREEN_ROWS, TALL_SCREEN_ROWS = 30, 40
PACE_TITLE = "Usage pace & plan fit"
MORE_BELOW = " · ↓ more below"  # in the title while the screen scrolls further (80x24)


class BillingScreen(DashScreen):
    """The next invoice with a countdown, and usage against the plan: last period's share of the
    quota, this period's pace, the peak req/min and 429s, and the cheapest public plan that fits.
    Account endpoints cost no usage tokens, so looking here is free."""

    FEEDS = (BILLING, SUBSCRIPTION)
    PANELS = {BILLING.name: "invoice-panel", SUBSCRIPTION.name: "pace-panel"}
    AUTO_FOCUS = "#billing-scroll"  # arrow keys and PgUp/PgDn scroll at small sizes
    BINDINGS = [
        Binding("u", "reload_usage", "Recheck usage pace", id="billing.reload_usage"),
    ]
    DEFAULT_CSS = """
    BillingScreen #pace-text { margin-bottom: 1; }
    BillingScreen.-short #pace-text { margin-bottom: 0; }
    BillingScreen #daily-panel {
        display: none; height: 1fr; min-height: 10; padding: 0 1;
        border: round $primary 60%; border-title-color: $text; border-title-style: bold;
    }
    BillingScreen.-tall #daily-panel.-loaded { display: block; }
    BillingScreen #pace-note { color: $text-muted; }
    BillingScreen #pace-note.-error { color: $text-warning; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._billing_seen: NextBilling | None = None
        self._daily: tuple[DailyMetric, ...] = ()
        self._live: LiveUsage | None = None
        self._history_state = "loading"  # loading | loaded | failed
        self._history_problem = ""
        self._history_requested = False

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="billing-scroll"):
            yield DataPanel(FieldText(id="invoice-text"), title="Next invoice", id="invoice-panel")
            yield DataPanel(
                Static(id="pace-text"),
                Static(id="plans-table"),
                Static(id="pace-note"),
                title=PACE_TITLE,
                id="pace-panel",
            )
            # The days the advice reads (shown once loaded; the pace panel says where from)
            with Vertical(id="daily-panel") as daily:
                daily.border_title = f"Daily usage (last {HISTORY_DAYS} days)"
                yield BarChart("Tokens / day", id="daily-chart")

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._render_pace, init=False)  # the table's colours
        scroll = self.query_one("#billing-scroll", VerticalScroll)
        for attribute in ("scroll_y", "virtual_size", "size"):
            self.watch(scroll, attribute, self._after_layout, init=False)

    def _after_layout(self) -> None:
        self.call_after_refresh(self._hint_more_below)  # sizes settle in the same refresh

    def _hint_more_below(self) -> None:
        scroll = self.query_one("#billing-scroll", VerticalScroll)
        more = scroll.max_scroll_y - scroll.scroll_y >= 1
        self.query_one("#pace-panel", DataPanel).border_title = PACE_TITLE + (
            MORE_BELOW if more else ""
        )

    def on_resize(self, event: events.Resize) -> None:
        rows = event.size.height
        self.set_class(rows < SHORT_SCREEN_ROWS, "-short")
        self.set_class(rows >= TALL_SCREEN_ROWS, "-tall")
        billing = self.app.feeds.state(BILLING).data
        if isinstance(billing, NextBilling):
            self._render_invoice(billing)

    # ---- rendering ---------------------------------------------------------------------------

    def render_data(self, kind: str, data: object) -> None:
        if kind == BILLING.name and isinstance(data, NextBilling):
            self._render_invoice(data)
            if data is not self._billing_seen:  # a fresh fetch (open, r, every 5 min)
                self._billing_seen = data
                self._request_history()
        elif kind == SUBSCRIPTION.name and isinstance(data, Subscription):
            billing = self.app.feeds.state(BILLING).data
            if isinstance(billing, NextBilling):
                self._render_invoice(billing)
            if not self._history_requested:  # the billing feed may be failing: advise anyway
                self._request_history()
            self._render_pace()

    def _render_invoice(self, bill: NextBilling) -> None:
        sub = self.app.feeds.state(SUBSCRIPTION).data
        status = sub.status if isinstance(sub, Subscription) else None
        lines = []
        if bill.invoice_date is None:
            if status == "canceled":
                why = "the subscription is canceled"
            elif bill.amount_cents == 0:
                why = f"the {escape(bill.plan_name)} plan costs nothing"
            else:
                why = "no invoice is scheduled"
            lines.append(f"[b]Nothing will be billed[/] — {why}.")
            lines.append(f"[dim]Plan[/]          {escape(bill.plan_name)}")
        else:
            date = (
                f"[dim]Invoice date[/]  [b]{day(bill.invoice_date, weekday=True)}[/] · "
                f"[b $text-accent]{countdown(bill.invoice_date, self.app.clock.now())}[/]"
            )
            amount = (
                f"[b]{escape(money(bill.amount_cents, bill.currency))}[/] "
                f"[dim]{escape(bill.currency.upper())}[/]"
            )
            plan = f"[dim]Plan[/]          {escape(bill.plan_name)}{_plan_terms(bill.plan_id)}"
            payment = escape(bill.payment_method or "none on file")
            if self.has_class("-short"):  # one row less: the price table stays in view
                lines += [date, f"[dim]Amount[/]        {amount} · {payment}", plan]
            else:
                lines += [
                    date,
                    f"[dim]Amount[/]        {amount}",
                    plan,
                    f"[dim]Payment[/]       {payment}",
                ]
        if status == "past_due":
            lines.append(
                "[b $text-error]⚠ Payment past due[/] — update the payment method to keep the plan."
            )
        elif status == "canceled" and bill.invoice_date is not None:
            lines.append(
                "[b $text-warning]Subscription canceled[/] — this invoice is the last one."
            )
        self.query_one("#invoice-text", Static).update("\n".join(lines))

    def _render_pace(self) -> None:
        sub = self.app.feeds.state(SUBSCRIPTION).data
        if not isinstance(sub, Subscription):
            return
        advice = advise(sub, self._daily, self._live, self.app.clock.now())
        bullets = Table.grid(padding=(0, 1))
        bullets.add_column(no_wrap=True)
        bullets.add_column(ratio=1)
        for line in advice.lines:
            bullets.add_row("•", Text(line))  # advice quotes plan names: plain text
        self.query_one("#pace-text", Static).update(bullets)
        # the theme's text colours (readable on light themes and under NO_COLOR), not ANSI red
        colours = {
            k: self.app.theme_variables[f"text-{k}"] for k in ("success", "warning", "error")
        }
        self.query_one("#plans-table", Static).update(_plans_table(advice, sub.plan, colours))
        note = self.query_one("#pace-note", Static)
        note.set_class(self._history_state == "failed", "-error")
        if self._history_state == "loading":
            note.update("Loading daily usage and live req/min for the full picture…")
        elif self._history_state == "failed":
            note.update(f"⚠ {escape(self._history_problem)} — press u to retry.")
        else:
            note.update(
                "Tokens counted as requests (alerts and webhooks also cost one). "
                "Public prices; Enterprise is custom."
            )

    # ---- usage history -----------------------------------------------------------------------

    def _request_history(self) -> None:
        self._history_requested = True
        self.load_usage_history()

    @work(exclusive=True, group="billing-usage", exit_on_error=False)
    async def load_usage_history(self) -> None:
        """Daily usage (last period, last 30 days) and the live window (peak req/min)."""
        request = self.app.feeds.request  # through the gate: a 401 here opens the login
        problems = []
        self._history_state = "loading"
        self._render_pace()
        try:
            self._daily = (await request(lambda source: source.metrics(HISTORY_DAYS))).daily
        except HtError as exc:
            problems.append(f"daily usage unavailable: {exc.message}")
        try:
            self._live = await request(lambda source: source.live())
        except HtError as exc:
            problems.append(f"live req/min unavailable: {exc.message}")
        self._history_state = "failed" if problems else "loaded"
        self._history_problem = "; ".join(problems)
        self._render_pace()
        self._render_daily()

    def _render_daily(self) -> None:
        if not self._daily:
            return
        self.query_one("#daily-chart", BarChart).show(
            [d.requests for d in self._daily], [d.date for d in self._daily]
        )
        self.query_one("#daily-panel").add_class("-loaded")

    def action_reload_usage(self) -> None:
        self._request_history()  # the panel's note says it is loading: no toast

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "Billing: recheck usage pace",
            "Fetch daily usage and live req/min again for the plan advice (u)",
            self.action_reload_usage,
        )


def _plan_terms(plan_id: str) -> str:
    plan = plan_by_id(plan_id)
    if plan is None:
        return ""
    rate = f", {plan.rate_limit_per_minute:,} req/min" if plan.rate_limit_per_minute else ""
    return f" [dim]({_quota(plan)}{rate})[/]"


def _quota(plan: Plan) -> str:
    return f"{plan.quota:,} tokens/{'day' if plan.quota_period == 'day' else 'month'}"


def _plans_table(advice: PlanAdvice, current: Plan, colours: dict[str, str]) -> Table:
    """The public price table, with the current plan, the suggestion, and what each would cover."""
    table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="dim", expand=False)
    for name, justify in (("Plan", "left"), ("Price", "right"), ("Quota", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    table.add_column("Req/min", justify="right", no_wrap=True)
    table.add_column("Your usage", no_wrap=True)
    usage = advice.usage
    suggested = advice.suggestion.id if advice.suggestion else None
    for plan in PLANS:
        if is_custom(plan):  # negotiated terms: the table's figures are not public
            cells = ("custom", "custom", "custom", "[dim]talk to sales[/]")
        else:
            cells = (
                money(plan.price_cents or 0, plan.currency),
                f"{plan.quota:,}/{'day' if plan.quota_period == 'day' else 'mo'}",
                "—" if plan.rate_limit_per_minute is None else f"{plan.rate_limit_per_minute:,}",
                _fit_text(plan, usage, colours),
            )
        mark = ""
        if plan.id == current.id:
            mark = "● current"
        elif plan.id == suggested:
            mark = "→ suggested"
        style = "bold" if plan.id in (current.id, suggested) else ""
        table.add_row(plan.name, *cells[:3], f"{cells[3]}  {mark}".rstrip(), style=style)
    return table


def _fit_text(plan: Plan, usage: Usage, colours: dict[str, str]) -> str:
    if fits(plan, usage):
        return f"[{colours['success']}]✓ fits[/]"
    quota_short = (
        usage.busiest_day > plan.quota
        if plan.quota_period == "day"
        else usage.monthly_tokens > plan.quota
    )
    if quota_short:
        return f"[{colours['error']}]✗ quota[/]"
    return f"[{colours['warning']}]✗ peak req/min[/]"
