"""Arithmetic behind screen 4, free of Textual: quota projection, gauge levels, threshold alerts.

- `project_quota` answers "at the current pace, will the quota run out before the reset, and when?"
  The pace is the period's average: tokens used / time elapsed since the period started.
- `gauge_level` colours a fraction of a limit: ok under 70 %, warn under 90 %, bad from 90 %.
- `AlertMonitor` turns a stream of fractions into alerts, once per upward crossing of 80 % and
  100 %, re-armed when the value falls back below the threshold (minus a small hysteresis so a
  value hovering at the line does not ring every tick).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ht_dash.api.models import LiveUsage, Subscription
from ht_dash.insights.format import duration, percent, short_date

WARN_AT = 0.70
BAD_AT = 0.90
ALERT_THRESHOLDS = (0.80, 1.00)
REARM_MARGIN = 0.05
# Before this much of the period has passed, an average pace says little.
MIN_ELAPSED_FOR_PROJECTION = timedelta(minutes=30)


def gauge_level(fraction: float | None) -> str:
    """'ok' (< 70 %), 'warn' (< 90 %), 'bad' (>= 90 %); 'none' when there is no limit."""
    if fraction is None:
        return "none"
    if fraction < WARN_AT:
        return "ok"
    if fraction < BAD_AT:
        return "warn"
    return "bad"


@dataclass(frozen=True, slots=True)
class QuotaProjection:
    used: int
    quota: int
    resets_in: timedelta
    pace_per_hour: float | None  # tokens per hour, average over the period so far
    runs_out_at: datetime | None  # when the quota is spent at this pace, if before the reset
    projected_fraction: float | None  # share of the quota used by the reset at this pace
    spent: bool
    sentence: str

    @property
    def fraction(self) -> float:
        return self.used / self.quota if self.quota else 0.0


def project_quota(sub: Subscription, now: datetime) -> QuotaProjection:
    quota, used = sub.plan.quota, sub.tokens_used
    resets_in = max(timedelta(0), sub.resets_at - now)
    elapsed = now - sub.period_start
    if quota > 0 and used >= quota:
        return QuotaProjection(
            used,
            quota,
            resets_in,
            None,
            None,
            None,
            True,
            f"quota spent — requests fail until the reset in {duration(resets_in)}",
        )
    if elapsed < MIN_ELAPSED_FOR_PROJECTION or quota <= 0:
        return QuotaProjection(
            used,
            quota,
            resets_in,
            None,
            None,
            None,
            False,
            "too early in the period to project the pace",
        )
    pace_per_s = used / elapsed.total_seconds()
    pace_per_hour = pace_per_s * 3600
    if pace_per_s == 0:
        return QuotaProjection(
            used, quota, resets_in, 0.0, None, 0.0, False, "no usage yet this period"
        )
    # Compared in seconds first: a slow pace on a big quota runs out past year 9999.
    left_s = (quota - used) / pace_per_s
    if left_s < (sub.resets_at - now).total_seconds():
        runs_out_at = now + timedelta(seconds=left_s)
        early = sub.resets_at - runs_out_at
        sentence = (
            f"on pace to run out {short_date(runs_out_at, now)}, "
            f"{duration(early)} before reset"
        )
        return QuotaProjection(
            used, quota, resets_in, pace_per_hour, runs_out_at, None, False, sentence
        )
    projected = (used + pace_per_s * resets_in.total_seconds()) / quota
    sentence = f"on pace to use {percent(projected, 0)} by the reset"
    return QuotaProjection(used, quota, resets_in, pace_per_hour, None, projected, False, sentence)


@dataclass(frozen=True, slots=True)
class LivePeak:
    per_minute: int
    at: datetime | None  # when that minute ended; None for the current rate


def live_peak(live: LiveUsage) -> LivePeak:
    """THE peak req/min of every screen and command: the busiest 60 s of the live window, counted
    as the per-minute limit counts them (rolling over its buckets), or the current rate if that
    is higher. A window shorter than a minute scales its busiest bucket."""
    counts = [b.requests for b in live.series]
    per_minute = max(1, round(60 / live.interval_seconds))
    if not counts:
        return LivePeak(live.requests_per_minute, None)
    if len(counts) < per_minute:
        index = max(range(len(counts)), key=counts.__getitem__)
        busiest = math.ceil(counts[index] * 60 / live.interval_seconds)
    else:
        sums = [sum(counts[i - per_minute + 1 : i + 1]) for i in range(per_minute - 1, len(counts))]
        offset = max(range(len(sums)), key=sums.__getitem__)
        index, busiest = offset + per_minute - 1, sums[offset]
    if live.requests_per_minute > busiest:
        return LivePeak(live.requests_per_minute, None)
    return LivePeak(busiest, live.series[index].at + timedelta(seconds=live.interval_seconds))


def rate_fraction(live: LiveUsage) -> float | None:
    if not live.limit_per_minute:
        return None
    return live.requests_per_minute / live.limit_per_minute


@dataclass(frozen=True, slots=True)
class Alert:
    metric: str  # "rate" | "quota"
    threshold: float
    value: float
    title: str
    message: str
    severity: str  # "warning" | "error"


_NAMES = {"rate": "Requests per minute", "quota": "Usage quota"}


@dataclass
class AlertMonitor:
    """Remembers which thresholds have fired; `observe` returns the alerts a new value triggers."""

    thresholds: tuple[float, ...] = ALERT_THRESHOLDS
    rearm_margin: float = REARM_MARGIN
    _fired: dict[str, set[float]] = field(default_factory=dict)

    def observe(self, metric: str, fraction: float | None, detail: str = "") -> list[Alert]:
        """At most one alert per call: for the highest threshold newly crossed."""
        fired = self._fired.setdefault(metric, set())
        if fraction is None:
            fired.clear()
            return []
        for threshold in list(fired):
            if fraction < threshold - self.rearm_margin:
                fired.discard(threshold)
        crossed = [t for t in self.thresholds if fraction >= t and t not in fired]
        if not crossed:
            return []
        fired.update(crossed)
        top = max(crossed)
        name = _NAMES.get(metric, metric)
        at_limit = top >= 1.0
        title = f"{name} {'at the limit' if at_limit else f'above {percent(top, 0)}'}"
        share = "spent" if metric == "quota" else "of the limit"
        message = f"{name}: {percent(fraction, 0)} {share}" + (f" ({detail})" if detail else "")
        return [Alert(metric, top, fraction, title, message, "error" if at_limit else "warning")]

    def observe_live(self, live: LiveUsage) -> list[Alert]:
        detail = (
            f"{live.requests_per_minute} of {live.limit_per_minute} req/min"
            if live.limit_per_minute
            else ""
        )
        return self.observe("rate", rate_fraction(live), detail)

    def observe_subscription(self, sub: Subscription) -> list[Alert]:
        period = "today" if sub.plan.quota_period == "day" else "this month"
        detail = f"{sub.tokens_used:,} of {sub.plan.quota:,} tokens {period}"
        return self.observe("quota", sub.quota_fraction if sub.plan.quota else None, detail)
