"""The account-API contract (docs/account-api.md) in code: every path and wire field name.

`parse_*` turn decoded JSON into models, strictly: anything missing, mistyped, negative where a
count is expected, or not finite raises `BadPayload` naming the field. Every string is made
terminal-safe here (no ESC sequence or control character from a server reaches a screen), and every
instant must fall within `INSTANT_YEARS` once in UTC. `dump_*` do the reverse and are what the demo
backend serves, so both sides share one spelling of the contract.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from ht_dash.api.errors import BadPayload
from ht_dash.api.models import (
    DailyMetric,
    EndpointDaily,
    EndpointUsage,
    EndpointUsageReport,
    HistoryEntry,
    HistoryPage,
    LiveBucket,
    LiveUsage,
    Metrics,
    MetricsSummary,
    NextBilling,
    Plan,
    Profile,
    RegeneratedToken,
    RequestLogPage,
    RequestRecord,
    SecondCounts,
    StreamUsage,
    Subscription,
    TokenInfo,
)
from ht_dash.api.secret import Secret
from ht_dash.clock import iso
from ht_dash.sanitize import terminal_safe

DEFAULT_BASE_URL = "https://ht-api.coinmarketman.com/api/external"

PROFILE = "/account/profile"
TOKEN = "/account/token"
TOKEN_REGENERATE = "/account/token/regenerate"
SUBSCRIPTION = "/account/subscription"
LIVE = "/account/usage/live"
METRICS = "/account/metrics"
ENDPOINT_USAGE = "/account/usage/endpoints"
ENDPOINT_DAILY = "/account/usage/endpoints/daily"
NEXT_BILLING = "/account/billing/next"
HISTORY = "/account/history"
REQUESTS = "/account/requests"
SECONDS = "/account/usage/seconds"
SECONDS_MAX = 3600  # one hour of seconds
REQUEST_LOG_MAX_LIMIT = 10_000


def is_account_path(path: str) -> bool:
    """True for a path of the account contract (where 404/405/501 mean "not offered")."""
    return path.split("?", 1)[0].startswith("/account/")


QUOTA_PERIODS = ("day", "month")
DAY_TIMEFRAME = "day"  # the timeframe a report for one `date` echoes
# Instants and dates outside these years (in UTC) are a bad payload: no account has them, and
# near year 1 or 9999 a change of zone overflows.
INSTANT_YEARS = (1970, 9000)
# A 429 asking to wait longer than this means the quota is spent, not the per-minute limit.
QUOTA_RETRY_AFTER_THRESHOLD_S = 15 * 60

T = TypeVar("T")


class Reader:
    """Strict, path-tracking access to one JSON object."""

    __slots__ = ("_data", "_where")

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise BadPayload(
                f"{where or 'response'}: expected an object, got {_kind(data)}", field=where
            )
        self._data = data
        self._where = where

    def _path(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def _get(self, key: str, optional: bool) -> Any:
        if key not in self._data:
            if optional:
                return None
            raise BadPayload(f"missing field '{self._path(key)}'", field=self._path(key))
        value = self._data[key]
        if value is None and not optional:
            raise BadPayload(f"field '{self._path(key)}' is null", field=self._path(key))
        return value

    def _bad(self, key: str, expected: str, value: Any) -> BadPayload:
        return BadPayload(
            f"field '{self._path(key)}' should be {expected}, got {_kind(value)}",
            field=self._path(key),
        )

    def str(
        self,
        key: str,
        *,
        optional: bool = False,
        choices: tuple[str, ...] = (),
        multiline: bool = False,
        raw: bool = False,
    ) -> Any:
        """A string, terminal-safe (`multiline` keeps line breaks; `raw` only for the secret)."""
        value = self._get(key, optional)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._bad(key, "a string", value)
        if not raw:
            value = terminal_safe(value, multiline=multiline)
        if choices and value not in choices:
            raise BadPayload(
                f"field '{self._path(key)}' has unknown value {value[:40]!r}", field=self._path(key)
            )
        return value

    def int(self, key: str, *, optional: bool = False, signed: bool = False) -> Any:
        value = self._get(key, optional)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer() and math.isfinite(value):
                value = int(value)
            else:
                raise self._bad(key, "an integer", value)
        if not signed and value < 0:
            raise BadPayload(f"field '{self._path(key)}' is negative", field=self._path(key))
        if abs(value) > 10**15:
            raise BadPayload(
                f"field '{self._path(key)}' is implausibly large", field=self._path(key)
            )
        return value

    def float(self, key: str, *, optional: bool = False) -> Any:
        value = self._get(key, optional)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(key, "a number", value)
        value = float(value)
        if not math.isfinite(value) or value < 0 or value > 1e15:
            raise BadPayload(f"field '{self._path(key)}' is out of range", field=self._path(key))
        return value

    def ratio(self, key: str) -> float:
        value = self.float(key)
        if value > 1:
            raise BadPayload(
                f"field '{self._path(key)}' should be between 0 and 1", field=self._path(key)
            )
        return value

    def bool(self, key: str) -> bool:
        value = self._get(key, False)
        if not isinstance(value, bool):
            raise self._bad(key, "true or false", value)
        return value

    def instant(self, key: str, *, optional: bool = False) -> Any:
        value = self.str(key, optional=optional)
        if value is None:
            return None
        try:
            return read_instant(value)
        except OverflowError:
            raise self._out_of_range(key) from None
        except ValueError:
            raise BadPayload(
                f"field '{self._path(key)}' is not an ISO 8601 instant", field=self._path(key)
            ) from None

    def date(self, key: str, *, optional: bool = False) -> Any:
        value = self.str(key, optional=optional)
        if value is None:
            return None
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise BadPayload(
                f"field '{self._path(key)}' is not an ISO 8601 date", field=self._path(key)
            ) from None
        if not INSTANT_YEARS[0] <= day.year <= INSTANT_YEARS[1]:
            raise self._out_of_range(key)
        return day

    def _out_of_range(self, key: str) -> BadPayload:
        low, high = INSTANT_YEARS
        return BadPayload(
            f"field '{self._path(key)}' is out of range (years {low}–{high} only)",
            field=self._path(key),
        )

    def obj(self, key: str, *, optional: bool = False) -> Any:
        value = self._get(key, optional)
        if value is None:
            return None
        return Reader(value, self._path(key))

    def counts(self, key: str, *, max_length: int) -> tuple[int, ...]:
        """A list of non-negative integers (a series of counts)."""
        value = self._get(key, False)
        if not isinstance(value, list):
            raise self._bad(key, "a list", value)
        if len(value) > max_length:
            raise BadPayload(f"field '{self._path(key)}' is too long", field=self._path(key))
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 10**9:
                where = f"{self._path(key)}[{i}]"
                raise BadPayload(f"field '{where}' should be a count", field=where)
        return tuple(value)

    def list(self, key: str, item: Callable[[Reader], T]) -> tuple[T, ...]:
        value = self._get(key, False)
        if not isinstance(value, list):
            raise self._bad(key, "a list", value)
        return tuple(item(Reader(v, f"{self._path(key)}[{i}]")) for i, v in enumerate(value))


def read_instant(text: str) -> datetime:
    """An ISO 8601 instant in UTC (no zone: UTC). ValueError if it is not one; OverflowError if
    it falls outside `INSTANT_YEARS` once in UTC."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        raise OverflowError(text) from None
    if not INSTANT_YEARS[0] <= parsed.year <= INSTANT_YEARS[1]:
        raise OverflowError(text)
    return parsed


def _kind(value: Any) -> str:
    return (
        "null"
        if value is None
        else type(value).__name__.replace("dict", "object").replace("str", "string")
    )


def _iso_ms(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_opt(at: datetime | None) -> str | None:
    return None if at is None else iso(at)


# ---- parse: wire -> model ----------------------------------------------------------------------


def parse_profile(data: Any) -> Profile:
    r = Reader(data, "")
    return Profile(
        id=r.str("id"),
        email=r.str("email"),
        name=r.str("name"),
        organization=r.str("organization", optional=True),
        created_at=r.instant("created_at"),
    )


def _token_info(r: Reader) -> TokenInfo:
    return TokenInfo(
        token_id=r.str("token_id"),
        masked=r.str("masked"),
        issued_at=r.instant("issued_at"),
        last_used_at=r.instant("last_used_at", optional=True),
    )


def parse_token_info(data: Any) -> TokenInfo:
    return _token_info(Reader(data, ""))


def parse_regenerated(data: Any) -> RegeneratedToken:
    r = Reader(data, "")
    raw = r.str("token", raw=True)
    if not raw.strip():
        raise BadPayload("field 'token' is empty", field="token")
    return RegeneratedToken(info=_token_info(r), token=Secret(raw))


def _plan(r: Reader) -> Plan:
    return Plan(
        id=r.str("id"),
        name=r.str("name"),
        price_cents=r.int("price_cents", optional=True),
        currency=r.str("currency"),
        quota=r.int("quota"),
        quota_period=r.str("quota_period", choices=QUOTA_PERIODS),
        rate_limit_per_minute=r.int("rate_limit_per_minute", optional=True),
        streams_included=r.bool("streams_included"),
        stream_connection_limit=r.int("stream_connection_limit", optional=True),
    )


def parse_subscription(data: Any) -> Subscription:
    r = Reader(data, "")
    return Subscription(
        plan=_plan(r.obj("plan")),
        status=r.str("status"),
        tokens_used=r.int("tokens_used"),
        period_start=r.instant("period_start"),
        resets_at=r.instant("resets_at"),
    )


def _bucket(r: Reader) -> LiveBucket:
    return LiveBucket(at=r.instant("at"), requests=r.int("requests"), throttled=r.int("throttled"))


def parse_live(data: Any) -> LiveUsage:
    r = Reader(data, "")
    streams = r.obj("streams", optional=True)
    interval = r.int("interval_seconds")
    if interval == 0:
        raise BadPayload("field 'interval_seconds' is zero", field="interval_seconds")
    return LiveUsage(
        at=r.instant("at"),
        requests_per_minute=r.int("requests_per_minute"),
        limit_per_minute=r.int("limit_per_minute", optional=True),
        interval_seconds=interval,
        series=r.list("series", _bucket),
        throttled_in_window=r.int("throttled_in_window"),
        streams=None
        if streams is None
        else StreamUsage(
            connections_open=streams.int("connections_open"),
            connection_limit=streams.int("connection_limit"),
            messages_per_minute=streams.int("messages_per_minute"),
        ),
    )


def _summary(r: Reader) -> MetricsSummary:
    return MetricsSummary(
        avg_daily_requests=r.float("avg_daily_requests"),
        avg_latency_ms=r.float("avg_latency_ms"),
        error_rate=r.ratio("error_rate"),
        rate_limit_hits=r.int("rate_limit_hits"),
    )


def _daily(r: Reader) -> DailyMetric:
    return DailyMetric(
        date=r.date("date"),
        requests=r.int("requests"),
        avg_latency_ms=r.float("avg_latency_ms"),
        errors=r.int("errors"),
        rate_limited=r.int("rate_limited"),
    )


def parse_metrics(data: Any) -> Metrics:
    r = Reader(data, "")
    previous = r.obj("previous_summary", optional=True)
    return Metrics(
        days=r.int("days"),
        start=r.date("from"),
        end=r.date("to"),
        summary=_summary(r.obj("summary")),
        previous_summary=None if previous is None else _summary(previous),
        daily=r.list("daily", _daily),
    )


def _endpoint(r: Reader) -> EndpointUsage:
    return EndpointUsage(
        method=r.str("method"),
        path=r.str("path"),
        requests=r.int("requests"),
        errors=r.int("errors"),
        throttled=r.int("throttled"),
        avg_latency_ms=r.float("avg_latency_ms"),
        calls_per_hour=r.float("calls_per_hour"),
        mean_interval_s=r.float("mean_interval_s", optional=True),
    )


def parse_endpoint_usage(data: Any) -> EndpointUsageReport:
    r = Reader(data, "")
    return EndpointUsageReport(
        timeframe=r.str("timeframe"),
        start=r.instant("from"),
        end=r.instant("to"),
        endpoints=r.list("endpoints", _endpoint),
        date=r.date("date", optional=True),
    )


def parse_endpoint_daily(data: Any) -> EndpointDaily:
    r = Reader(data, "")
    return EndpointDaily(
        method=r.str("method"),
        path=r.str("path"),
        timeframe=r.str("timeframe"),
        start=r.instant("from"),
        end=r.instant("to"),
        daily=r.list("daily", _daily),
        date=r.date("date", optional=True),
    )


def parse_next_billing(data: Any) -> NextBilling:
    r = Reader(data, "")
    return NextBilling(
        invoice_date=r.date("invoice_date", optional=True),
        amount_cents=r.int("amount_cents"),
        currency=r.str("currency"),
        plan_id=r.str("plan_id"),
        plan_name=r.str("plan_name"),
        payment_method=r.str("payment_method", optional=True),
    )


def _history_entry(r: Reader) -> HistoryEntry:
    return HistoryEntry(
        id=r.str("id"),
        at=r.instant("at"),
        kind=r.str("kind"),
        description=r.str("description", multiline=True),
        status=r.str("status"),
        amount_cents=r.int("amount_cents", optional=True, signed=True),
        currency=r.str("currency", optional=True),
        reference=r.str("reference", optional=True),
    )


def parse_history(data: Any) -> HistoryPage:
    r = Reader(data, "")
    return HistoryPage(
        items=r.list("items", _history_entry), next_cursor=r.str("next_cursor", optional=True)
    )


def _request(r: Reader) -> RequestRecord:
    return RequestRecord(
        id=r.int("id"),
        at=r.instant("at"),
        method=r.str("method"),
        path=r.str("path"),
        status=r.int("status"),
        latency_ms=r.float("latency_ms"),
        bytes=r.int("bytes"),
        retry_after=r.float("retry_after", optional=True),
        instance=r.str("instance", optional=True),
    )


def parse_second_counts(data: Any) -> SecondCounts:
    r = Reader(data, "")
    requests = r.counts("requests", max_length=SECONDS_MAX)
    throttled = r.counts("throttled", max_length=SECONDS_MAX)
    if len(requests) != len(throttled):
        raise BadPayload("fields 'requests' and 'throttled' differ in length", field="throttled")
    return SecondCounts(
        start=r.instant("from"),
        requests=requests,
        throttled=throttled,
        limit_per_minute=r.int("limit_per_minute", optional=True),
    )


def parse_request_log(data: Any) -> RequestLogPage:
    r = Reader(data, "")
    return RequestLogPage(
        log_id=r.str("log_id"),
        requests=r.list("requests", _request),
        newest_id=r.int("newest_id", optional=True),
        truncated=r.bool("truncated"),
    )


# ---- dump: model -> wire (served by the demo backend) -----------------------------------------


def dump_profile(p: Profile) -> dict[str, Any]:
    return {
        "id": p.id,
        "email": p.email,
        "name": p.name,
        "organization": p.organization,
        "created_at": iso(p.created_at),
    }


def dump_token_info(t: TokenInfo) -> dict[str, Any]:
    return {
        "token_id": t.token_id,
        "masked": t.masked,
        "issued_at": iso(t.issued_at),
        "last_used_at": _iso_opt(t.last_used_at),
    }


def dump_regenerated(t: RegeneratedToken) -> dict[str, Any]:
    return {**dump_token_info(t.info), "token": t.token.reveal()}


def dump_plan(p: Plan) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "price_cents": p.price_cents,
        "currency": p.currency,
        "quota": p.quota,
        "quota_period": p.quota_period,
        "rate_limit_per_minute": p.rate_limit_per_minute,
        "streams_included": p.streams_included,
        "stream_connection_limit": p.stream_connection_limit,
    }


def dump_subscription(s: Subscription) -> dict[str, Any]:
    return {
        "plan": dump_plan(s.plan),
        "status": s.status,
        "tokens_used": s.tokens_used,
        "period_start": iso(s.period_start),
        "resets_at": iso(s.resets_at),
    }


def dump_live(u: LiveUsage) -> dict[str, Any]:
    return {
        "at": iso(u.at),
        "requests_per_minute": u.requests_per_minute,
        "limit_per_minute": u.limit_per_minute,
        "interval_seconds": u.interval_seconds,
        "series": [
            {"at": iso(b.at), "requests": b.requests, "throttled": b.throttled} for b in u.series
        ],
        "throttled_in_window": u.throttled_in_window,
        "streams": None
        if u.streams is None
        else {
            "connections_open": u.streams.connections_open,
            "connection_limit": u.streams.connection_limit,
            "messages_per_minute": u.streams.messages_per_minute,
        },
    }


def dump_summary(s: MetricsSummary) -> dict[str, Any]:
    return {
        "avg_daily_requests": round(s.avg_daily_requests, 2),
        "avg_latency_ms": round(s.avg_latency_ms, 2),
        "error_rate": round(s.error_rate, 6),
        "rate_limit_hits": s.rate_limit_hits,
    }


def _dump_daily(d: DailyMetric) -> dict[str, Any]:
    return {
        "date": d.date.isoformat(),
        "requests": d.requests,
        "avg_latency_ms": round(d.avg_latency_ms, 2),
        "errors": d.errors,
        "rate_limited": d.rate_limited,
    }


def dump_metrics(m: Metrics) -> dict[str, Any]:
    return {
        "days": m.days,
        "from": m.start.isoformat(),
        "to": m.end.isoformat(),
        "summary": dump_summary(m.summary),
        "previous_summary": None
        if m.previous_summary is None
        else dump_summary(m.previous_summary),
        "daily": [_dump_daily(d) for d in m.daily],
    }


def dump_endpoint_daily(e: EndpointDaily) -> dict[str, Any]:
    return {
        "method": e.method,
        "path": e.path,
        "timeframe": e.timeframe,
        "date": None if e.date is None else e.date.isoformat(),
        "from": iso(e.start),
        "to": iso(e.end),
        "daily": [_dump_daily(d) for d in e.daily],
    }


def dump_endpoint_usage(r: EndpointUsageReport) -> dict[str, Any]:
    return {
        "timeframe": r.timeframe,
        "date": None if r.date is None else r.date.isoformat(),
        "from": iso(r.start),
        "to": iso(r.end),
        "endpoints": [
            {
                "method": e.method,
                "path": e.path,
                "requests": e.requests,
                "errors": e.errors,
                "throttled": e.throttled,
                "avg_latency_ms": round(e.avg_latency_ms, 2),
                "calls_per_hour": round(e.calls_per_hour, 3),
                "mean_interval_s": None
                if e.mean_interval_s is None
                else round(e.mean_interval_s, 2),
            }
            for e in r.endpoints
        ],
    }


def dump_next_billing(b: NextBilling) -> dict[str, Any]:
    return {
        "invoice_date": None if b.invoice_date is None else b.invoice_date.isoformat(),
        "amount_cents": b.amount_cents,
        "currency": b.currency,
        "plan_id": b.plan_id,
        "plan_name": b.plan_name,
        "payment_method": b.payment_method,
    }


def dump_history_entry(e: HistoryEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": iso(e.at),
        "kind": e.kind,
        "description": e.description,
        "status": e.status,
        "amount_cents": e.amount_cents,
        "currency": e.currency,
        "reference": e.reference,
    }


def dump_history(p: HistoryPage) -> dict[str, Any]:
    return {"items": [dump_history_entry(e) for e in p.items], "next_cursor": p.next_cursor}


def dump_request(q: RequestRecord) -> dict[str, Any]:
    return {
        "id": q.id,
        "at": _iso_ms(q.at),
        "method": q.method,
        "path": q.path,
        "status": q.status,
        "latency_ms": round(q.latency_ms, 1),
        "bytes": q.bytes,
        "retry_after": q.retry_after,
        "instance": q.instance,
    }


def dump_request_log(p: RequestLogPage) -> dict[str, Any]:
    return {
        "log_id": p.log_id,
        "requests": [dump_request(q) for q in p.requests],
        "newest_id": p.newest_id,
        "truncated": p.truncated,
    }


def dump_second_counts(c: SecondCounts) -> dict[str, Any]:
    return {
        "from": iso(c.start),
        "requests": list(c.requests),
        "throttled": list(c.throttled),
        "limit_per_minute": c.limit_per_minute,
    }
