"""Metrics arithmetic: period-over-period change, the four summary cards, chart series, incidents.

No Textual here: the metrics screen renders what these functions compute.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from statistics import median
from typing import Literal

from ht_dash.api.models import DailyMetric, Metrics, MetricsSummary
from ht_dash.insights import format as fmt

PERIODS: tuple[int, ...] = (7, 30, 90)
# Relative changes smaller than this read as "no change".
FLAT_RELATIVE = 0.005
# Error-rate changes smaller than this (in percentage points) read as "no change".
FLAT_POINTS = 0.01

Direction = Literal["up", "down", "flat"]
Verdict = Literal["good", "bad", "neutral"]
Better = Literal["lower", "higher", "neither"]


@dataclass(frozen=True, slots=True)
class Change:
    """How a figure moved against the previous period of the same length."""

    direction: Direction
    verdict: Verdict
    text: str  # e.g. "▲ 12.5 %", "▼ 0.30 pp", "= no change", "▲ from 0"


def _verdict(direction: Direction, better: Better) -> Verdict:
    if direction == "flat" or better == "neither":
        return "neutral"
    good = (direction == "down") == (better == "lower")
    return "good" if good else "bad"


def relative_change(current: float, previous: float, *, better: Better) -> Change:
    """Change as a percentage of the previous value."""
    if previous == 0:
        if current == 0:
            return Change("flat", "neutral", "= no change")
        return Change("up", _verdict("up", better), "▲ from 0")
    fraction = (current - previous) / previous
    if abs(fraction) < FLAT_RELATIVE:
        return Change("flat", "neutral", "= no change")
    direction: Direction = "up" if fraction > 0 else "down"
    arrow = "▲" if direction == "up" else "▼"
    amount = fmt.percent(abs(fraction), 0 if abs(fraction) >= 0.1 else 1)
    return Change(direction, _verdict(direction, better), f"{arrow} {amount}")


def point_change(current: float, previous: float, *, better: Better) -> Change:
    """Change of a ratio in percentage points (an error rate going 1.2 % → 0.9 % is ▼ 0.30 pp)."""
    delta = current - previous
    if abs(delta) * 100 < FLAT_POINTS:
        return Change("flat", "neutral", "= no change")
    direction: Direction = "up" if delta > 0 else "down"
    arrow = "▲" if direction == "up" else "▼"
    return Change(direction, _verdict(direction, better), f"{arrow} {fmt.points(abs(delta))}")


# The cards' names say which figure is a per-day average and which a period total; the CLI's
# `metrics` table uses the same ones.
REQUESTS_LABEL = "Avg req/day"
THROTTLED_LABEL = f"{fmt.THROTTLED} (total)"


@dataclass(frozen=True, slots=True)
class Card:
    label: str
    value: str
    change: Change | None  # None when there is no previous period to compare with


def format_count(value: float) -> str:
    """12,345 below a million; 1.23 M above (cards are narrow)."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f} M"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}".removesuffix(".0")


def format_ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 10_000 else f"{value:,.0f} ms"


def format_ratio(value: float) -> str:
    return fmt.percent(value, 2)


def summary_cards(current: MetricsSummary, previous: MetricsSummary | None) -> list[Card]:
    """The four cards, each with its change against the previous period when there is one."""

    def change(fn: Callable[..., Change], now: float, before: float | None, better: Better):
        return None if before is None else fn(now, before, better=better)

    p = previous
    return [
        Card(
            REQUESTS_LABEL,
            format_count(current.avg_daily_requests),
            change(
                relative_change, current.avg_daily_requests, p and p.avg_daily_requests, "neither"
            ),
        ),
        Card(
            "Avg latency",
            format_ms(current.avg_latency_ms),
            change(relative_change, current.avg_latency_ms, p and p.avg_latency_ms, "lower"),
        ),
        Card(
            "Error rate",
            format_ratio(current.error_rate),
            change(point_change, current.error_rate, p and p.error_rate, "lower"),
        ),
        Card(
            THROTTLED_LABEL,
            format_count(current.rate_limit_hits),
            change(relative_change, current.rate_limit_hits, p and p.rate_limit_hits, "lower"),
        ),
    ]


# ---- daily series ------------------------------------------------------------------------------


SERIES_FIELDS: dict[str, Callable[[DailyMetric], float]] = {
    "requests": lambda d: d.requests,
    "latency": lambda d: d.avg_latency_ms,
    "errors": lambda d: d.errors,
    "rate_limited": lambda d: d.rate_limited,
}


def series(daily: Sequence[DailyMetric], name: str) -> list[float]:
    field = SERIES_FIELDS[name]
    return [float(field(d)) for d in daily]


def period_average(daily: Sequence[DailyMetric], name: str) -> float | None:
    """A series' average over the period as the summary cards define it: latency weighted by each
    day's requests (the average request), counts per day. None for no data."""
    if not daily:
        return None
    if name == "latency":
        requests = sum(d.requests for d in daily)
        if requests:
            return sum(d.avg_latency_ms * d.requests for d in daily) / requests
    values = series(daily, name)
    return sum(values) / len(values)


@dataclass(frozen=True, slots=True)
class Peak:
    index: int
    date: date
    value: float


def peak(daily: Sequence[DailyMetric], name: str) -> Peak | None:
    """The day with the highest value (the earliest one on a tie), or None for no data."""
    values = series(daily, name)
    if not values:
        return None
    index = max(range(len(values)), key=lambda i: (values[i], -i))
    return Peak(index, daily[index].date, values[index])


# A day is an incident when its errors or 429s reach this multiple of the median day …
INCIDENT_FACTOR = 5.0
# … and are at least this many (a quiet account's 0 → 3 errors is no incident).
INCIDENT_MIN_EVENTS = 20


@dataclass(frozen=True, slots=True)
class Incident:
    index: int
    date: date
    errors: int
    rate_limited: int
    factor: float  # how many median days' worth of trouble this day had


def find_incident(daily: Sequence[DailyMetric]) -> Incident | None:
    """The worst day whose errors + 429s stand far above a typical day, if any does."""
    if len(daily) < 3:
        return None
    trouble = [d.errors + d.rate_limited for d in daily]
    typical = max(median(trouble), 1.0)
    worst = max(range(len(daily)), key=lambda i: (trouble[i], -i))
    if trouble[worst] < INCIDENT_MIN_EVENTS or trouble[worst] < INCIDENT_FACTOR * typical:
        return None
    day = daily[worst]
    return Incident(worst, day.date, day.errors, day.rate_limited, trouble[worst] / typical)


def period_title(metrics: Metrics) -> str:
    """ "Last 30 days · 2026-10-27 – 2026-11-25" (the period the data covers, not the one asked
    for)."""
    return f"Last {metrics.days} days · {fmt.day_range(metrics.start, metrics.end)}"


def next_period(days: int, step: int = 1) -> int:
    """The next period in PERIODS (wrapping), for a key that cycles 7 → 30 → 90 → 7."""
    if days not in PERIODS:
        return PERIODS[0] if step > 0 else PERIODS[-1]
    return PERIODS[(PERIODS.index(days) + step) % len(PERIODS)]
