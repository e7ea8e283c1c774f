"""Optimisation hints for endpoint usage: where the account spends quota for nothing.

Pure logic, no Textual. The cadences come from the data API's documented freshness
(shared/HYPERTRACKER.md, "Data freshness"): polling an endpoint faster than its data changes
spends usage tokens on identical answers. Errors and 429s are flagged when an endpoint collects
a high share of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ht_dash.api.models import EndpointUsage, EndpointUsageReport
from ht_dash.insights import format as fmt

DAY_S = 86_400
# Flag polling when an endpoint is called at least this many times per data change.
POLLS_PER_CHANGE_THRESHOLD = 2.0
# Error / 429 flags: a rate at least this high, over at least this many responses.
PROBLEM_RATE_THRESHOLD = 0.05
PROBLEM_MIN_COUNT = 10
# ... or this share of all the account's 429s/errors at twice the account's own rate.
PROBLEM_SHARE_THRESHOLD = 0.30
HIGH_RATE = 0.15
HIGH_SAVING_PER_DAY = 1_000
HIGH_POLLS_PER_CHANGE = 10.0
# Immutable or historical data re-read more often than this is worth caching.
CACHE_INTERVAL_S = 300.0

SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}

STATE_ADVICE = "poll /hypertracker/state/status (nextUpdate) or use the state webhook"


@dataclass(frozen=True, slots=True)
class Cadence:
    """How often an endpoint family's data changes: `low_s` to `high_s` seconds."""

    family: str
    low_s: float
    high_s: float
    label: str  # "every 15–30 min"
    advice: str  # what to do instead of polling


# Order matters: the first matching rule wins (bias-history before the generic /segments/*).
_CADENCE_RULES: tuple[tuple[re.Pattern[str], Cadence], ...] = (
    (
        re.compile(r"^/orders/5m-snapshots(/|$)"),
        Cadence("5m-snapshots", 300, 300, "every 5 min", "request it once per 5-minute snapshot"),
    ),
    (
        re.compile(r"^/position-metrics/general$"),
        Cadence("position-metrics", 600, 600, "every 10 min", "request it once per 10 minutes"),
    ),
    (
        re.compile(r"^/segments/[^/]+/bias-history$"),
        Cadence(
            "bias-history",
            1800,
            7200,
            "every 2 h (30 min for some parameters)",
            "request it at most every 30 minutes",
        ),
    ),
    (
        re.compile(
            r"^(/positions(/|$)|/position-metrics/coin/|/segments/|/state/summary$|/leaderboards(/|$))"
        ),
        Cadence("state", 900, 1800, "every 15–30 min", STATE_ADVICE),
    ),
)
_CLOSED_TRADES = re.compile(r"^/closed-trades(/|$)")
_HISTORICAL = re.compile(r"^(/fills(/liquidation)?|/fundings)$")
_VERSION_PREFIX = re.compile(r"^/v\d+(?=/)")


@dataclass(frozen=True, slots=True)
class Hint:
    kind: str  # "polling" | "throttled" | "errors" | "cache"
    severity: str  # "high" | "medium" | "low"
    method: str
    path: str
    title: str
    advice: str  # one or two plain sentences, no markup
    saving_per_day: int | None = None  # calls a day the advice would save, when known

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def normalise_path(path: str) -> str:
    """The path as the cadence table spells it: no query, no trailing slash, no /vN prefix."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    return _VERSION_PREFIX.sub("", path)


def cadence_for(path: str) -> Cadence | None:
    clean = normalise_path(path)
    for pattern, cadence in _CADENCE_RULES:
        if pattern.search(clean):
            return cadence
    return None


def call_interval_s(endpoint: EndpointUsage) -> float | None:
    """Mean seconds between calls: the measured spacing, else derived from calls per hour."""
    if endpoint.mean_interval_s is not None and endpoint.mean_interval_s > 0:
        return endpoint.mean_interval_s
    if endpoint.calls_per_hour > 0:
        return 3600 / endpoint.calls_per_hour
    return None


def round_figure(value: float) -> int:
    """Two significant figures, for "~4,200 calls/day"."""
    if value < 100:
        return int(round(value))
    digits = len(str(int(value))) - 2
    return int(round(value, -digits))


def _pct(fraction: float) -> str:
    return fmt.percent(fraction, 1 if fraction < 0.1 else 0)


def polling_hint(endpoint: EndpointUsage, calls_per_day: float) -> Hint | None:
    cadence = cadence_for(endpoint.path)
    interval = call_interval_s(endpoint)
    if cadence is None or interval is None or calls_per_day <= 0:
        return None
    polls_per_change = cadence.low_s / interval
    if polls_per_change < POLLS_PER_CHANGE_THRESHOLD:
        return None
    saving = round_figure(calls_per_day * (1 - interval / cadence.low_s))
    wasteful = saving >= HIGH_SAVING_PER_DAY or polls_per_change >= HIGH_POLLS_PER_CHANGE
    severity = "high" if wasteful else "medium"
    return Hint(
        kind="polling",
        severity=severity,
        method=endpoint.method,
        path=endpoint.path,
        title="Polled faster than its data changes",
        advice=(
            f"{endpoint.path} is called every {fmt.duration(interval)} while in use; "
            f"its data changes {cadence.label} — {cadence.advice}, saving ~{saving:,} calls/day."
        ),
        saving_per_day=saving,
    )


def cache_hint(endpoint: EndpointUsage) -> Hint | None:
    interval = call_interval_s(endpoint)
    if interval is None or interval > CACHE_INTERVAL_S:
        return None
    clean = normalise_path(endpoint.path)
    if _CLOSED_TRADES.search(clean):
        advice = (
            f"{endpoint.path} is called every {fmt.duration(interval)}; closed trades never "
            "change once written — cache them and ask only for trades closed since your last call."
        )
        title = "Immutable data: cache it"
    elif _HISTORICAL.search(clean):
        advice = (
            f"{endpoint.path} is called every {fmt.duration(interval)}; it serves history — "
            "keep the pages you have read and follow nextCursor only for new rows."
        )
        title = "Historical data: keep pages"
    else:
        return None
    return Hint("cache", "low", endpoint.method, endpoint.path, title, advice)


def problem_hints(endpoints: Sequence[EndpointUsage]) -> list[Hint]:
    """Endpoints answered with 429 or errors far more often than the rest."""
    total_requests = sum(e.requests for e in endpoints)
    total_throttled = sum(e.throttled for e in endpoints)
    total_errors = sum(e.errors for e in endpoints)
    hints: list[Hint] = []
    if total_requests == 0:
        return hints
    for e in endpoints:
        if e.requests == 0:
            continue
        if _is_problem(e.throttled, e.requests, total_throttled, total_requests):
            rate = e.throttled / e.requests
            share = e.throttled / total_throttled
            hints.append(
                Hint(
                    kind="throttled",
                    severity="high" if rate >= HIGH_RATE else "medium",
                    method=e.method,
                    path=e.path,
                    title="Many 429s",
                    advice=(
                        f"{_pct(rate)} of calls to {e.path} got a 429 ({e.throttled:,}, "
                        f"{_pct(share)} of all your 429s) — spread these calls out below "
                        "the per-minute limit and wait retry_after before retrying."
                    ),
                )
            )
        if _is_problem(e.errors, e.requests, total_errors, total_requests):
            rate = e.errors / e.requests
            share = e.errors / total_errors
            hints.append(
                Hint(
                    kind="errors",
                    severity="high" if rate >= HIGH_RATE else "medium",
                    method=e.method,
                    path=e.path,
                    title="Many errors",
                    advice=(
                        f"{_pct(rate)} of calls to {e.path} failed ({e.errors:,} errors, "
                        f"{_pct(share)} of all your errors) — check its parameters, and back off "
                        "on server errors instead of retrying at once."
                    ),
                )
            )
    return hints


def _is_problem(count: int, requests: int, total_count: int, total_requests: int) -> bool:
    if count < PROBLEM_MIN_COUNT or total_count == 0:
        return False
    rate = count / requests
    if rate >= PROBLEM_RATE_THRESHOLD:
        return True
    account_rate = total_count / total_requests
    return count / total_count >= PROBLEM_SHARE_THRESHOLD and rate >= 2 * account_rate


def compute_hints(endpoints: Iterable[EndpointUsage], window_hours: float) -> list[Hint]:
    """All hints, most important first. `window_hours` is the length of the usage window."""
    endpoints = list(endpoints)
    days = max(window_hours, 1.0) / 24
    hints: list[Hint] = []
    for e in endpoints:
        if (hint := polling_hint(e, e.requests / days)) is not None:
            hints.append(hint)
        if (hint := cache_hint(e)) is not None:
            hints.append(hint)
    hints.extend(problem_hints(endpoints))
    hints.sort(
        key=lambda h: (SEVERITY_RANK.get(h.severity, 9), -(h.saving_per_day or 0), h.key, h.kind)
    )
    return hints


def hints_for_report(report: EndpointUsageReport) -> list[Hint]:
    hours = (report.end - report.start).total_seconds() / 3600
    return compute_hints(report.endpoints, hours)


def total_saving_per_day(hints: Iterable[Hint]) -> int:
    return sum(h.saving_per_day or 0 for h in hints)
