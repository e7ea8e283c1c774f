"""Simulated traffic: daily metrics, per-endpoint usage, live throughput and stream usage.

The account's bot works in sessions at roughly 60 % of the plan's per-minute limit (that is what
the live view shows), and a day's requests are what its quota allows (~65-85 % of it). So daily
requests, tokens used, endpoint counts and calls per hour all describe the same traffic:
sum(endpoint requests in a window) == requests of the days in that window, and
calls_per_hour is counted over the hours the bot was actually calling that endpoint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ht_dash.api.contract import DAY_TIMEFRAME
from ht_dash.api.models import (
    TIMEFRAMES,
    DailyMetric,
    EndpointDaily,
    EndpointUsage,
    EndpointUsageReport,
    LiveBucket,
    LiveUsage,
    Metrics,
    MetricsSummary,
    Plan,
    StreamUsage,
)
from ht_dash.demo.account import DemoAccount, midnight
from ht_dash.demo.noise import normal, smooth, unit

# Noise streams: keep each kind of randomness independent of the others.
_REQ, _LAT, _ERR, _RL, _EP_REQ, _EP_LAT, _EP_GAP = 1, 2, 3, 4, 5, 6, 7
_LIVE_LEVEL, _LIVE_BURST, _LIVE_BURST_SIZE, _LIVE_JITTER = 11, 12, 13, 14
_LIVE_SECOND = 19
_STREAM_CONN, _STREAM_MSG = 15, 16

DAY_S = 86_400
LIVE_INTERVAL_S = 15
WEEKDAY_FACTOR = (1.02, 1.06, 1.07, 1.04, 0.98, 0.60, 0.54)  # Monday .. Sunday
_WEEKDAY_MEAN = sum(WEEKDAY_FACTOR) / 7
NO_LIMIT_NOMINAL_PER_MIN = 12  # a plan without a per-minute limit still has a bot of some speed


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """How the demo account's bot uses one data-API endpoint (rates are for a 100 req/min plan)."""

    method: str
    path: str
    calls_per_hour: float  # while the endpoint is in use
    active_share: float  # share of session time the endpoint is in use
    latency_ms: float
    error_factor: float = 1.0  # relative to the day's error rate
    throttle_factor: float = 1.0  # relative to the day's 429 rate


# Drawn from the real data API's documented paths. Three are polled far faster than their data
# changes (heatmap every ~20 s vs 15-30 min, position-metrics/general every ~30 s vs 10 min,
# perp-pnl leaderboard every ~60 s vs 15-30 min); the other cadence-bound ones are polled about
# as often as their data changes. /fills/liquidation backfills in bursts and collects 429s.
ENDPOINTS: tuple[EndpointSpec, ...] = (
    EndpointSpec("GET", "/closed-trades", 900, 0.95, 165, 1.0, 0.6),
    EndpointSpec("POST", "/info", 900, 1.0, 38, 0.6, 0.8),
    EndpointSpec("GET", "/fills", 1200, 0.6, 210, 1.4, 1.2),
    EndpointSpec("GET", "/position-metrics/coin/{coin}", 4, 1.0, 110, 0.8, 0.7),
    EndpointSpec("GET", "/positions/heatmap", 180, 1.0, 240, 0.9, 0.7),
    EndpointSpec("GET", "/position-metrics/general", 120, 1.0, 95, 0.7, 0.6),
    EndpointSpec("GET", "/hypertracker/state/status", 60, 1.0, 22, 0.3, 0.4),
    EndpointSpec("GET", "/fills/liquidation", 120, 0.5, 190, 1.3, 12.0),
    EndpointSpec("GET", "/leaderboards/perp-pnl", 60, 0.9, 310, 1.1, 0.8),
    EndpointSpec("GET", "/orders/5m-snapshots/{coin}", 12, 1.0, 120, 0.8, 0.5),
    EndpointSpec("GET", "/segments/{id}/bias-history", 1.5, 1.0, 140, 0.9, 0.6),
    EndpointSpec("GET", "/fundings", 40, 0.4, 150, 1.0, 0.9),
    EndpointSpec("GET", "/wallets", 30, 0.5, 85, 0.8, 0.5),
    EndpointSpec("GET", "/events", 30, 0.5, 60, 0.6, 0.5),
    EndpointSpec("GET", "/{segmentId}/assets/liquidation-risk", 24, 0.6, 180, 1.2, 0.6),
    EndpointSpec("GET", "/segments", 12, 0.6, 70, 0.5, 0.3),
    EndpointSpec("GET", "/leaderboards/biggest-positions", 3, 0.8, 260, 1.0, 0.7),
    EndpointSpec("GET", "/closed-trades/summary", 12, 0.5, 130, 0.8, 0.5),
    EndpointSpec("GET", "/state/summary", 3, 0.8, 55, 0.5, 0.4),
    EndpointSpec("GET", "/metrics/perp-volume", 6, 0.4, 75, 0.6, 0.4),
    EndpointSpec("GET", "/leaderboards/all-pnl", 6, 0.3, 290, 1.0, 0.6),
    EndpointSpec("GET", "/builders/all-time-revenue", 1, 0.2, 95, 0.5, 0.3),
    EndpointSpec("GET", "/events/endpoints", 0.5, 0.1, 40, 0.5, 0.2),
)


def endpoint_catalog(count: int | None) -> tuple[EndpointSpec, ...]:
    """The documented endpoints, cut to `count` or padded with versioned variants (benchmarks)."""
    if count is None:
        return ENDPOINTS
    if count <= len(ENDPOINTS):
        return ENDPOINTS[: max(0, count)]
    extra = []
    for i in range(count - len(ENDPOINTS)):
        base = ENDPOINTS[i % len(ENDPOINTS)]
        version = 2 + i // len(ENDPOINTS)
        extra.append(
            EndpointSpec(
                base.method,
                f"/v{version}{base.path}",
                max(6.0, base.calls_per_hour * 0.2),
                max(0.3, base.active_share),
                base.latency_ms,
                base.error_factor,
                base.throttle_factor,
            )
        )
    return ENDPOINTS + tuple(extra)


@dataclass(frozen=True, slots=True)
class DayTraffic:
    requests: float
    latency_ms: float
    errors: float
    rate_limited: float

    def scaled(self, fraction: float) -> DayTraffic:
        return DayTraffic(
            self.requests * fraction,
            self.latency_ms,
            self.errors * fraction,
            self.rate_limited * fraction,
        )


_QUIET = DayTraffic(0.0, 0.0, 0.0, 0.0)


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split an integer total in proportion to weights, exactly (largest remainder)."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    raw = [total * w / weight_sum for w in weights]
    parts = [int(r) for r in raw]
    rest = total - sum(parts)
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)[:rest]:
        parts[i] += 1
    return parts


def capped(parts: Sequence[int], caps: Sequence[int]) -> list[int]:
    """`parts` with none above its cap, the excess moved to the parts with the most room left
    (the total is kept while the caps allow it)."""
    out = [min(p, c) for p, c in zip(parts, caps, strict=True)]
    excess = sum(parts) - sum(out)
    for i in sorted(range(len(out)), key=lambda i: out[i] - caps[i]):
        if excess <= 0:
            break
        moved = min(excess, caps[i] - out[i])
        out[i] += moved
        excess -= moved
    return out


def window_start(timeframe: str, now: datetime) -> datetime:
    today = midnight(now.astimezone(UTC).date())
    if timeframe == "today":
        return today
    if timeframe == "week":
        return today - timedelta(days=today.weekday())
    if timeframe == "month":
        return today.replace(day=1)
    # "Last N days" is the N UTC days ending today, as the metrics' daily series counts them.
    if timeframe == "30d":
        return today - timedelta(days=29)
    if timeframe == "90d":
        return today - timedelta(days=89)
    raise ValueError(f"unknown timeframe {timeframe!r}")


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * max(0.0, min(1.0, t))


class Traffic:
    """All traffic of one demo account; full days are computed once and cached."""

    def __init__(self, account: DemoAccount, endpoint_count: int | None = None) -> None:
        self.account = account
        self.seed = account.seed
        self.endpoints = endpoint_catalog(endpoint_count)
        self._days: dict[int, DayTraffic] = {}

    # ---- days ---------------------------------------------------------------------------------

    def _utilisation(self, day: date) -> float:
        """Share of the daily quota used: near the ceiling before an upgrade, growing after."""
        a = self.account
        signup = a.signup_at.date()
        anchor = a.anchor.date()
        if a.upgrade_at is not None:
            upgrade = a.upgrade_at.date()
            if day < upgrade:
                return _lerp(0.70, 0.90, (day - signup).days / max(1, (upgrade - signup).days))
            return min(
                0.84, _lerp(0.64, 0.78, (day - upgrade).days / max(1, (anchor - upgrade).days))
            )
        return min(0.84, _lerp(0.55, 0.78, (day - signup).days / max(1, (anchor - signup).days)))

    def full_day(self, day: date) -> DayTraffic:
        key = day.toordinal()
        cached = self._days.get(key)
        if cached is None:
            cached = self._days[key] = self._make_day(day)
        return cached

    def _make_day(self, day: date) -> DayTraffic:
        a = self.account
        signup = a.signup_at.date()
        if day < signup:
            return _QUIET
        plan = a.plan_on(day)
        n = day.toordinal()
        per_day = plan.quota if plan.quota_period == "day" else plan.quota * 12 / 365
        ramp = min(1.0, 0.35 + 0.65 * (day - signup).days / 14)
        weekday = WEEKDAY_FACTOR[day.weekday()] / _WEEKDAY_MEAN
        requests = (
            per_day
            * self._utilisation(day)
            * weekday
            * ramp
            * math.exp(0.075 * normal(self.seed, _REQ, n))
        )
        drift = 0.92 + 0.16 * smooth(n / 9, self.seed, _LAT)
        latency = (
            118
            * drift
            * (1.04 if day.weekday() < 5 else 0.95)
            * (1 + 0.04 * normal(self.seed, _LAT, n))
        )
        error_rate = 0.0035 + 0.003 * unit(self.seed, _ERR, n)
        if plan.rate_limit_per_minute is None:
            limited_rate = 0.0
        else:
            before_upgrade = plan is a.previous
            limited_rate = (0.022 if before_upgrade else 0.0075) * (
                0.6 + 0.8 * unit(self.seed, _RL, n)
            )
        if day == a.incident_day:
            requests *= 1.18  # clients retrying
            latency *= 5.5
            error_rate = 0.068
            limited_rate = 0.15 if plan.rate_limit_per_minute is not None else 0.0
        if plan.quota_period == "day":  # a daily quota is a hard ceiling (402 beyond it)
            requests = min(requests, plan.quota * 0.98)
        requests = float(round(requests))
        return DayTraffic(
            requests,
            latency,
            float(round(requests * error_rate)),
            float(round(requests * limited_rate)),
        )

    def day_so_far(self, day: date, now: datetime) -> DayTraffic:
        start = midnight(day)
        fraction = max(0.0, min(1.0, (now - start).total_seconds() / DAY_S))
        return self.full_day(day).scaled(fraction) if fraction > 0 else _QUIET

    def totals(self, start: datetime, end: datetime) -> DayTraffic:
        """Traffic in [start, end): full days plus proportional shares of partial ones."""
        requests = errors = limited = latency_weight = 0.0
        day = start.astimezone(UTC).date()
        while midnight(day) < end:
            lo = max(start, midnight(day))
            hi = min(end, midnight(day + timedelta(days=1)))
            part = self.full_day(day).scaled((hi - lo).total_seconds() / DAY_S)
            requests += part.requests
            errors += part.errors
            limited += part.rate_limited
            latency_weight += part.requests * part.latency_ms
            day += timedelta(days=1)
        latency = latency_weight / requests if requests else 0.0
        return DayTraffic(
            float(round(requests)), latency, float(round(errors)), float(round(limited))
        )

    def tokens_used(self, period_start: datetime, now: datetime) -> int:
        """Usage tokens spent: every request that was not answered 429."""
        t = self.totals(period_start, now)
        return int(t.requests - t.rate_limited)

    # ---- metrics ------------------------------------------------------------------------------

    def _daily(self, first: date, days: int, now: datetime) -> list[DailyMetric]:
        rows = []
        for i in range(days):
            day = first + timedelta(days=i)
            t = self.day_so_far(day, now)
            rows.append(
                DailyMetric(
                    date=day,
                    requests=round(t.requests),
                    avg_latency_ms=round(t.latency_ms, 2) if t.requests else 0.0,
                    errors=round(t.errors),
                    rate_limited=round(t.rate_limited),
                )
            )
        return rows

    @staticmethod
    def _summary(rows: Sequence[DailyMetric]) -> MetricsSummary:
        requests = sum(r.requests for r in rows)
        return MetricsSummary(
            avg_daily_requests=requests / len(rows) if rows else 0.0,
            avg_latency_ms=sum(r.requests * r.avg_latency_ms for r in rows) / requests
            if requests
            else 0.0,
            error_rate=sum(r.errors for r in rows) / requests if requests else 0.0,
            rate_limit_hits=sum(r.rate_limited for r in rows),
        )

    def metrics(self, days: int, now: datetime) -> Metrics:
        end = now.astimezone(UTC).date()
        start = end - timedelta(days=days - 1)
        rows = self._daily(start, days, now)
        previous_start = start - timedelta(days=days)
        previous = None
        if self.account.signup_at.date() <= previous_start:
            previous = self._summary(self._daily(previous_start, days, now))
        return Metrics(
            days=days,
            start=start,
            end=end,
            summary=self._summary(rows),
            previous_summary=previous,
            daily=tuple(rows),
        )

    # ---- endpoints ----------------------------------------------------------------------------

    def _session_scale(self) -> float:
        limit = self.account.plan.rate_limit_per_minute
        return (limit if limit is not None else NO_LIMIT_NOMINAL_PER_MIN) / 100

    def endpoint_usage(
        self, timeframe: str, now: datetime, day: date | None = None
    ) -> EndpointUsageReport:
        """Per-endpoint usage in a timeframe up to now, or on one UTC `day` (to now, if today)."""
        if day is not None:
            start, end = midnight(day), min(now, midnight(day + timedelta(days=1)))
            timeframe, tf = DAY_TIMEFRAME, len(TIMEFRAMES) + day.toordinal()
        else:
            start, end = window_start(timeframe, now), now
            tf = TIMEFRAMES.index(timeframe)
        totals = self.totals(start, end)
        specs = self.endpoints
        today = now.astimezone(UTC).date().toordinal()
        scale = self._session_scale()

        weights = [
            s.calls_per_hour
            * s.active_share
            * max(0.3, 1 + 0.12 * normal(self.seed, _EP_REQ, i, tf, today))
            for i, s in enumerate(specs)
        ]
        requests = allocate(int(totals.requests), weights)
        errors = allocate(
            int(totals.errors), [r * s.error_factor for r, s in zip(requests, specs, strict=True)]
        )
        limited = allocate(
            int(totals.rate_limited),
            [r * s.throttle_factor for r, s in zip(requests, specs, strict=True)],
        )
        served = sum(requests)
        base_latency = (
            sum(r * s.latency_ms for r, s in zip(requests, specs, strict=True)) / served
            if served
            else 1.0
        )
        latency_ratio = totals.latency_ms / base_latency if served else 1.0
        # Hours the bot spent in sessions during the window, at its session request rate.
        session_rate = sum(s.calls_per_hour * s.active_share for s in specs) * scale
        session_hours = totals.requests / session_rate if session_rate else 0.0

        rows = []
        for i, (spec, n) in enumerate(zip(specs, requests, strict=True)):
            if n == 0:
                continue
            hours = max(session_hours * spec.active_share, n / 3600)  # at most one call a second
            per_hour = n / hours
            gap = None
            if n >= 2:
                gap = 3600 / per_hour * (1 + 0.08 * unit(self.seed, _EP_GAP, i, tf, today))
            latency = (
                spec.latency_ms
                * latency_ratio
                * (1 + 0.05 * normal(self.seed, _EP_LAT, i, tf, today))
            )
            err = min(errors[i], n)
            rows.append(
                EndpointUsage(
                    method=spec.method,
                    path=spec.path,
                    requests=n,
                    errors=err,
                    throttled=min(limited[i], n - err),
                    avg_latency_ms=max(1.0, latency),
                    calls_per_hour=per_hour,
                    mean_interval_s=gap,
                )
            )
        rows.sort(key=lambda e: (-e.requests, e.path, e.method))
        return EndpointUsageReport(
            timeframe=timeframe, start=start, end=end, endpoints=tuple(rows), date=day
        )

    def endpoint_daily(
        self, method: str, path: str, timeframe: str, now: datetime, day: date | None = None
    ) -> EndpointDaily:
        """One endpoint's row of `endpoint_usage` spread over the days of its window in
        proportion to each day's traffic there, exactly: the days add up to the row."""
        report = self.endpoint_usage(timeframe, now, day)
        row = next((e for e in report.endpoints if (e.method, e.path) == (method, path)), None)
        days, parts = [], []
        current = report.start.astimezone(UTC).date()
        while midnight(current) < report.end:
            lo = max(report.start, midnight(current))
            hi = min(report.end, midnight(current + timedelta(days=1)))
            days.append(current)
            parts.append(self.full_day(current).scaled((hi - lo).total_seconds() / DAY_S))
            current += timedelta(days=1)
        window = self.totals(report.start, report.end)

        def spread(total: int, weights: list[float]) -> list[int]:
            return allocate(total, weights if sum(weights) else [p.requests for p in parts])

        requests = spread(row.requests if row else 0, [p.requests for p in parts])
        errors = capped(spread(row.errors if row else 0, [p.errors for p in parts]), requests)
        room = [n - err for n, err in zip(requests, errors, strict=True)]
        limited = capped(spread(row.throttled if row else 0, [p.rate_limited for p in parts]), room)
        daily = []
        for d, part, n, err, lim in zip(days, parts, requests, errors, limited, strict=True):
            latency = 0.0
            if row is not None and n and window.latency_ms:
                latency = round(row.avg_latency_ms * part.latency_ms / window.latency_ms, 2)
            daily.append(DailyMetric(d, n, latency, err, lim))
        return EndpointDaily(
            method=method,
            path=path,
            timeframe=report.timeframe,
            start=report.start,
            end=report.end,
            daily=tuple(daily),
            date=report.date,
        )

    # ---- live ---------------------------------------------------------------------------------

    def _bucket_requests(self, bucket: int, capacity: float) -> int:
        level = 0.40 + 0.45 * smooth(bucket / 24, self.seed, _LIVE_LEVEL)  # drifts over minutes
        minute = bucket // 4
        burst = 1.0
        if unit(self.seed, _LIVE_BURST, minute) < 0.14:
            burst = 1.3 + 0.5 * unit(self.seed, _LIVE_BURST_SIZE, minute)
        jitter = 1 + 0.16 * normal(self.seed, _LIVE_JITTER, bucket)
        return max(0, round(capacity * level * burst * jitter / 4))

    def _arrived_by(self, bucket: int, seconds: int, capacity: float) -> int:
        """Requests in the first `seconds` of a bucket: a bot's requests come in clumps."""
        total = self._bucket_requests(bucket, capacity)
        if seconds >= LIVE_INTERVAL_S:
            return total
        weights = self._second_weights(bucket)
        return round(total * sum(weights[:seconds]) / sum(weights))

    def _second_weights(self, bucket: int) -> list[float]:
        start = bucket * LIVE_INTERVAL_S
        return [
            unit(self.seed, _LIVE_SECOND, start + i) ** 3 + 0.02 for i in range(LIVE_INTERVAL_S)
        ]

    def capacity(self) -> float:
        limit = self.account.plan.rate_limit_per_minute
        return limit if limit is not None else NO_LIMIT_NOMINAL_PER_MIN

    def bucket_requests(self, bucket: int) -> int:
        """Requests received in one 15 s bucket (bucket = unix seconds // 15)."""
        return self._bucket_requests(bucket, self.capacity())

    def second_counts(self, bucket: int) -> list[int]:
        """The bucket's requests second by second, as `live` counts them arriving."""
        total = self.bucket_requests(bucket)
        weights = self._second_weights(bucket)
        weight_sum = sum(weights)
        arrived, running = [0], 0.0
        for weight in weights[:-1]:  # the same rounding as `_arrived_by`
            running += weight
            arrived.append(round(total * running / weight_sum))
        arrived.append(total)
        return [arrived[s + 1] - arrived[s] for s in range(LIVE_INTERVAL_S)]

    def _sliding_rate(
        self, received: dict[int, int], last: int, now_s: int, capacity: float
    ) -> int:
        """Requests in the 60 s before `now_s`, second by second, so the figure moves as a
        real per-minute counter does instead of once per 15 s bucket."""
        into_current = now_s - (last + 1) * LIVE_INTERVAL_S
        oldest = received[last - 3] - self._arrived_by(last - 3, into_current, capacity)
        full = received[last - 2] + received[last - 1] + received[last]
        return oldest + full + self._arrived_by(last + 1, into_current, capacity)

    def live(self, window_minutes: int, now: datetime) -> LiveUsage:
        plan: Plan = self.account.plan
        limit = plan.rate_limit_per_minute
        capacity = limit if limit is not None else NO_LIMIT_NOMINAL_PER_MIN
        now_s = math.floor(now.timestamp())
        last = now_s // LIVE_INTERVAL_S - 1  # the most recent complete bucket
        count = window_minutes * 60 // LIVE_INTERVAL_S
        first = last - count + 1
        received = {b: self._bucket_requests(b, capacity) for b in range(first - 3, last + 1)}
        series = []
        for b in range(first, last + 1):
            throttled = 0
            if limit is not None:
                in_last_minute = sum(received[b - k] for k in range(4))
                throttled = min(received[b], max(0, in_last_minute - limit))
            series.append(
                LiveBucket(
                    at=datetime.fromtimestamp(b * LIVE_INTERVAL_S, UTC),
                    requests=received[b],
                    throttled=throttled,
                )
            )
        streams = None
        if plan.streams_included and plan.stream_connection_limit:
            conn_limit = plan.stream_connection_limit
            open_now = 1 + round((conn_limit - 2) * smooth(last / 40, self.seed, _STREAM_CONN))
            per_connection = 320 + 160 * smooth(last / 8, self.seed, _STREAM_MSG)
            streams = StreamUsage(
                connections_open=open_now,
                connection_limit=conn_limit,
                messages_per_minute=round(open_now * per_connection),
            )
        rate = self._sliding_rate(received, last, now_s, capacity)
        if limit is not None and rate > limit and series:
            # Over the limit in the last minute means some of those requests were refused.
            tail = series[-1]
            over = min(tail.requests, rate - limit)
            if tail.throttled < over:
                series[-1] = LiveBucket(at=tail.at, requests=tail.requests, throttled=over)
        return LiveUsage(
            at=now.astimezone(UTC).replace(microsecond=0),
            requests_per_minute=rate,
            limit_per_minute=limit,
            interval_seconds=LIVE_INTERVAL_S,
            series=tuple(series),
            throttled_in_window=sum(b.throttled for b in series),
            streams=streams,
        )
