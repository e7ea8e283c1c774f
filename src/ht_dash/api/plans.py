"""HyperTracker's public price table, in one place (the demo serves it; the app may show it).

Source: the public pricing page (see the project's notes on the real service). Enterprise is
"custom": its price is None and its quota/limits are illustrative contract terms, not public.
"""

from __future__ import annotations

from ht_dash.api.models import Plan

PLANS: tuple[Plan, ...] = (
    Plan(
        id="free",
        name="Free",
        price_cents=0,
        currency="USD",
        quota=100,
        quota_period="day",
        rate_limit_per_minute=None,
        streams_included=False,
        stream_connection_limit=None,
    ),
    Plan(
        id="pulse",
        name="Pulse",
        price_cents=17_900,
        currency="USD",
        quota=50_000,
        quota_period="month",
        rate_limit_per_minute=60,
        streams_included=False,
        stream_connection_limit=None,
    ),
    Plan(
        id="surge",
        name="Surge",
        price_cents=39_900,
        currency="USD",
        quota=150_000,
        quota_period="month",
        rate_limit_per_minute=100,
        streams_included=False,
        stream_connection_limit=None,
    ),
    Plan(
        id="flow",
        name="Flow",
        price_cents=79_900,
        currency="USD",
        quota=400_000,
        quota_period="month",
        rate_limit_per_minute=200,
        streams_included=False,
        stream_connection_limit=None,
    ),
    Plan(
        id="stream",
        name="Stream",
        price_cents=199_900,
        currency="USD",
        quota=2_000_000,
        quota_period="month",
        rate_limit_per_minute=500,
        streams_included=True,
        stream_connection_limit=10,
    ),
    Plan(
        id="enterprise",
        name="Enterprise",
        price_cents=None,
        currency="USD",
        quota=10_000_000,
        quota_period="month",
        rate_limit_per_minute=1_000,
        streams_included=True,
        stream_connection_limit=100,
    ),
)

_BY_ID = {plan.id: plan for plan in PLANS}


def plan_by_id(plan_id: str) -> Plan | None:
    """The public plan with this id (case-insensitive), or None for an unknown id."""
    return _BY_ID.get(plan_id.strip().lower())


def is_custom(plan: Plan) -> bool:
    """Custom (negotiated) plans have no list price."""
    return plan.price_cents is None


def previous_plan(plan: Plan) -> Plan | None:
    """The next cheaper plan in the table (what an account upgrading to `plan` came from)."""
    index = next((i for i, p in enumerate(PLANS) if p.id == plan.id), None)
    return PLANS[index - 1] if index else None
