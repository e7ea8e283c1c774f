"""One way to spell a value: money, counts, percentages, durations and instants.

The CLI, the screens and the exports all call these, so "$399.00/month" reads the same on every
screen and in every command. No Textual, no Rich: plain strings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from ht_dash.clock import iso

if TYPE_CHECKING:
    from ht_dash.api.models import Plan

__all__ = [
    "ago",
    "count",
    "duration",
    "duration_words",
    "iso",
    "iso_date",
    "iso_or_none",
    "money",
    "money_or_none",
    "percent",
    "plan_price",
    "short_date",
    "when",
]

MISSING = "—"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


# ---- money, counts, shares -----------------------------------------------------------------------


def money(cents: int, currency: str | None) -> str:
    """`$399.00`, `-€12.50`, `$1,999.00`; unknown currencies as `100.00 CHF`."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    number = f"{whole:,}.{frac:02d}"
    code = (currency or "").upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {code}".rstrip()


def money_or_none(cents: int | None, currency: str | None) -> str | None:
    """`money`, or None (JSON null, an empty CSV cell) when there is no amount."""
    return None if cents is None else money(cents, currency)


def plan_price(plan: Plan) -> str:
    """`$399.00/month`, or `custom price` for a plan with negotiated terms."""
    if plan.price_cents is None:
        return "custom price"
    return f"{money(plan.price_cents, plan.currency)}/month"


def count(n: int) -> str:
    """`150,000`."""
    return f"{n:,}"


def percent(fraction: float | None) -> str:
    """`12.3 %` for 0.123."""
    return MISSING if fraction is None else f"{fraction * 100:.1f} %"


# ---- durations -----------------------------------------------------------------------------------


def _seconds(span: float | timedelta) -> int:
    value = span.total_seconds() if isinstance(span, timedelta) else span
    return max(0, int(value))


def duration(span: float | timedelta) -> str:
    """The two largest units a user cares about: `5 d 3 h`, `2 h 10 min`, `5 d`, `40 s`."""
    seconds = _seconds(span)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def duration_words(span: float | timedelta) -> str:
    """`9 days`, `1 day`, `5 hours`, `40 minutes` — for sentences."""
    seconds = _seconds(span)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "moments"


def ago(seconds: float) -> str:
    """How old something is: `40 s ago`, `12 min ago`, `3 h 5 min ago`, `2 d ago`."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        minutes = seconds % 3600 // 60
        return f"{seconds // 3600} h {minutes} min ago" if minutes else f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


# ---- instants ------------------------------------------------------------------------------------


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def iso_or_none(at: datetime | None) -> str | None:
    return None if at is None else iso(at)


def iso_date(day: date | None) -> str | None:
    return None if day is None else f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def when(at: datetime | None, now: datetime | None = None) -> str:
    """An instant for people: `2026-12-01 00:00 UTC`; given `now`, with how far it is from now:
    `2026-12-01 00:00 UTC (3 h ago)`, `… (in 12 days)`, `… (just now)`. `—` for no instant."""
    if at is None:
        return MISSING
    at = _utc(at)
    text = f"{at.year:04d}-{at.month:02d}-{at.day:02d} {at.hour:02d}:{at.minute:02d} UTC"
    if now is None:
        return text
    seconds = (now - at).total_seconds()
    distance = abs(seconds)
    if distance < 90:
        return f"{text} (just now)"
    if distance < 5400:
        rel = f"{distance / 60:.0f} min"
    elif distance < 2 * 86400:
        rel = f"{distance / 3600:.0f} h"
    else:
        rel = f"{distance / 86400:.0f} days"
    return f"{text} ({rel} ago)" if seconds >= 0 else f"{text} (in {rel})"


def short_date(at: datetime, now: datetime) -> str:
    """`Dec 18`, or `Dec 18 14:05 UTC` within two days of now, where the hour matters."""
    at = _utc(at)
    day = f"{at:%b} {at.day}"
    if abs(at - now) < timedelta(days=2):
        return f"{day} {at.hour:02d}:{at.minute:02d} UTC"
    return day
