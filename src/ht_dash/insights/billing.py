"""Billing arithmetic: money, countdowns, usage pace, and which public plan fits that usage.

No Textual here. Usage tokens are counted as requests (one data-API request costs one token; alert
requests and webhook deliveries also cost one, which the daily metrics do not show — so history
is a slight underestimate, while the current period's `tokens_used` is exact).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from ht_dash.api.models import DailyMetric, LiveUsage, Plan, Subscription
from ht_dash.api.plans import PLANS, is_custom
from ht_dash.insights.format import ago, day, day_range, duration, money, percent, plan_price
from ht_dash.insights.live import live_peak

# Above this share of a quota or rate limit, a plan is called "tight".
TIGHT_SHARE = 0.85


def countdown(day: date, now: datetime) -> str:
    """How far a day (starting 00:00 UTC) is from now, in `duration`'s units — the same words as
    the quota reset on screen 4: "in 15 d 2 h", "today", "3 d 2 h ago"."""
    if day == now.astimezone(UTC).date():
        return "today"
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return f"in {duration(start - now)}" if start > now else ago(now - start)


def add_months(day: date, months: int) -> date:
    """Same day of the month, `months` later (or earlier), clamped to the month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def previous_period(subscription: Subscription) -> tuple[date, date]:
    """[start, end) of the quota period before the current one: the previous day or month."""
    start = subscription.period_start.date()
    if subscription.plan.quota_period == "day":
        return start - timedelta(days=1), start
    return add_months(start, -1), start


def requests_between(daily: Sequence[DailyMetric], start: date, end: date) -> int | None:
    """Requests on the days in [start, end); None when the daily data does not cover them all."""
    days = {d.date: d.requests for d in daily}
    wanted = [start + timedelta(days=i) for i in range((end - start).days)]
    if not wanted or any(day not in days for day in wanted):
        return None
    return sum(days[day] for day in wanted)


def projected_usage(subscription: Subscription, now: datetime) -> int:
    """Tokens the current period ends with if usage goes on at its pace so far."""
    total = (subscription.resets_at - subscription.period_start).total_seconds()
    elapsed = (now - subscription.period_start).total_seconds()
    if total <= 0 or elapsed <= 0:
        return subscription.tokens_used
    # Under a day into the period the pace says little: do not extrapolate from minutes.
    elapsed = max(elapsed, min(total, 86_400.0))
    return round(subscription.tokens_used * max(1.0, total / elapsed))


def peak_per_minute(live: LiveUsage) -> int:
    """The peak req/min as every screen shows it (`insights.live.live_peak`)."""
    return live_peak(live).per_minute


def monthly_quota(plan: Plan) -> int:
    """A plan's tokens per month (a daily quota × 30)."""
    return plan.quota * 30 if plan.quota_period == "day" else plan.quota


@dataclass(frozen=True, slots=True)
class Usage:
    """What an account needs from a plan."""

    monthly_tokens: int
    peak_per_minute: int | None  # None when unknown
    busiest_day: int  # requests on the busiest day (a daily quota must cover it)


def fits(plan: Plan, usage: Usage) -> bool:
    if plan.quota_period == "day":
        if usage.busiest_day > plan.quota:
            return False
    elif usage.monthly_tokens > plan.quota:
        return False
    limit = plan.rate_limit_per_minute
    return limit is None or usage.peak_per_minute is None or usage.peak_per_minute <= limit


def cheapest_fit(usage: Usage, plans: Sequence[Plan] = PLANS) -> Plan | None:
    """The cheapest listed plan that covers the usage (custom plans count as the most expensive)."""
    fitting = [p for p in plans if fits(p, usage)]
    return min(fitting, key=_price_order, default=None)


def _price_order(plan: Plan) -> tuple[int, int]:
    return (1, 0) if is_custom(plan) else (0, plan.price_cents or 0)


def next_plan_up_by_rate(current: Plan, plans: Sequence[Plan] = PLANS) -> Plan | None:
    """The cheapest plan with a higher per-minute limit than `current`."""
    if current.rate_limit_per_minute is None:
        return None
    higher = [
        p
        for p in plans
        if p.rate_limit_per_minute is not None
        and p.rate_limit_per_minute > current.rate_limit_per_minute
    ]
    return min(higher, key=_price_order, default=None)


def next_plan_up_by_quota(current: Plan, plans: Sequence[Plan] = PLANS) -> Plan | None:
    """The cheapest listed plan with a larger monthly quota than `current`."""
    bigger = [p for p in plans if monthly_quota(p) > monthly_quota(current)]
    return min(bigger, key=_price_order, default=None)


@dataclass(frozen=True, slots=True)
class PlanAdvice:
    current: Plan
    usage: Usage
    last_period: tuple[date, date] | None  # [start, end) when its usage is known
    last_period_used: int | None
    used_so_far: int
    projected: int
    throttled: int  # 429s over the recent days looked at
    throttled_days: int  # how many of those days had any
    days_looked_at: int
    suggestion: Plan | None  # the cheapest listed plan that fits; None if none does
    lines: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """ "keep", "upgrade", "downgrade" or "contact" (nothing listed fits)."""
        if self.suggestion is None:
            return "contact"
        if self.suggestion.id == self.current.id:
            return "keep"
        return (
            "upgrade" if _price_order(self.suggestion) > _price_order(self.current) else "downgrade"
        )


RECENT_DAYS = 30
# Throttling of at least this share of requests makes a higher rate limit worth paying for;
# below it, bursts over the limit are cheaper to smooth out on the client.
SUSTAINED_THROTTLE_SHARE = 0.05


def _share(used: int, plan: Plan) -> str:
    """`used` tokens of one quota period as a share of the plan's quota."""
    return percent(used / plan.quota, 0) if plan.quota else "—"


def advise(
    subscription: Subscription,
    daily: Sequence[DailyMetric],
    live: LiveUsage | None,
    now: datetime,
    plans: Sequence[Plan] = PLANS,
) -> PlanAdvice:
    """What the usage pace means for the next period, in sentences, and the plan that fits it.

    `daily` should reach back over the previous quota period (62 days cover any month);
    `live` gives the peak req/min (None when unknown). A plan with a higher rate limit is only
    suggested for a peak over the limit when throttling is sustained (≥ 5 % of requests) or
    unknown; occasional bursts are cheaper to smooth out."""
    plan = subscription.plan
    daily_plan = plan.quota_period == "day"
    start, end = previous_period(subscription)
    last_used = requests_between(daily, start, end)
    projected = projected_usage(subscription, now)
    recent = [d for d in daily if d.date > now.date() - timedelta(days=RECENT_DAYS)]
    busiest = max((d.requests for d in recent), default=0)
    if daily_plan:
        busiest = max(busiest, subscription.tokens_used, last_used or 0)
        monthly = sum(d.requests for d in recent)
    else:
        monthly = max(projected, last_used or 0)
        busiest = max(busiest, math.ceil(monthly / 30))  # no busier than an average day
    peak = None if live is None else peak_per_minute(live)
    throttled = sum(d.rate_limited for d in recent)
    throttled_days = sum(1 for d in recent if d.rate_limited > 0)
    requested = sum(d.requests for d in recent)
    throttle_share = throttled / requested if requested else None

    usage = Usage(monthly_tokens=monthly, peak_per_minute=peak, busiest_day=busiest)
    by_quota = cheapest_fit(Usage(monthly, None, busiest), plans)
    strict = cheapest_fit(usage, plans)
    bursty = throttle_share is not None and throttle_share < SUSTAINED_THROTTLE_SHARE
    suggestion = by_quota if (bursty and strict != by_quota) else strict

    lines: list[str] = []
    if last_used is not None:
        if daily_plan:
            when = f"Yesterday ({day(start)})"
        else:
            when = f"Last period ({day_range(start, end - timedelta(days=1))})"
        lines.append(
            f"{when}: {_share(last_used, plan)} of {plan.name}'s quota, "
            f"{last_used:,} of {plan.quota:,} tokens."
        )
    if daily_plan:
        lines.append(
            f"Today: {subscription.tokens_used:,} of {plan.quota:,} tokens; "
            f"busiest day of the last {RECENT_DAYS}: {busiest:,}."
        )
    else:
        lines.append(
            f"This period: {subscription.tokens_used:,} tokens so far, on pace for {projected:,} "
            f"({_share(projected, plan)}) by {day(subscription.resets_at)}."
        )
    limit = plan.rate_limit_per_minute
    above = next_plan_up_by_rate(plan, plans)
    if peak is not None or throttled:
        parts = []
        if peak is not None:
            of = f" of {limit:,}" if limit is not None else " (no per-minute limit)"
            parts.append(f"Peak {peak:,} req/min{of} in the last {_window(live)}")
        if throttled and throttle_share is not None:
            parts.append(
                f"429s on {throttled_days} of the last {len(recent)} days "
                f"({throttled:,}, {percent(throttle_share)} of requests)"
            )
        if above is not None and limit is not None and (peak is None or peak <= limit):
            parts.append(f"{above.name} would be needed above {limit:,} req/min")
        lines.append("; ".join(parts) + ".")
    lines.append(_suggestion_sentence(plan, suggestion, strict, usage))
    return PlanAdvice(
        current=plan,
        usage=usage,
        last_period=(start, end) if last_used is not None else None,
        last_period_used=last_used,
        used_so_far=subscription.tokens_used,
        projected=projected,
        throttled=throttled,
        throttled_days=throttled_days,
        days_looked_at=len(recent),
        suggestion=suggestion,
        lines=lines,
    )


def _window(live: LiveUsage | None) -> str:
    if live is None or not live.series:
        return "few minutes"
    minutes = round(len(live.series) * live.interval_seconds / 60)
    return f"{minutes} min"


def _need(plan: Plan, usage: Usage, *, with_rate: bool = True) -> str:
    if plan.quota_period == "day":
        need = f"up to {usage.busiest_day:,} tokens a day"
    else:
        need = f"{usage.monthly_tokens:,} tokens/month"
    if with_rate and usage.peak_per_minute is not None:
        need += f" at {usage.peak_per_minute:,} req/min"
    return need


def _change_price(current: Plan, other: Plan) -> str:
    """ "+$400.00/month", "saving $220.00/month" or "custom price"."""
    if is_custom(other) or is_custom(current):
        return "custom price"
    diff = (other.price_cents or 0) - (current.price_cents or 0)
    amount = money(abs(diff), other.currency)
    return f"+{amount}/month" if diff > 0 else f"saving {amount}/month"


def _suggestion_sentence(
    current: Plan, suggestion: Plan | None, strict: Plan | None, usage: Usage
) -> str:
    if suggestion is None:
        return f"No listed plan covers {_need(current, usage)}: ask for an Enterprise plan."
    if suggestion.id == current.id:
        tight = _tight(current, usage)
        bigger = next_plan_up_by_quota(current)
        if "quota" in tight and bigger is not None and current.quota_period == "day":
            tight += (
                f"; above {current.quota:,} tokens a day {bigger.name} would be needed "
                f"({plan_price(bigger)})"
            )
        sentence = f"{current.name} fits {_need(current, usage)}{tight}."
        if strict is not None and strict.id != current.id and usage.peak_per_minute is not None:
            sentence = (
                f"{current.name}'s quota fits {_need(current, usage, with_rate=False)}. Bursts to "
                f"{usage.peak_per_minute:,} req/min are cheaper to smooth out (client-side pacing) "
                f"than {strict.name} ({_change_price(current, strict)})."
            )
        return sentence
    name = suggestion.name
    if is_custom(suggestion):
        return f"Suggested: {name} (custom price) for {_need(suggestion, usage)}: contact sales."
    return (
        f"Suggested: {name} covers {_need(suggestion, usage)} for {plan_price(suggestion)} "
        f"({_change_price(current, suggestion)})."
    )


def _tight(plan: Plan, usage: Usage) -> str:
    notes = []
    if plan.quota_period == "day":
        used, quota = usage.busiest_day, plan.quota
    else:
        used, quota = usage.monthly_tokens, plan.quota
    if quota and used > TIGHT_SHARE * quota:
        notes.append("the quota")
    limit = plan.rate_limit_per_minute
    if limit and usage.peak_per_minute is not None and usage.peak_per_minute > TIGHT_SHARE * limit:
        notes.append("the rate limit")
    return f", close to {' and '.join(notes)}" if notes else ""
