"""Estimates from the plan the user declared (`ht-dash plan set ID --billing-day N`).

The service publishes neither the reset instant of a quota nor the invoice date, so these are
assumptions, said as such: a Free period is one UTC day; a paid period runs from the billing day
(00:00 UTC) to the same day next month (the 1st when no billing day was declared).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

from ht_dash.api.errors import ConfigError, NotAvailable
from ht_dash.api.models import NextBilling, Plan, Subscription
from ht_dash.config import Settings

RESET_ASSUMED = "reset time assumed: the service does not publish it"
PLAN_SET_COMMAND = "ht-dash plan set ID [--billing-day N]"


def validate_plan(plan_id: str) -> Plan:
    """The public plan with this id; ConfigError naming the valid ids otherwise."""
    from ht_dash.api.plans import PLANS, plan_by_id

    plan = plan_by_id(plan_id)
    if plan is None:
        known = ", ".join(p.id for p in PLANS)
        raise ConfigError(f"unknown plan {plan_id!r}", hint=f"valid plan ids: {known}")
    return plan


def declare_plan(plan_id: str, billing_day: int | None = None) -> Plan:
    """Validate and store the plan (and billing day) in config.toml; the one place it is written
    (`ht-dash plan set`, `ht-dash meter --plan`, the plan picker on screen 4)."""
    from ht_dash.config import save_settings

    plan = validate_plan(plan_id)
    values: dict[str, object] = {"plan": plan.id}
    if billing_day is not None:
        values["billing_day"] = billing_day
    save_settings(values)
    return plan


def declared_plan(settings: Settings) -> Plan | None:
    """The plan in config.toml (`plan = "pulse"`), or None when none was declared."""
    return validate_plan(settings.plan) if settings.plan else None


def no_plan_error(what: str) -> NotAvailable:
    from ht_dash.api.plans import PLANS

    ids = ", ".join(p.id for p in PLANS)
    return NotAvailable(
        f"{what}: the API does not offer it and no plan is declared",
        hint=f"declare your plan once: `{PLAN_SET_COMMAND}` (ids: {ids}; on screen 4: P)",
    )


def _on_day(year: int, month: int, day: int) -> datetime:
    last = calendar.monthrange(year, month)[1]
    return datetime(year, month, min(day, last), tzinfo=UTC)


def period_bounds(plan: Plan, billing_day: int, now: datetime) -> tuple[datetime, datetime]:
    """The usage period around `now`: a UTC day (Free), else billing day to billing day."""
    now = now.astimezone(UTC)
    if plan.quota_period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    day = billing_day or 1
    start = _on_day(now.year, now.month, day)
    if start > now:
        year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
        start = _on_day(year, month, day)
    year, month = (start.year, start.month + 1) if start.month < 12 else (start.year + 1, 1)
    return start, _on_day(year, month, day)


def estimated_subscription(
    plan: Plan, billing_day: int, now: datetime, tokens_used: int = 0
) -> Subscription:
    start, end = period_bounds(plan, billing_day, now)
    return Subscription(
        plan=plan, status="declared", tokens_used=tokens_used, period_start=start, resets_at=end
    )


def estimated_next_billing(plan: Plan, billing_day: int, now: datetime) -> NextBilling:
    """The next invoice: the plan's list price at the end of the current paid period."""
    invoice: date | None = None
    if plan.quota_period != "day" and plan.price_cents:
        invoice = period_bounds(plan, billing_day, now)[1].date()
    return NextBilling(
        invoice_date=invoice,
        amount_cents=plan.price_cents or 0,
        currency=plan.currency,
        plan_id=plan.id,
        plan_name=plan.name,
        payment_method=None,
    )
