"""`MeterSource`: the account-source interface (`ht_dash.api.source.AccountSource`) over a meter
store (SQLite or PostgreSQL), so the app and the commands show the bots' real traffic with
`--source meter`.

Same models as the API client. What the meter cannot know (profile, token, billing, history)
raises `NotAvailable` pointing back to the API. Queries run in a worker thread: the UI's event
loop never waits on the database. Every figure is aggregated in SQL; on a shared store it covers
all meters (instances), or only one token's records when a fingerprint filter is given.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from ht_dash.api.contract import DAY_TIMEFRAME
from ht_dash.api.errors import BadRequest, ConfigError, HtError, NetworkError, NotAvailable
from ht_dash.api.models import (
    TIMEFRAMES,
    DailyMetric,
    EndpointDaily,
    EndpointUsage,
    EndpointUsageReport,
    HistoryEntry,
    HistoryPage,
    InstanceRate,
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
from ht_dash.clock import Clock, SystemClock
from ht_dash.meter.store import (
    Store,
    StoreEmpty,
    StoreError,
    StoreUnavailable,
    default_sqlite_path,
    open_store,
)
from ht_dash.meter.store.sqlite import SqliteStore

T = TypeVar("T")

DEFAULT_PLAN_ID = "pulse"
PLAN_META_KEY = "plan"
STREAM_URL_META_KEY = "stream_url"  # where `ht-dash meter` takes bots' streams, saved at start
LIVE_INTERVAL_SECONDS = 15
_ERROR = "status >= 500 OR (status >= 400 AND status != 429)"
_THROTTLED = "SUM(CASE WHEN status = 429 THEN 1 ELSE 0 END)"
_API_HINT = "run ht-dash without --source meter to ask the account API"
_START_HINT = "start `ht-dash meter` and point your bot at http://127.0.0.1:8787/api/external"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _shown(name: str | None) -> str:
    """An instance name from the store, safe for a terminal (meters check theirs; a store is
    still data from outside)."""
    return _CONTROL.sub("", name or "")


class MeterUnreadable(HtError):
    title = "Meter database unreadable"


class MeterStoreUnreachable(NetworkError):
    """A shared store (PostgreSQL) cannot be reached: retried like any network problem."""

    title = "Meter store unreachable"


def default_db_path() -> Path:
    return default_sqlite_path()


def _store_of(where: Path | Store | None) -> Store:
    if isinstance(where, Store):
        return where
    return SqliteStore(where or default_db_path())


def set_plan(plan_id: str, path: Path | Store | None = None) -> Plan:
    """Remember which plan the bot's token is on (for quota and limit); returns the plan."""
    plan = validate_plan(plan_id)
    store = _store_of(path)
    try:
        store.open_for_writing()
        store.set_meta(PLAN_META_KEY, plan.id)
    finally:
        if not isinstance(path, Store):
            store.close()
    return plan


def saved_plan(path: Path | Store | None = None) -> Plan:
    """The plan saved with `ht-dash meter --plan`, else the default (Pulse)."""
    store = _store_of(path)
    plan_id = None
    if store.exists():
        try:
            plan_id = store.get_meta(PLAN_META_KEY)
        finally:
            if not isinstance(path, Store):
                store.close()
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
    """Contract timeframes, UTC: today, week (from Monday), month (from the 1st), 30d and 90d (the
    last 30 or 90 UTC days, today included: the days `metrics` counts, as the contract says)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if timeframe == "today":
        return midnight, now
    if timeframe == "week":
        return midnight - timedelta(days=midnight.weekday()), now
    if timeframe == "month":
        return midnight.replace(day=1), now
    if timeframe == "30d":
        return midnight - timedelta(days=29), now
    if timeframe == "90d":
        return midnight - timedelta(days=89), now
    raise BadRequest(
        f"timeframe must be one of {', '.join(TIMEFRAMES)}, got {timeframe!r}", status=400
    )


def nearest_rank(sorted_values: list[float], q: float) -> float:
    return sorted_values[max(1, math.ceil(q * len(sorted_values))) - 1]


# How many of a day's hours an endpoint was called in: the bits set in the OR of the masks.
_HOURS_IN_MASKS = " + ".join(f"MAX((hours_mask >> {bit}) & 1)" for bit in range(24))


@dataclass(frozen=True)
class EndpointParts:
    """[start, end] cut into whole days, whole hours and the raw edges (half-open pairs)."""

    days: tuple[int, int]
    hours: tuple[int, int, int, int]
    raw: tuple[float, float, float, float]  # the second pair includes its end


def endpoint_parts(start: float, end: float) -> EndpointParts:
    first_hour, end_hour = math.ceil(start / 3600), math.floor(end / 3600)
    if first_hour >= end_hour:  # not one whole hour: all raw
        return EndpointParts((0, 0), (0, 0, 0, 0), (start, start, start, end))
    raw = (start, first_hour * 3600.0, end_hour * 3600.0, end)
    first_day, end_day = math.ceil(first_hour / 24), math.floor(end_hour / 24)
    if first_day >= end_day:
        return EndpointParts((0, 0), (first_hour, end_hour, 0, 0), raw)
    return EndpointParts(
        (first_day, end_day), (first_hour, first_day * 24, end_day * 24, end_hour), raw
    )


# Nearest-rank percentiles in SQL both dialects speak: rank ceil(q * n), in integer arithmetic.
_PERCENTILE_RANKS = ("(n + 1) / 2", "(95 * n + 99) / 100", "(99 * n + 99) / 100")


class MeterSource:
    """Reads a meter store. Implements `ht_dash.api.source.AccountSource`.

    `token_fp`: only the records made with that token (see `fingerprint_of`); None: all of them.
    """

    name = "meter"

    def __init__(
        self,
        store: Path | Store,
        *,
        clock: Clock | None = None,
        plan_id: str | None = None,
        token_fp: str | None = None,
    ) -> None:
        self.store = _store_of(store)
        self._clock = clock or SystemClock()
        self._plan_id = plan_id
        self.token_fp = token_fp
        self._checked = False
        self._file_identity: tuple[int, int] | None = None  # the SQLite file last read

    @property
    def path(self) -> Path | None:
        """The SQLite file, when the store is one."""
        return self.store.path if isinstance(self.store, SqliteStore) else None

    @classmethod
    def open_default(
        cls,
        *,
        clock: Clock | None = None,
        plan_id: str | None = None,
        store: str | None = None,
        token_fp: str | None = None,
    ) -> MeterSource:
        """The configured store (`meter_store`), else the SQLite file `ht-dash meter` writes."""
        return cls(open_store(store), clock=clock, plan_id=plan_id, token_fp=token_fp)

    def __repr__(self) -> str:
        return f"MeterSource(store={self.store.label!r})"

    async def aclose(self) -> None:
        await asyncio.to_thread(self.store.close)

    async def __aenter__(self) -> MeterSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def fingerprint_of(self, token: str) -> str:
        """The fingerprint the meters on this store give `token` (their shared key); pass it as
        `token_fp` to read only that token's records."""
        return await self._query(lambda store: store.fingerprint(token))

    # ---- plumbing ----------------------------------------------------------------------------

    async def _query(self, work: Callable[[Store], T]) -> T:
        return await asyncio.to_thread(self._query_sync, work)

    def _query_sync(self, work: Callable[[Store], T]) -> T:
        store = self.store
        if not store.exists():
            raise NotAvailable(
                f"the meter has recorded nothing yet (no database at {store.label})",
                hint=_START_HINT,
            )
        try:
            if not self._checked:
                store.migrate(create=False)  # newer store: StoreTooNew; older SQLite: upgraded
                self._checked = True
            return work(store)
        except StoreEmpty:
            raise NotAvailable(
                f"the meter has recorded nothing yet into {store.label}", hint=_START_HINT
            ) from None
        except StoreUnavailable as exc:
            if not store.remote:
                raise MeterUnreadable(f"cannot read {store.label}: {exc.message}") from None
            raise MeterStoreUnreachable(
                exc.message, hint="is the database running, and reachable from here?"
            ) from None
        except StoreError as exc:
            raise MeterUnreadable(
                f"cannot read {store.label}: {exc.message}",
                hint="is it a meter store, and is it reachable?",
            ) from None

    def _follow_rotation(self) -> None:
        """A SQLite file deleted or replaced (rotated) while open: drop the connection to the old
        one, so the next query opens whatever is at the path now."""
        path = self.path
        if path is None:
            return
        try:
            stat = path.stat()
            identity: tuple[int, int] | None = (stat.st_dev, stat.st_ino)
        except OSError:
            identity = None
        if identity != self._file_identity:
            with self.store._lock:  # not while another feed's query uses the connection
                self.store.close()
            self._checked = False
            self._file_identity = identity

    def _token_filter(self) -> tuple[str, tuple]:
        return (" AND token_fp = ?", (self.token_fp,)) if self.token_fp else ("", ())

    def plan(self, store: Store | None = None) -> Plan:
        """The plan given to the source, else the one `ht-dash meter --plan` saved, else Pulse."""
        plan_id = self._plan_id
        if plan_id is None and store is not None:
            plan_id = store.get_meta(PLAN_META_KEY)
        return validate_plan(plan_id or DEFAULT_PLAN_ID)

    # ---- what the meter knows ----------------------------------------------------------------

    async def live(
        self, window_minutes: int = 15, *, interval_seconds: int = LIVE_INTERVAL_SECONDS
    ) -> LiveUsage:
        """Requests in the last 60 s exactly, a series of `interval_seconds` buckets, and each
        instance's share."""
        if not 1 <= window_minutes <= 60:
            raise BadRequest("window_minutes must be between 1 and 60", status=400)
        if interval_seconds < 1 or (60 * window_minutes) % interval_seconds:
            raise BadRequest("interval_seconds must divide the window", status=400)
        interval_seconds = int(interval_seconds)
        now = self._clock.now()
        end = now.timestamp()
        buckets = 60 * window_minutes // interval_seconds
        last_start = end // interval_seconds * interval_seconds
        first = last_start - (buckets - 1) * interval_seconds
        token_sql, token_params = self._token_filter()

        def work(store: Store) -> LiveUsage:
            counts = {
                int(index): (int(requests), int(throttled))
                for index, requests, throttled in store.query(
                    f"SELECT {store.bucket('ts - ?', interval_seconds)}, COUNT(*), {_THROTTLED}"
                    f" FROM requests WHERE ts >= ? AND ts <= ?{token_sql} GROUP BY 1",
                    (first, first, end, *token_params),
                )
            }
            instances = tuple(
                InstanceRate(_shown(name), int(per_minute), int(requests), int(throttled))
                for name, per_minute, requests, throttled in store.query(
                    "SELECT instance, SUM(CASE WHEN ts > ? THEN 1 ELSE 0 END) AS per_minute,"
                    f" COUNT(*), {_THROTTLED} FROM requests"
                    f" WHERE ts >= ? AND ts <= ?{token_sql}"
                    " GROUP BY instance ORDER BY per_minute DESC, instance",
                    (end - 60, min(first, end - 60), end, *token_params),
                )
            )
            series = tuple(
                LiveBucket(
                    at=datetime.fromtimestamp(first + i * interval_seconds, UTC),
                    requests=counts.get(i, (0, 0))[0],
                    throttled=counts.get(i, (0, 0))[1],
                )
                for i in range(buckets)
            )
            plan = self.plan(store)
            return LiveUsage(
                at=now,
                requests_per_minute=sum(i.requests_per_minute for i in instances),
                limit_per_minute=plan.rate_limit_per_minute,
                interval_seconds=interval_seconds,
                series=series,
                throttled_in_window=sum(b.throttled for b in series),
                streams=stream_usage(store, plan, end),
                instances=instances,
            )

        return await self._query(work)

    def _window(
        self, timeframe: str, day: date | None
    ) -> tuple[str, date | None, datetime, datetime]:
        """(timeframe echoed, day, start, end) of a timeframe, or of one UTC day up to now."""
        now = self._clock.now()
        if day is None:
            return (timeframe, None, *timeframe_window(timeframe, now))
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return DAY_TIMEFRAME, day, start, min(now, start + timedelta(days=1))

    async def endpoint_usage(
        self, timeframe: str = "30d", date: date | None = None, *, by_instance: bool = False
    ) -> EndpointUsageReport:
        """Per method + path template; `by_instance`: split further by meter instance. `date`:
        one UTC day instead of the timeframe (the metrics screen's drill-down)."""
        timeframe, day, start, end = self._window(timeframe, date)
        token_sql, token_params = self._token_filter()
        split = "instance, " if by_instance else ""

        parts = endpoint_parts(start.timestamp(), end.timestamp())
        grouped = f"{split}method, path"
        sums = ", ".join(
            f"{agg}({column}) AS {column}"
            for agg, column in (
                ("SUM", "requests"),
                ("SUM", "errors"),
                ("SUM", "throttled"),
                ("SUM", "latency_ms_sum"),
                ("MIN", "first_ts"),
                ("MAX", "last_ts"),
            )
        )

        def work(store: Store) -> EndpointUsageReport:
            # Whole days from `endpoint_days` (hours called: the bits of the OR of their masks),
            # whole hours of the partial days from `hourly`, the partial hours from raw records:
            # the 30-day table reads ~30 sums per endpoint and host, not millions of rows.
            rows = store.query(
                f"SELECT {grouped}, SUM(requests) AS requests, SUM(errors), SUM(throttled),"
                " SUM(latency_ms_sum) / SUM(requests), MIN(first_ts), MAX(last_ts),"
                " SUM(active_hours) FROM ("
                f" SELECT {grouped}, {sums}, {_HOURS_IN_MASKS} AS active_hours"
                f" FROM endpoint_days WHERE unix_day >= ? AND unix_day < ?{token_sql}"
                f" GROUP BY unix_day, {grouped}"
                f" UNION ALL SELECT {grouped}, {sums}, 1 FROM hourly"
                f" WHERE ((hour >= ? AND hour < ?) OR (hour >= ? AND hour < ?)){token_sql}"
                f" GROUP BY hour, {grouped}"
                f" UNION ALL SELECT {grouped}, COUNT(*), SUM(CASE WHEN {_ERROR} THEN 1 ELSE 0 END),"
                f" {_THROTTLED}, SUM(latency_ms), MIN(ts), MAX(ts), 1 FROM requests"
                f" WHERE ((ts >= ? AND ts < ?) OR (ts >= ? AND ts <= ?)){token_sql}"
                f" GROUP BY {store.bucket('ts', 3600)}, {grouped}"
                f") parts GROUP BY {grouped} ORDER BY requests DESC, {grouped}",
                (
                    *parts.days,
                    *token_params,
                    *parts.hours,
                    *token_params,
                    *parts.raw,
                    *token_params,
                ),
            )
            endpoints = []
            for row in rows:
                instance = _shown(row[0]) if by_instance else None
                method, path, requests, errors, throttled, latency, first, last, active = row[
                    1 if by_instance else 0 :
                ]
                requests = int(requests)
                endpoints.append(
                    EndpointUsage(
                        method=method,
                        path=path,
                        requests=requests,
                        errors=int(errors),
                        throttled=int(throttled),
                        avg_latency_ms=float(latency),
                        calls_per_hour=requests / int(active),
                        mean_interval_s=(last - first) / (requests - 1) if requests > 1 else None,
                        instance=instance,
                    )
                )
            return EndpointUsageReport(
                timeframe=timeframe, start=start, end=end, endpoints=tuple(endpoints), date=day
            )

        return await self._query(work)

    async def endpoint_daily(
        self, method: str, path: str, timeframe: str = "30d", date: date | None = None
    ) -> EndpointDaily:
        """One endpoint per UTC day over the window `endpoint_usage` counts, from the same three
        parts (whole days, whole hours, raw edges), so the days add up to its row there. Days
        before the meter's first record are left out: unknown, not zero."""
        timeframe, day, start, end = self._window(timeframe, date)
        parts = endpoint_parts(start.timestamp(), end.timestamp())
        token_sql, token_params = self._token_filter()
        which = f" AND method = ? AND path = ?{token_sql}"
        mine = (method, path, *token_params)
        sums = "SUM(requests) AS n, SUM(errors) AS e, SUM(throttled) AS t, SUM(latency_ms_sum) AS l"

        def work(store: Store) -> EndpointDaily:
            rows = store.query(
                "SELECT d, SUM(n), SUM(e), SUM(t), SUM(l) FROM ("
                f" SELECT unix_day AS d, {sums} FROM endpoint_days"
                f" WHERE unix_day >= ? AND unix_day < ?{which} GROUP BY unix_day"
                f" UNION ALL SELECT {store.bucket('hour', 24)}, {sums} FROM hourly"
                f" WHERE ((hour >= ? AND hour < ?) OR (hour >= ? AND hour < ?)){which}"
                f" GROUP BY {store.bucket('hour', 24)}"
                f" UNION ALL SELECT {store.bucket('ts', 86400)}, COUNT(*),"
                f" SUM(CASE WHEN {_ERROR} THEN 1 ELSE 0 END), {_THROTTLED}, SUM(latency_ms)"
                f" FROM requests WHERE ((ts >= ? AND ts < ?) OR (ts >= ? AND ts <= ?)){which}"
                f" GROUP BY {store.bucket('ts', 86400)}"
                ") parts GROUP BY d",
                (*parts.days, *mine, *parts.hours, *mine, *parts.raw, *mine),
            )
            by_day = {int(d): (int(n), int(e), int(t), float(lat)) for d, n, e, t, lat in rows}
            (first_seen,) = store.query(
                f"SELECT MIN(day) FROM daily WHERE 1 = 1{token_sql}", token_params
            )[0]
            first = start.date()
            if first_seen is not None:
                first = max(first, datetime.fromisoformat(first_seen).date())
            daily = []
            at = datetime(first.year, first.month, first.day, tzinfo=UTC)
            while at < end:
                n, e, t, latency_sum = by_day.get(int(at.timestamp()) // 86400, (0, 0, 0, 0.0))
                daily.append(DailyMetric(at.date(), n, latency_sum / n if n else 0.0, e, t))
                at += timedelta(days=1)
            return EndpointDaily(method, path, timeframe, start, end, tuple(daily), day)

        return await self._query(work)

    async def second_counts(self, window_minutes: int = 15) -> SecondCounts:
        """The window's complete seconds: requests and 429s per second (for pacing advice)."""
        if not 1 <= window_minutes <= 60:
            raise BadRequest("window_minutes must be between 1 and 60", status=400)
        end = int(self._clock.now().timestamp())
        start = end - 60 * window_minutes
        token_sql, token_params = self._token_filter()

        def work(store: Store) -> SecondCounts:
            requests = [0] * (end - start)
            throttled = [0] * (end - start)
            for second, count, refused in store.query(
                f"SELECT {store.bucket('ts - ?', 1)}, COUNT(*), {_THROTTLED}"
                f" FROM requests WHERE ts >= ? AND ts < ?{token_sql} GROUP BY 1",
                (start, start, end, *token_params),
            ):
                requests[int(second)], throttled[int(second)] = int(count), int(refused)
            return SecondCounts(
                start=datetime.fromtimestamp(start, UTC),
                requests=tuple(requests),
                throttled=tuple(throttled),
                limit_per_minute=self.plan(store).rate_limit_per_minute,
            )

        return await self._query(work)

    async def recent_requests(
        self, after_id: int | None = None, limit: int = 1000
    ) -> RequestLogPage:
        """Requests with id > after_id, newest first, by primary key (never the whole table).
        No store yet: an empty log (""), so a screen following the log picks the store up as
        soon as the meter creates it."""
        if not 1 <= limit <= 100_000:
            raise BadRequest("limit must be between 1 and 100000", status=400)
        await asyncio.to_thread(self._follow_rotation)
        if not self.store.exists():
            return RequestLogPage(log_id="", requests=(), newest_id=None, truncated=False)
        token_sql, token_params = self._token_filter()

        def work(store: Store) -> RequestLogPage:
            ((newest_id,),) = store.query(f"SELECT MAX(id) FROM requests WHERE 1 = 1{token_sql}",
                                          token_params)  # fmt: skip
            rows = store.query(
                "SELECT id, ts, method, path, status, latency_ms, bytes, retry_after, instance"
                f" FROM requests WHERE id > ?{token_sql} ORDER BY id DESC LIMIT ?",
                (-1 if after_id is None else after_id, *token_params, limit + 1),
            )
            records = tuple(
                RequestRecord(
                    id=int(rid),
                    at=datetime.fromtimestamp(round(ts, 3), UTC),
                    method=method,
                    path=path,
                    status=int(status),
                    latency_ms=float(latency),
                    bytes=int(size),
                    retry_after=retry_after,
                    instance=_shown(instance) or None,
                )
                for rid, ts, method, path, status, latency, size, retry_after, instance in rows[
                    :limit
                ]
            )
            return RequestLogPage(
                log_id=request_log_id(store),
                requests=records,
                newest_id=None if newest_id is None else int(newest_id),
                truncated=len(rows) > limit and after_id is not None,
            )

        return await self._query(work)

    async def latency_percentiles(
        self, timeframe: str = "30d"
    ) -> dict[str, tuple[float, float, float]]:
        """Beyond the interface: `{"GET /path": (p50, p95, p99)}` in milliseconds, nearest rank."""
        start, end = timeframe_window(timeframe, self._clock.now())
        token_sql, token_params = self._token_filter()
        picks = ", ".join(
            f"MAX(CASE WHEN rank = {rank} THEN latency_ms END)" for rank in _PERCENTILE_RANKS
        )

        def work(store: Store) -> dict[str, tuple[float, float, float]]:
            rows = store.query(
                f"SELECT method, path, {picks} FROM ("
                " SELECT method, path, latency_ms,"
                " ROW_NUMBER() OVER (PARTITION BY method, path ORDER BY latency_ms) AS rank,"
                " COUNT(*) OVER (PARTITION BY method, path) AS n"
                f" FROM requests WHERE ts >= ? AND ts <= ?{token_sql}"
                ") ranked GROUP BY method, path",
                (start.timestamp(), end.timestamp(), *token_params),
            )
            return {f"{m} {p}": (float(a), float(b), float(c)) for m, p, a, b, c in rows}

        return await self._query(work)

    async def metrics(self, days: int = 90) -> Metrics:
        if not 1 <= days <= 365:
            raise BadRequest("days must be between 1 and 365", status=400)
        today = self._clock.now().date()
        start = today - timedelta(days=days - 1)
        previous_start = start - timedelta(days=days)
        token_sql, token_params = self._token_filter()

        def work(store: Store) -> Metrics:
            rows = {
                date.fromisoformat(day): (int(requests), int(errors), int(throttled), float(lat))
                for day, requests, errors, throttled, lat in store.query(
                    "SELECT day, SUM(requests), SUM(errors), SUM(throttled), SUM(latency_ms_sum)"
                    f" FROM daily WHERE day >= ? AND day <= ?{token_sql}"
                    " GROUP BY day ORDER BY day",
                    (previous_start.isoformat(), today.isoformat(), *token_params),
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
        token_sql, token_params = self._token_filter()

        def work(store: Store) -> Subscription:
            plan = self.plan(store)
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            if plan.quota_period == "day":
                period_start, resets_at = midnight, midnight + timedelta(days=1)
            else:
                period_start = midnight.replace(day=1)
                resets_at = (period_start + timedelta(days=32)).replace(day=1)
            ((used,),) = store.query(
                f"SELECT COALESCE(SUM(ok), 0) FROM daily WHERE day >= ?{token_sql}",
                (period_start.date().isoformat(), *token_params),
            )
            return Subscription(
                plan=plan,
                status="active",
                tokens_used=int(used),
                period_start=period_start,
                resets_at=resets_at,
            )

        return await self._query(work)

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


def request_log_id(store: Store) -> str:
    """Names this store's log without revealing its salt: a new database, a new id."""
    import hashlib

    salt = store.get_meta("salt") or ""
    return hashlib.sha256(f"ht-dash request log {salt}".encode()).hexdigest()[:16]


def stream_usage(store: Store, plan: Plan, now: float) -> StreamUsage | None:
    """Streams the meters relayed: connections and subscriptions open at their last write (none
    when that is over a minute old: the meter stopped), publications in the last 60 s, estimated
    from per-minute counts. Before any stream: the URL to point the bot at, on a plan with streams.
    """
    from ht_dash.meter import DEFAULT_STREAM_URL
    from ht_dash.sanitize import terminal_safe

    minute = int(now // 60)
    latest = store.query("SELECT MAX(minute) FROM stream_minutes")[0][0]
    limit = plan.stream_connection_limit or 0
    if latest is None:
        if not plan.streams_included:
            return None
        saved = store.get_meta(
            STREAM_URL_META_KEY
        )  # the store's text: data, never terminal control
        url = terminal_safe(saved) if saved else DEFAULT_STREAM_URL
        return StreamUsage(0, limit, 0, subscriptions=0, not_seen_at=url)
    # each meter's (instance's) own last write, if it is recent: meters write once a minute while
    # a stream is open, so an older one has stopped
    connections, subscriptions = store.query(
        "SELECT COALESCE(SUM(s.connections), 0), COALESCE(SUM(s.subscriptions), 0)"
        " FROM stream_minutes s JOIN (SELECT instance, MAX(minute) AS last FROM stream_minutes"
        " WHERE minute >= ? GROUP BY instance) l ON s.instance = l.instance AND s.minute = l.last",
        (minute - 1,),
    )[0]
    current, previous = store.query(
        "SELECT COALESCE(SUM(CASE WHEN minute = ? THEN messages END), 0),"
        " COALESCE(SUM(CASE WHEN minute = ? THEN messages END), 0)"
        " FROM stream_minutes WHERE minute >= ?",
        (minute, minute - 1, minute - 1),
    )[0]
    # the last 60 s: this minute so far, and the part of the previous one still inside the window
    per_minute = int(current) + int(previous) * (1 - (now - minute * 60) / 60)
    return StreamUsage(int(connections), limit, round(per_minute), subscriptions=int(subscriptions))


def _summary(rows: list[tuple[int, int, int, float]], days: int) -> MetricsSummary:
    requests = sum(r[0] for r in rows)
    return MetricsSummary(
        avg_daily_requests=requests / days if days > 0 else 0.0,
        avg_latency_ms=sum(r[3] for r in rows) / requests if requests else 0.0,
        error_rate=sum(r[1] for r in rows) / requests if requests else 0.0,
        rate_limit_hits=sum(r[2] for r in rows),
    )
