"""`MeterSource`: the account-source interface (`ht_dash.api.source.AccountSource`) over the meter's
database, so the app and the commands show the bot's real traffic with `--source meter`.

Same models as the API client. What the meter cannot know (profile, token, billing, history)
raises `NotAvailable` pointing back to the API. Queries run in a worker thread: the UI's event
loop never waits on SQLite.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from ht_dash.api.contract import DAY_TIMEFRAME
from ht_dash.api.errors import BadRequest, ConfigError, HtError, NotAvailable
from ht_dash.api.models import (
    TIMEFRAMES,
    DailyMetric,
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
from ht_dash.clock import Clock, SystemClock
from ht_dash.meter.recorder import DB_FILENAME, connect, read_meta, write_meta

T = TypeVar("T")

DEFAULT_PLAN_ID = "pulse"
PLAN_META_KEY = "plan"
STREAM_URL_META_KEY = "stream_url"  # where `ht-dash meter` takes bots' streams, saved at start
LIVE_INTERVAL_SECONDS = 15
_ERROR_SQL = "(status >= 500 OR (status >= 400 AND status != 429))"
_API_HINT = "run ht-dash without --source meter to ask the account API"


class MeterUnreadable(HtError):
    title = "Meter database unreadable"


def default_db_path() -> Path:
    from ht_dash.paths import data_dir

    return data_dir() / DB_FILENAME


def set_plan(plan_id: str, path: Path | None = None) -> Plan:
    """Remember which plan the bot's token is on (for quota and limit); returns the plan."""
    plan = validate_plan(plan_id)
    write_meta(path or default_db_path(), PLAN_META_KEY, plan.id)
    return plan


def saved_plan(path: Path | None = None) -> Plan:
    """The plan saved with `ht-dash meter --plan`, else the default (Pulse)."""
    path = path or default_db_path()
    plan_id = None
    if path.exists():
        conn = connect(path)
        try:
            plan_id = read_meta(conn, PLAN_META_KEY)
        finally:
            conn.close()
    return validate_plan(plan_id or DEFAULT_PLAN_ID)


def validate_plan(plan_id: str) -> Plan:
    """The public plan with this id; ConfigError naming the known ids otherwise."""
    from ht_dash.api.plans import PLANS, plan_by_id

    plan = plan_by_id(plan_id)
    if plan is None:
        known = ", ".join(p.id for p in PLANS)
        raise ConfigError(f"unknown plan {plan_id!r}", hint=f"known plans: {known}")
    return plan


def timeframe_window(timeframe: str, now: datetime) -> tuple[datetime, datetime]:
    """Contract timeframes, UTC: today, week (from Monday), month (from the 1st), 30d, 90d."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if timeframe == "today":
        return midnight, now
    if timeframe == "week":
        return midnight - timedelta(days=midnight.weekday()), now
    if timeframe == "month":
        return midnight.replace(day=1), now
    if timeframe == "30d":
        return now - timedelta(days=30), now
    if timeframe == "90d":
        return now - timedelta(days=90), now
    raise BadRequest(
        f"timeframe must be one of {', '.join(TIMEFRAMES)}, got {timeframe!r}", status=400
    )


def nearest_rank(sorted_values: list[float], q: float) -> float:
    import math

    return sorted_values[max(1, math.ceil(q * len(sorted_values))) - 1]


class MeterSource:
    """Reads the meter database. Implements `ht_dash.api.source.AccountSource`."""

    name = "meter"

    def __init__(
        self, path: Path, *, clock: Clock | None = None, plan_id: str | None = None
    ) -> None:
        self.path = path
        self._clock = clock or SystemClock()
        self._plan_id = plan_id

    @classmethod
    def open_default(cls, *, clock: Clock | None = None, plan_id: str | None = None) -> MeterSource:
        """The meter database in the data directory (where `ht-dash meter` writes)."""
        return cls(default_db_path(), clock=clock, plan_id=plan_id)

    def __repr__(self) -> str:
        return f"MeterSource(path={str(self.path)!r})"

    def set_token(self, token: Secret | None) -> None:
        """The meter's database needs no token (`AccountSource` asks every source to take one)."""

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> MeterSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- plumbing ----------------------------------------------------------------------------

    async def _query(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._query_sync, work)

    def _query_sync(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if not self.path.exists():
            raise NotAvailable(
                f"the meter has recorded nothing yet (no database at {self.path})",
                hint="start `ht-dash meter` and point your bot at http://127.0.0.1:8787/api/external",
            )
        try:
            conn = connect(self.path)
        except sqlite3.Error as exc:
            raise MeterUnreadable(f"cannot open {self.path}: {exc}") from None
        try:
            return work(conn)
        except sqlite3.Error as exc:
            raise MeterUnreadable(
                f"cannot read {self.path}: {exc}", hint="is the file a meter database?"
            ) from None
        finally:
            conn.close()

    def plan(self, conn: sqlite3.Connection | None = None) -> Plan:
        """The plan given to the source, else the one `ht-dash meter --plan` saved, else Pulse."""
        plan_id = self._plan_id
        if plan_id is None and conn is not None:
            plan_id = read_meta(conn, PLAN_META_KEY)
        return validate_plan(plan_id or DEFAULT_PLAN_ID)

    # ---- what the meter knows ----------------------------------------------------------------

    async def live(
        self, window_minutes: int = 15, *, interval_seconds: int = LIVE_INTERVAL_SECONDS
    ) -> LiveUsage:
        """Requests in the last 60 s exactly, and a series of `interval_seconds` buckets."""
        if not 1 <= window_minutes <= 60:
            raise BadRequest("window_minutes must be between 1 and 60", status=400)
        if interval_seconds < 1 or (60 * window_minutes) % interval_seconds:
            raise BadRequest("interval_seconds must divide the window", status=400)
        now = self._clock.now()
        end = now.timestamp()
        buckets = 60 * window_minutes // interval_seconds
        last_start = end // interval_seconds * interval_seconds
        first = last_start - (buckets - 1) * interval_seconds

        def work(conn: sqlite3.Connection) -> LiveUsage:
            counts = {
                int(index): (requests, throttled)
                for index, requests, throttled in conn.execute(
                    "SELECT CAST((ts - ?) / ? AS INTEGER), COUNT(*),"
                    " SUM(CASE WHEN status = 429 THEN 1 ELSE 0 END)"
                    " FROM requests WHERE ts >= ? AND ts <= ? GROUP BY 1",
                    (first, interval_seconds, first, end),
                )
            }
            (per_minute,) = conn.execute(
                "SELECT COUNT(*) FROM requests WHERE ts > ? AND ts <= ?", (end - 60, end)
            ).fetchone()
            series = tuple(
                LiveBucket(
                    at=datetime.fromtimestamp(first + i * interval_seconds, UTC),
                    requests=counts.get(i, (0, 0))[0],
                    throttled=counts.get(i, (0, 0))[1],
                )
                for i in range(buckets)
            )
            plan = self.plan(conn)
            return LiveUsage(
                at=now,
                requests_per_minute=per_minute,
                limit_per_minute=plan.rate_limit_per_minute,
                interval_seconds=interval_seconds,
                series=series,
                throttled_in_window=sum(b.throttled for b in series),
                streams=stream_usage(conn, plan, end),
            )

        return await self._query(work)

    async def endpoint_usage(
        self, timeframe: str = "30d", date: date | None = None
    ) -> EndpointUsageReport:
        now = self._clock.now()
        if date is not None:  # one UTC day (drill-down from the metrics screen)
            start = datetime(date.year, date.month, date.day, tzinfo=UTC)
            end = min(now, start + timedelta(days=1))
            timeframe = DAY_TIMEFRAME
        else:
            start, end = timeframe_window(timeframe, now)
        day = date

        def work(conn: sqlite3.Connection) -> EndpointUsageReport:
            rows = conn.execute(
                "SELECT method, path, COUNT(*),"
                f" SUM(CASE WHEN {_ERROR_SQL} THEN 1 ELSE 0 END),"
                " SUM(CASE WHEN status = 429 THEN 1 ELSE 0 END),"
                " AVG(latency_ms), MIN(ts), MAX(ts), COUNT(DISTINCT CAST(ts / 3600 AS INTEGER))"
                " FROM requests WHERE ts >= ? AND ts <= ?"
                " GROUP BY method, path ORDER BY 3 DESC, method, path",
                (start.timestamp(), end.timestamp()),
            ).fetchall()
            endpoints = tuple(
                EndpointUsage(
                    method=method,
                    path=path,
                    requests=requests,
                    errors=errors,
                    throttled=throttled,
                    avg_latency_ms=avg_latency,
                    calls_per_hour=requests / hours,
                    mean_interval_s=(last - first) / (requests - 1) if requests > 1 else None,
                )
                for (
                    method,
                    path,
                    requests,
                    errors,
                    throttled,
                    avg_latency,
                    first,
                    last,
                    hours,
                ) in rows
            )
            return EndpointUsageReport(
                timeframe=timeframe, start=start, end=end, endpoints=endpoints, date=day
            )

        return await self._query(work)

    async def latency_percentiles(
        self, timeframe: str = "30d"
    ) -> dict[str, tuple[float, float, float]]:
        """Beyond the interface: `{"GET /path": (p50, p95, p99)}` in milliseconds, nearest rank."""
        start, end = timeframe_window(timeframe, self._clock.now())

        def work(conn: sqlite3.Connection) -> dict[str, tuple[float, float, float]]:
            result: dict[str, tuple[float, float, float]] = {}
            key = None
            values: list[float] = []
            cursor = conn.execute(
                "SELECT method || ' ' || path, latency_ms FROM requests WHERE ts >= ? AND ts <= ?"
                " ORDER BY 1, 2",
                (start.timestamp(), end.timestamp()),
            )
            for row_key, latency in cursor:
                if row_key != key:
                    if key is not None:
                        result[key] = _p50_95_99(values)
                    key, values = row_key, []
                values.append(latency)
            if key is not None:
                result[key] = _p50_95_99(values)
            return result

        return await self._query(work)

    async def metrics(self, days: int = 90) -> Metrics:
        if not 1 <= days <= 365:
            raise BadRequest("days must be between 1 and 365", status=400)
        today = self._clock.now().date()
        start = today - timedelta(days=days - 1)
        previous_start = start - timedelta(days=days)

        def work(conn: sqlite3.Connection) -> Metrics:
            rows = {
                date.fromisoformat(day): (requests, errors, throttled, latency_sum)
                for day, requests, errors, throttled, latency_sum in conn.execute(
                    "SELECT day, requests, errors, throttled, latency_ms_sum FROM daily"
                    " WHERE day >= ? AND day <= ? ORDER BY day",
                    (previous_start.isoformat(), today.isoformat()),
                )
            }
            first_day = min(rows) if rows else today
            daily = []
            for offset in range(days):
                day = start + timedelta(days=offset)
                if day < first_day:  # before the meter saw anything: unknown, not zero
                    continue
                requests, errors, throttled, latency_sum = rows.get(day, (0, 0, 0, 0.0))
                daily.append(
                    DailyMetric(
                        date=day,
                        requests=requests,
                        avg_latency_ms=latency_sum / requests if requests else 0.0,
                        errors=errors,
                        rate_limited=throttled,
                    )
                )
            previous = [v for d, v in rows.items() if d < start]
            return Metrics(
                days=days,
                start=start,
                end=today,
                summary=_summary(
                    [
                        (r.requests, r.errors, r.rate_limited, r.avg_latency_ms * r.requests)
                        for r in daily
                    ],
                    len(daily),
                ),
                previous_summary=(
                    _summary(previous, (start - max(first_day, previous_start)).days)
                    if previous
                    else None
                ),
                daily=tuple(daily),
            )

        return await self._query(work)

    async def subscription(self) -> Subscription:
        """The plan (see `plan()`), and usage tokens counted locally: one per 2xx response."""
        now = self._clock.now()

        def work(conn: sqlite3.Connection) -> Subscription:
            plan = self.plan(conn)
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            if plan.quota_period == "day":
                period_start, resets_at = midnight, midnight + timedelta(days=1)
            else:
                period_start = midnight.replace(day=1)
                resets_at = (period_start + timedelta(days=32)).replace(day=1)
            (used,) = conn.execute(
                "SELECT COALESCE(SUM(ok), 0) FROM daily WHERE day >= ?",
                (period_start.date().isoformat(),),
            ).fetchone()
            return Subscription(
                plan=plan,
                status="active",
                tokens_used=used,
                period_start=period_start,
                resets_at=resets_at,
            )

        return await self._query(work)

    async def second_counts(self, window_minutes: int = 15) -> SecondCounts:
        """The window's complete seconds: requests and 429s per second (for pacing advice)."""
        if not 1 <= window_minutes <= 60:
            raise BadRequest("window_minutes must be between 1 and 60", status=400)
        end = int(self._clock.now().timestamp())
        start = end - 60 * window_minutes

        def work(conn: sqlite3.Connection) -> SecondCounts:
            requests = [0] * (end - start)
            throttled = [0] * (end - start)
            for second, count, refused in conn.execute(
                "SELECT CAST(ts AS INTEGER), COUNT(*),"
                " SUM(CASE WHEN status = 429 THEN 1 ELSE 0 END)"
                " FROM requests WHERE ts >= ? AND ts < ? GROUP BY 1",
                (start, end),
            ):
                requests[second - start], throttled[second - start] = count, refused
            return SecondCounts(
                start=datetime.fromtimestamp(start, UTC),
                requests=tuple(requests),
                throttled=tuple(throttled),
                limit_per_minute=self.plan(conn).rate_limit_per_minute,
            )

        return await self._query(work)

    async def recent_requests(
        self, after_id: int | None = None, limit: int = 1000
    ) -> RequestLogPage:
        """Requests with id > after_id, newest first. No database yet: an empty log (""), so a
        screen following the log picks the database up as soon as the meter creates it."""
        if not 1 <= limit <= 100_000:
            raise BadRequest("limit must be between 1 and 100000", status=400)
        if not self.path.exists():
            return RequestLogPage(log_id="", requests=(), newest_id=None, truncated=False)
        return await self._query(lambda conn: read_request_log(conn, after_id, limit))

    # ---- what it cannot know -----------------------------------------------------------------

    def _not_available(self, what: str) -> NotAvailable:
        return NotAvailable(
            f"the local meter cannot know {what}: it only sees your bot's requests", hint=_API_HINT
        )

    async def profile(self) -> Profile:
        raise self._not_available("the account's profile")

    async def token_info(self) -> TokenInfo:
        raise self._not_available("the token's details (it stores only a fingerprint)")

    async def regenerate_token(self) -> RegeneratedToken:
        raise self._not_available("how to regenerate a token")

    async def next_billing(self) -> NextBilling:
        raise self._not_available("billing")

    async def history(
        self, *, kind: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> HistoryPage:
        raise self._not_available("billing and support history")

    async def iter_history(
        self, *, kind: str | None = None, limit: int = 200
    ) -> AsyncIterator[HistoryEntry]:
        raise self._not_available("billing and support history")
        yield  # pragma: no cover - makes this an async generator like the client's


def request_log_id(conn: sqlite3.Connection) -> str:
    """Names this database's log without revealing its salt: a new database, a new id."""
    import hashlib

    salt = read_meta(conn, "salt") or ""
    return hashlib.sha256(f"ht-dash request log {salt}".encode()).hexdigest()[:16]


def read_request_log(
    conn: sqlite3.Connection, after_id: int | None, limit: int
) -> RequestLogPage:
    """The request log page over the SQLite schema: by primary key, never the whole table."""
    (newest_id,) = conn.execute("SELECT MAX(id) FROM requests").fetchone()
    rows = conn.execute(
        "SELECT id, ts, method, path, status, latency_ms, bytes, retry_after FROM requests"
        " WHERE id > ? ORDER BY id DESC LIMIT ?",
        (-1 if after_id is None else after_id, limit + 1),
    ).fetchall()
    records = tuple(
        RequestRecord(
            id=rid,
            at=datetime.fromtimestamp(round(ts, 3), UTC),
            method=method,
            path=path,
            status=status,
            latency_ms=latency,
            bytes=size,
            retry_after=retry_after,
            instance=None,
        )
        for rid, ts, method, path, status, latency, size, retry_after in rows[:limit]
    )
    return RequestLogPage(
        log_id=request_log_id(conn),
        requests=records,
        newest_id=newest_id,
        truncated=len(rows) > limit and after_id is not None,
    )


def stream_usage(conn: sqlite3.Connection, plan: Plan, now: float) -> StreamUsage | None:
    """Streams the meter relayed: connections and subscriptions open at its last write (none when
    that is over a minute old: the meter stopped), publications in the last 60 s, estimated from
    per-minute counts. Before any stream: the URL to point the bot at, on a plan with streams."""
    from ht_dash.meter import DEFAULT_LISTEN, STREAM_PATH

    minute = int(now // 60)
    try:
        latest = conn.execute("SELECT MAX(minute) FROM stream_minutes").fetchone()[0]
    except sqlite3.OperationalError:  # a database from before streams were counted
        latest = None
    limit = plan.stream_connection_limit or 0
    if latest is None:
        if not plan.streams_included:
            return None
        url = read_meta(conn, STREAM_URL_META_KEY) or f"ws://{DEFAULT_LISTEN}{STREAM_PATH}"
        return StreamUsage(0, limit, 0, subscriptions=0, not_seen_at=url)
    connections = subscriptions = 0
    if latest >= minute - 1:
        connections, subscriptions = conn.execute(
            "SELECT COALESCE(SUM(connections), 0), COALESCE(SUM(subscriptions), 0)"
            " FROM stream_minutes WHERE minute = ?",
            (latest,),
        ).fetchone()
    current, previous = conn.execute(
        "SELECT COALESCE(SUM(CASE WHEN minute = ? THEN messages END), 0),"
        " COALESCE(SUM(CASE WHEN minute = ? THEN messages END), 0)"
        " FROM stream_minutes WHERE minute >= ?",
        (minute, minute - 1, minute - 1),
    ).fetchone()
    # the last 60 s: this minute so far, and the part of the previous one still inside the window
    per_minute = current + previous * (1 - (now - minute * 60) / 60)
    return StreamUsage(connections, limit, round(per_minute), subscriptions=subscriptions)


def _p50_95_99(values: list[float]) -> tuple[float, float, float]:
    return nearest_rank(values, 0.50), nearest_rank(values, 0.95), nearest_rank(values, 0.99)


def _summary(rows: list[tuple[int, int, int, float]], days: int) -> MetricsSummary:
    requests = sum(r[0] for r in rows)
    return MetricsSummary(
        avg_daily_requests=requests / days if days > 0 else 0.0,
        avg_latency_ms=sum(r[3] for r in rows) / requests if requests else 0.0,
        error_rate=sum(r[1] for r in rows) / requests if requests else 0.0,
        rate_limit_hits=sum(r[2] for r in rows),
    )
