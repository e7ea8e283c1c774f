"""The demo account's story: who it is, when it signed up, its plan change, its billing cycle.

Everything is fixed once, at construction, from the seed and the clock's "now" (the anchor), so a
seed plus a FixedClock reproduce the same account, and the data generators only read from here.
"""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ht_dash.api.models import Plan, Profile
from ht_dash.api.plans import plan_by_id, previous_plan

PAYMENT_METHOD = "Visa •••• 4242"

_PEOPLE = (
    ("Mara Lindqvist", "mara@lindqvist-quant.io", "Lindqvist Quant AB"),
    ("Tomás Okafor", "tomas@deltaharbor.dev", "Delta Harbor Labs"),
    ("Priya Raman", "priya.raman@fundingwatch.xyz", "FundingWatch"),
    ("Jonas Weber", "jonas@perpscope.de", "PerpScope GmbH"),
    ("Ayaka Mori", "ayaka@tidewall.jp", None),
)


# What a custom (Enterprise) plan is billed in the demo; real terms are negotiated.
DEMO_CUSTOM_PRICE_CENTS = 450_000


def monthly_charge(plan: Plan) -> int:
    """What one month of `plan` costs, in cents."""
    return DEMO_CUSTOM_PRICE_CENTS if plan.price_cents is None else plan.price_cents


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def add_months(day: date, months: int, anchor_day: int) -> date:
    """`day`'s month shifted by `months`, on `anchor_day` clamped to the month's length."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def period_start_on(day: date, anchor_day: int) -> date:
    """Start of the monthly billing period that contains `day`."""
    start = add_months(day, 0, anchor_day)
    return start if start <= day else add_months(day, -1, anchor_day)


@dataclass(frozen=True)
class DemoAccount:
    seed: int
    plan: Plan
    previous: Plan | None  # the plan before the upgrade; None if the account never changed plan
    anchor: datetime  # the clock's now when the backend was built
    signup_at: datetime
    upgrade_at: datetime | None
    incident_day: date
    billing_anchor_day: int  # day of the month paid periods start on
    paid_since: date | None  # first paid period start; None for a Free account
    profile: Profile
    member_id: int

    @classmethod
    def create(cls, seed: int, plan_id: str, now: datetime) -> DemoAccount:
        plan = plan_by_id(plan_id)
        if plan is None:
            raise ValueError(f"unknown plan id {plan_id!r}")
        rng = random.Random(seed)
        today = now.astimezone(UTC).date()
        previous = previous_plan(plan)
        signup_day = today - timedelta(days=420 + rng.randrange(45))
        signup_at = midnight(signup_day) + timedelta(
            hours=8 + rng.randrange(11), minutes=rng.randrange(60)
        )

        upgrade_at = None
        if previous is not None:
            upgrade_day = today - timedelta(days=95 + rng.randrange(30))
            upgrade_at = midnight(upgrade_day) + timedelta(
                hours=9 + rng.randrange(9), minutes=rng.randrange(60)
            )

        if previous is not None and previous.price_cents == 0:
            paid_since = upgrade_at.date() if upgrade_at else None
        elif plan.price_cents == 0:
            paid_since = None
        else:
            paid_since = signup_day
        billing_anchor_day = paid_since.day if paid_since else 1
        # An upgrade on a billing day would hide the proration; move it a few days on.
        if (
            upgrade_at is not None
            and paid_since is not None
            and paid_since != upgrade_at.date()
            and period_start_on(upgrade_at.date(), billing_anchor_day) == upgrade_at.date()
        ):
            upgrade_at += timedelta(days=4)

        incident_day = today - timedelta(days=16 + rng.randrange(6))
        while incident_day.weekday() >= 5:  # a weekday, when traffic (and pain) is highest
            incident_day -= timedelta(days=1)

        name, email, org = _PEOPLE[rng.randrange(len(_PEOPLE))]
        account_id = f"acc_{rng.getrandbits(48):012x}"
        profile = Profile(
            id=account_id, email=email, name=name, organization=org, created_at=signup_at
        )
        return cls(
            seed=seed,
            plan=plan,
            previous=previous,
            anchor=now.astimezone(UTC),
            signup_at=signup_at,
            upgrade_at=upgrade_at,
            incident_day=incident_day,
            billing_anchor_day=billing_anchor_day,
            paid_since=paid_since,
            profile=profile,
            member_id=10_000 + rng.randrange(90_000),
        )

    def plan_on(self, day: date) -> Plan:
        if (
            self.upgrade_at is not None
            and self.previous is not None
            and day < self.upgrade_at.date()
        ):
            return self.previous
        return self.plan

    # ---- quota periods ------------------------------------------------------------------------

    def period_bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """Start and end of the current quota period: a UTC day (Free) or a billing month."""
        today = now.astimezone(UTC).date()
        if self.plan.quota_period == "day":
            return midnight(today), midnight(today + timedelta(days=1))
        start = period_start_on(today, self.billing_anchor_day)
        return midnight(start), midnight(add_months(start, 1, self.billing_anchor_day))

    def billing_periods(self, until: date) -> list[tuple[date, date]]:
        """Every paid period (start, next start) that starts on or before `until`, oldest first."""
        if self.paid_since is None:
            return []
        periods = []
        start = self.paid_since
        months = 0
        while start <= until:
            nxt = add_months(self.paid_since, months + 1, self.billing_anchor_day)
            periods.append((start, nxt))
            months += 1
            start = nxt
        return periods
