"""One way to spell a value: money, counts, percentages, durations, days and instants.

The CLI, the screens and the exports' human text all call these, so "$399.00/month" reads the
same on every screen and in every command. No Textual, no Rich: plain strings. JSON keeps numbers
and ISO 8601 (`iso`, `iso_date`).

The spellings: `12.3 %` (a space before %), a change of a rate in percentage points `0.09 pp`,
a 429 is a "429" ("429s" for a count of them), a duration in its two largest units `29 d 9 h`,
a day `2026-12-01` (`Tue 2026-12-01` with its weekday, `12-01` on a chart axis), an instant
`2026-12-01 00:00 UTC`, a time of day `14:53 UTC`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from ht_dash.clock import iso

if TYPE_CHECKING:
    from ht_dash.api.models import Plan

__all__ = [
    "THROTTLED",
    "ago",
    "count",
    "day",
    "day_label",
    "day_range",
    "duration",
    "iso",
    "iso_date",
    "iso_or_none",
    "money",
    "money_or_none",
    "percent",
    "plan_price",
    "points",
    "short_date",
    "signed_percent",
    "time_of_day",
    "when",
]

MISSING = "—"
# The one name for responses the service refused with 429 (headers, cards, help, CLI text).
THROTTLED = "429s"
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


def percent(fraction: float | None, digits: int = 1) -> str:
    """`12.3 %` for 0.123; `digits` decimals (`0.58 %` with 2, `37 %` with 0)."""
    return MISSING if fraction is None else f"{fraction * 100:,.{digits}f} %"


def signed_percent(fraction: float, digits: int = 1) -> str:
    """A relative change: `+12.3 %`, `-4.0 %`, `±0.0 %` when nothing moved."""
    if round(fraction * 100, digits) == 0:
        return f"±{0:.{digits}f} %"
    return f"{fraction * 100:+,.{digits}f} %"


def points(delta: float, digits: int = 2) -> str:
    """A change of a rate, in percentage points: 0.012 → 0.0129 is `0.09 pp` (give the sign or
    an arrow yourself: `-0.09 pp` for a negative `delta`)."""
    return f"{delta * 100:.{digits}f} pp"


# ---- durations -----------------------------------------------------------------------------------


def duration(span: float | timedelta) -> str:
    """The two largest units: `5 d 3 h`, `2 h 10 min`, `1 min 17 s`, `5 d`, `40 s`; under a
    second with one decimal (`0.5 s`, the spacing of a busy endpoint's calls)."""
    value = max(0.0, span.total_seconds() if isinstance(span, timedelta) else float(span))
    if value < 1:
        return f"{value:.1f} s".replace("0.0 s", "0 s")
    days, rest = divmod(int(value), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    for big, big_unit, small, small_unit in (
        (days, "d", hours, "h"),
        (hours, "h", minutes, "min"),
        (minutes, "min", secs, "s"),
    ):
        if big:
            return f"{big} {big_unit} {small} {small_unit}" if small else f"{big} {big_unit}"
    return f"{secs} s"


def ago(seconds: float | timedelta) -> str:
    """How old something is: `40 s ago`, `12 min ago`, `3 h 5 min ago`, `2 d 4 h ago`."""
    return f"{duration(seconds)} ago"


# ---- instants ------------------------------------------------------------------------------------


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def iso_or_none(at: datetime | None) -> str | None:
    return None if at is None else iso(at)


def iso_date(day: date | None) -> str | None:
    return None if day is None else f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _date_of(at: date) -> date:
    return _utc(at).date() if isinstance(at, datetime) else at


def day(at: date, *, weekday: bool = False) -> str:
    """A day for people: `2026-12-01`, or `Tue 2026-12-01` with its weekday (a datetime is taken
    in UTC)."""
    d = _date_of(at)
    text = f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    return f"{WEEKDAYS[d.weekday()]} {text}" if weekday else text


def day_label(at: date) -> str:
    """A day where room is short (chart axes, narrow columns): `12-01`, the tail of `day`."""
    d = _date_of(at)
    return f"{d.month:02d}-{d.day:02d}"


def day_range(start: date, end: date) -> str:
    """`2026-10-27 – 2026-11-25` (both days included)."""
    return f"{day(start)} – {day(end)}"


def time_of_day(at: datetime, *, seconds: bool = False) -> str:
    """`14:53 UTC` (`14:53:07 UTC` with seconds): an instant whose day is plain from context."""
    at = _utc(at)
    text = f"{at.hour:02d}:{at.minute:02d}"
    return f"{text}:{at.second:02d} UTC" if seconds else f"{text} UTC"


def when(at: datetime | None, now: datetime | None = None) -> str:
    """An instant for people: `2026-12-01 00:00 UTC`; given `now`, with how far it is from now in
    `duration`'s units: `… (3 h 5 min ago)`, `… (in 29 d 9 h)`, `… (just now)`. `—` for none."""
    if at is None:
        return MISSING
    at = _utc(at)
    text = f"{day(at)} {at.hour:02d}:{at.minute:02d} UTC"
    if now is None:
        return text
    seconds = (now - at).total_seconds()
    if abs(seconds) < 60:
        return f"{text} (just now)"
    return f"{text} ({ago(seconds)})" if seconds >= 0 else f"{text} (in {duration(-seconds)})"


def short_date(at: datetime, now: datetime) -> str:
    """`2026-12-18`, or `2026-12-18 14:05 UTC` within two days of now, where the hour matters."""
    if abs(_utc(at) - now) < timedelta(days=2):
        return when(at)
    return day(at)
