"""Typed models of the account API; every data source (API client, local meter) yields these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ht_dash.api.secret import Secret

TIMEFRAMES: tuple[str, ...] = ("today", "week", "month", "30d", "90d")
TIMEFRAME_LABELS: dict[str, str] = {
    "today": "Today",
    "week": "This week",
    "month": "This month",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
}
HISTORY_KINDS: tuple[str, ...] = ("payment", "invoice", "plan_change", "refund", "support")


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    email: str
    name: str
    organization: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: str
    masked: str
    issued_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class RegeneratedToken:
    info: TokenInfo
    token: Secret


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    name: str
    price_cents: int | None
    currency: str
    quota: int
    quota_period: str  # "day" | "month"
    rate_limit_per_minute: int | None
    streams_included: bool
    stream_connection_limit: int | None


@dataclass(frozen=True, slots=True)
class Subscription:
    plan: Plan
    status: str
    tokens_used: int
    period_start: datetime
    resets_at: datetime

    @property
    def quota_fraction(self) -> float:
        return self.tokens_used / self.plan.quota if self.plan.quota else 0.0


@dataclass(frozen=True, slots=True)
class LiveBucket:
    at: datetime
    requests: int
    throttled: int


@dataclass(frozen=True, slots=True)
class StreamUsage:
    connections_open: int
    connection_limit: int
    messages_per_minute: int
    subscriptions: int | None = None  # counted by the local meter; the account API does not say
    # Set when read from the local meter before any stream went through it: the URL to point
    # the bot's stream at.
    not_seen_at: str | None = None


@dataclass(frozen=True, slots=True)
class InstanceRate:
    """One meter's share of the live figures (several hosts metering one token)."""

    instance: str
    requests_per_minute: int
    requests_in_window: int
    throttled_in_window: int


@dataclass(frozen=True, slots=True)
class LiveUsage:
    at: datetime
    requests_per_minute: int
    limit_per_minute: int | None
    interval_seconds: int
    series: tuple[LiveBucket, ...]
    throttled_in_window: int
    streams: StreamUsage | None
    # Per meter instance, busiest first; only a meter store knows them (the API: empty).
    instances: tuple[InstanceRate, ...] = ()

    def per_minute_series(self) -> list[float]:
        """The series as a req/min rate per bucket, for sparklines."""
        scale = 60 / self.interval_seconds if self.interval_seconds else 1
        return [b.requests * scale for b in self.series]


@dataclass(frozen=True, slots=True)
class MetricsSummary:
    avg_daily_requests: float
    avg_latency_ms: float
    error_rate: float
    rate_limit_hits: int


@dataclass(frozen=True, slots=True)
class DailyMetric:
    date: date
    requests: int
    avg_latency_ms: float
    errors: int
    rate_limited: int


@dataclass(frozen=True, slots=True)
class Metrics:
    days: int
    start: date
    end: date
    summary: MetricsSummary
    previous_summary: MetricsSummary | None
    daily: tuple[DailyMetric, ...]


@dataclass(frozen=True, slots=True)
class EndpointUsage:
    method: str
    path: str
    requests: int
    errors: int
    throttled: int
    avg_latency_ms: float
    calls_per_hour: float
    mean_interval_s: float | None
    instance: str | None = None  # set when split by meter instance (`usage --by instance`)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class EndpointUsageReport:
    timeframe: str
    start: datetime
    end: datetime
    endpoints: tuple[EndpointUsage, ...]
    date: date | None = None  # one UTC day asked for instead of a timeframe (drill-down)


@dataclass(frozen=True, slots=True)
class EndpointDaily:
    """One endpoint's day-by-day usage over a timeframe (or one day): `daily[].requests` add up
    to that endpoint's `requests` in the `EndpointUsageReport` of the same window."""

    method: str
    path: str
    timeframe: str
    start: datetime
    end: datetime
    daily: tuple[DailyMetric, ...]  # oldest first; `rate_limited` counts the 429s
    date: date | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class NextBilling:
    invoice_date: date | None
    amount_cents: int
    currency: str
    plan_id: str
    plan_name: str
    payment_method: str | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: str
    at: datetime
    kind: str
    description: str
    status: str
    amount_cents: int | None
    currency: str | None
    reference: str | None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    items: tuple[HistoryEntry, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One data-API request the bot made, as the meter (or the demo) saw it."""

    id: int  # increasing within one log; a new log (rotated database) starts again
    at: datetime  # when it arrived, millisecond precision
    method: str
    path: str  # route template, e.g. /segments/{id}/summary
    status: int
    latency_ms: float
    bytes: int
    retry_after: float | None  # seconds, on 429
    instance: str | None  # which meter saw it, when there are several

    @property
    def status_class(self) -> str:
        """'2xx', '3xx', '4xx', '429' or '5xx' (429 is its own class: the limit, not a bug)."""
        if self.status == 429:
            return "429"
        return f"{min(max(self.status // 100, 1), 5)}xx"


@dataclass(frozen=True, slots=True)
class RequestLogPage:
    """Requests newer than the id asked for, newest first."""

    log_id: str  # identifies the log; it changes when the meter database is rotated or replaced
    requests: tuple[RequestRecord, ...]
    newest_id: int | None  # the newest id in the log (None: empty), even when nothing is new
    truncated: bool  # more new requests than the limit: the oldest of them were left out


@dataclass(frozen=True, slots=True)
class SecondCounts:
    """Requests (and 429s among them) second by second, oldest first: what pacing advice reads."""

    start: datetime  # the first second
    requests: tuple[int, ...]
    throttled: tuple[int, ...]
    limit_per_minute: int | None
