"""What every meter store shares: the record, the schema and its migrations, the SQL both dialects
speak, and the interface the recorder (writes) and `MeterSource` (reads) use.

A store is one database: SQLite (embedded, the default) or PostgreSQL (shared by a team's meters).
SQL is written once with `?` placeholders; a `Dialect` supplies the few fragments that differ.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ht_dash.api.errors import ConfigError, HtError

SCHEMA_VERSION = 3
FINGERPRINT_HEX = 8
RETENTION_CHUNK = 10_000  # rows per DELETE: retention never holds a long lock


class Record(NamedTuple):
    ts: float
    method: str
    path: str
    status: int
    latency_ms: float
    bytes: int
    retry_after: float | None
    token_fp: str | None
    failure: str | None = None


REQUEST_COLUMNS = (
    "ts, method, path, status, latency_ms, bytes, retry_after, token_fp, failure, instance"
)


class StreamMinute(NamedTuple):
    """Stream counts of one minute for one channel: gauges are replaced, counters added up."""

    minute: int  # unix seconds // 60, UTC
    channel: str  # channel template; '' for the connections themselves
    connections: int  # '' row: stream connections open at the minute's last write
    subscriptions: int  # channel rows: subscriptions open at the minute's last write
    messages: int  # publications pushed to bots ('' row: ones without a channel)
    bytes: int  # '' row: all message bytes both ways; channel rows: their share


def is_error(status: int) -> bool:
    return status >= 500 or (400 <= status < 500 and status != 429)


def is_ok(status: int) -> bool:
    """A response that spent a usage token, as far as the meter can tell: 2xx only."""
    return 200 <= status < 300


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def fingerprint(salt: bytes, credential: str) -> str:
    """Short keyed hash of a token: tells keys apart, cannot be turned back into the token."""
    digest = hmac.new(salt, credential.encode("utf-8", "surrogateescape"), hashlib.sha256)
    return digest.hexdigest()[:FINGERPRINT_HEX]


def rollups(batch: Iterable[Record], instance: str) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """A batch's sums for the upserts: `daily` (day, token), `hourly` and `endpoint_days`
    (hour or day, token, endpoint; a day's row marks the hours it was called in a bit mask)."""
    days: dict[tuple[str, str], list] = {}
    hours: dict[tuple[int, str, str, str], list] = {}
    endpoint_days: dict[tuple[int, str, str, str], list] = {}
    last_index = -1
    day = ""
    for record in batch:
        ts = record.ts
        day_index = int(ts) // 86400
        if day_index != last_index:  # most batches fall within one day: format once
            day = utc_day(ts)
            last_index = day_index
        fp = record.token_fp or ""
        status = record.status
        ok = 1 if is_ok(status) else 0
        throttled = 1 if status == 429 else 0
        error = 1 if is_error(status) else 0
        row = days.get((day, fp))
        if row is None:
            days[(day, fp)] = [1, ok, error, throttled, record.latency_ms]
        else:
            row[0] += 1
            row[1] += ok
            row[2] += error
            row[3] += throttled
            row[4] += record.latency_ms
        hour = int(ts // 3600)
        for sums, key, extra in (
            (hours, (hour, fp, record.method, record.path), None),
            (endpoint_days, (hour // 24, fp, record.method, record.path), 1 << (hour % 24)),
        ):
            row = sums.get(key)
            if row is None:
                sums[key] = [1, error, throttled, record.latency_ms, ts, ts, extra]
            else:
                row[0] += 1
                row[1] += error
                row[2] += throttled
                row[3] += record.latency_ms
                row[4] = min(row[4], ts)
                row[5] = max(row[5], ts)
                if extra is not None:
                    row[6] |= extra
    # Sorted: meters sharing rows (one --instance on two hosts) lock them in the same order.
    daily = [(d, instance, fp, *r) for (d, fp), r in sorted(days.items())]
    hourly = [(h, instance, fp, m, p, *r[:6]) for (h, fp, m, p), r in sorted(hours.items())]
    by_day = [(d, instance, fp, m, p, *r) for (d, fp, m, p), r in sorted(endpoint_days.items())]
    return daily, hourly, by_day


# ---- errors ------------------------------------------------------------------------------------


class StoreError(HtError):
    title = "Meter store error"


class StoreUnavailable(StoreError):
    """The store cannot be reached right now (refused, restarting, connection lost)."""

    title = "Meter store unreachable"


class StoreTooNew(ConfigError):
    """The store was written by a newer ht-dash: exit 2 rather than guess at its schema."""


class StoreEmpty(StoreError):
    """No meter has written to this store yet."""


# ---- dialects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    name: str
    placeholder: str  # what `?` becomes
    begin: str  # starts a write transaction
    least: str  # the smaller of two values (scalar)
    greatest: str
    id_column: str  # the requests table's surrogate key
    bucket: Callable[[str, str], str]  # (expression, width) -> integer bucket index

    def sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)


SQLITE = Dialect(
    "sqlite",
    "?",
    "BEGIN IMMEDIATE",  # take the write lock at once, waiting up to the busy timeout
    "MIN",
    "MAX",
    "id INTEGER PRIMARY KEY",
    lambda expr, width: f"CAST(({expr}) / {width} AS INTEGER)",
)
POSTGRES = Dialect(
    "postgresql",
    "%s",
    "BEGIN",
    "LEAST",
    "GREATEST",
    "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    lambda expr, width: f"CAST(floor(({expr}) / {width}) AS BIGINT)",
)


# ---- schema ------------------------------------------------------------------------------------

# Version 1 is the schema of the first SQLite meter; later versions are steps from it, so one list
# creates a new store and upgrades an old one alike.
_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    {id_column},
    ts DOUBLE PRECISION NOT NULL,      -- unix seconds, when the request arrived
    method TEXT NOT NULL,
    path TEXT NOT NULL,                -- template, e.g. /segments/{{id}}/summary
    status INTEGER NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,  -- until the response headers arrived
    bytes BIGINT NOT NULL,             -- response body bytes sent to the bot
    retry_after DOUBLE PRECISION,      -- seconds, on 429
    token_fp TEXT,                     -- keyed fingerprint of the token, never the token
    failure TEXT                       -- set when the meter answered itself
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
CREATE TABLE IF NOT EXISTS daily (
    day TEXT PRIMARY KEY,
    requests BIGINT NOT NULL,
    ok BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    throttled BIGINT NOT NULL,
    latency_ms_sum DOUBLE PRECISION NOT NULL
);
"""

# Version 2: each record names its meter (instance); daily sums per day, instance and token;
# hourly and daily sums per endpoint, which the endpoint table reads instead of millions of rows.
_V2 = """
ALTER TABLE requests ADD COLUMN instance TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS requests_fp_ts ON requests (token_fp, ts);
CREATE TABLE daily_v2 (
    day TEXT NOT NULL,                 -- UTC date, YYYY-MM-DD
    instance TEXT NOT NULL,            -- the meter's --instance
    token_fp TEXT NOT NULL,            -- '' when the request carried no token
    requests BIGINT NOT NULL,
    ok BIGINT NOT NULL,                -- 2xx: usage tokens spent, as far as the meter can tell
    errors BIGINT NOT NULL,            -- 5xx and 4xx other than 429
    throttled BIGINT NOT NULL,         -- 429
    latency_ms_sum DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (day, instance, token_fp)
);
INSERT INTO daily_v2 SELECT day, '', '', requests, ok, errors, throttled, latency_ms_sum FROM daily;
DROP TABLE daily;
ALTER TABLE daily_v2 RENAME TO daily;
CREATE TABLE hourly (
    hour BIGINT NOT NULL,              -- floor(ts / 3600)
    instance TEXT NOT NULL,
    token_fp TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    throttled BIGINT NOT NULL,
    latency_ms_sum DOUBLE PRECISION NOT NULL,
    first_ts DOUBLE PRECISION NOT NULL,
    last_ts DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (hour, instance, token_fp, method, path)
);
INSERT INTO hourly
SELECT {hour}, instance, COALESCE(token_fp, ''), method, path, COUNT(*),
       SUM(CASE WHEN status >= 500 OR (status >= 400 AND status != 429) THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 429 THEN 1 ELSE 0 END), SUM(latency_ms), MIN(ts), MAX(ts)
FROM requests GROUP BY 1, 2, 3, 4, 5;
CREATE TABLE endpoint_days (
    unix_day BIGINT NOT NULL,          -- floor(ts / 86400)
    instance TEXT NOT NULL,
    token_fp TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    throttled BIGINT NOT NULL,
    latency_ms_sum DOUBLE PRECISION NOT NULL,
    first_ts DOUBLE PRECISION NOT NULL,
    last_ts DOUBLE PRECISION NOT NULL,
    hours_mask BIGINT NOT NULL,        -- bit h set: called in the day's UTC hour h
    PRIMARY KEY (unix_day, instance, token_fp, method, path)
);
INSERT INTO endpoint_days
SELECT {day}, instance, COALESCE(token_fp, ''), method, path, COUNT(*),
       SUM(CASE WHEN status >= 500 OR (status >= 400 AND status != 429) THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 429 THEN 1 ELSE 0 END), SUM(latency_ms), MIN(ts), MAX(ts),
       SUM(DISTINCT CAST(1 AS BIGINT) << CAST({hour} - {day} * 24 AS INTEGER))
FROM requests GROUP BY 1, 2, 3, 4, 5;
"""

# Version 3: the WebSocket streams the meter relays, per minute, instance and channel.
_V3 = """
CREATE TABLE stream_minutes (
    minute BIGINT NOT NULL,            -- unix seconds // 60, UTC
    instance TEXT NOT NULL,
    channel TEXT NOT NULL,             -- channel template; '' for the connections themselves
    connections BIGINT NOT NULL,       -- '' row: stream connections open at the minute's last write
    subscriptions BIGINT NOT NULL,     -- channel rows: subscriptions open at the last write
    messages BIGINT NOT NULL,          -- publications pushed to bots
    bytes BIGINT NOT NULL,             -- message bytes both ways
    PRIMARY KEY (minute, instance, channel)
);
"""

MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _V1), (2, _V2), (3, _V3))
MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, "
    "applied_at DOUBLE PRECISION NOT NULL, by_version TEXT NOT NULL)"
)

INSERT_DAILY = (
    "INSERT INTO daily (day, instance, token_fp, requests, ok, errors, throttled, latency_ms_sum)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, instance, token_fp) DO UPDATE SET"
    " requests = daily.requests + excluded.requests, ok = daily.ok + excluded.ok,"
    " errors = daily.errors + excluded.errors,"
    " throttled = daily.throttled + excluded.throttled,"
    " latency_ms_sum = daily.latency_ms_sum + excluded.latency_ms_sum"
)
UPSERT_HOURLY = (
    "INSERT INTO hourly (hour, instance, token_fp, method, path, requests, errors, throttled,"
    " latency_ms_sum, first_ts, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (hour, instance, token_fp, method, path) DO UPDATE SET"
    " requests = hourly.requests + excluded.requests,"
    " errors = hourly.errors + excluded.errors,"
    " throttled = hourly.throttled + excluded.throttled,"
    " latency_ms_sum = hourly.latency_ms_sum + excluded.latency_ms_sum,"
    " first_ts = {least}(hourly.first_ts, excluded.first_ts),"
    " last_ts = {greatest}(hourly.last_ts, excluded.last_ts)"
)
UPSERT_ENDPOINT_DAYS = (
    "INSERT INTO endpoint_days (unix_day, instance, token_fp, method, path, requests, errors,"
    " throttled, latency_ms_sum, first_ts, last_ts, hours_mask)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (unix_day, instance, token_fp, method, path) DO UPDATE SET"
    " requests = endpoint_days.requests + excluded.requests,"
    " errors = endpoint_days.errors + excluded.errors,"
    " throttled = endpoint_days.throttled + excluded.throttled,"
    " latency_ms_sum = endpoint_days.latency_ms_sum + excluded.latency_ms_sum,"
    " first_ts = {least}(endpoint_days.first_ts, excluded.first_ts),"
    " last_ts = {greatest}(endpoint_days.last_ts, excluded.last_ts),"
    " hours_mask = endpoint_days.hours_mask | excluded.hours_mask"
)
UPSERT_STREAM_MINUTES = (
    "INSERT INTO stream_minutes (minute, instance, channel, connections, subscriptions, messages,"
    " bytes) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (minute, instance, channel) DO UPDATE SET"
    " connections = excluded.connections, subscriptions = excluded.subscriptions,"
    " messages = stream_minutes.messages + excluded.messages,"
    " bytes = stream_minutes.bytes + excluded.bytes"
)
DELETE_OLD_REQUESTS = (
    "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE ts < ? ORDER BY id LIMIT ?)"
)


def statements(script: str) -> list[str]:
    """A script's statements (no semicolons inside literals in our schema)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def too_new(found: int) -> StoreTooNew:
    return StoreTooNew(
        f"the meter store has schema version {found}; this ht-dash knows up to {SCHEMA_VERSION}",
        hint="it was written by a newer ht-dash: upgrade ht-dash on this machine",
    )


# ---- the interface -----------------------------------------------------------------------------


class Store(ABC):
    """One meter database on one connection, used by one caller at a time (a lock). The recorder's
    writer thread and a reader each have their own store object."""

    dialect: Dialect
    # True: a write that fails because the store is unreachable is kept and retried (PostgreSQL
    # restarts); False: it is dropped and counted (a locked or full SQLite file).
    keeps_batches_when_down: bool = False
    remote: bool = False  # reached over the network: unreachable is a network problem

    def __init__(self) -> None:
        self._conn: Any = None
        self._salt: bytes | None = None
        self._lock = threading.RLock()

    # -- what each dialect provides

    @property
    @abstractmethod
    def label(self) -> str:
        """Where the store is, safe to print: never a password."""

    @abstractmethod
    def _connect(self) -> Any:
        """A new DB-API connection in autocommit mode; StoreUnavailable when unreachable."""

    @abstractmethod
    def _insert_requests(self, cur: Any, rows: Sequence[tuple]) -> None: ...

    @abstractmethod
    def _lock_schema(self, cur: Any) -> None:
        """Within the migration transaction: keep other meters from migrating at the same time."""

    @abstractmethod
    def _has_table(self, cur: Any, name: str) -> bool: ...

    @abstractmethod
    def translate(self, exc: BaseException) -> BaseException | None:
        """A driver exception as a StoreError (scrubbed of secrets); None if it is not the
        driver's."""

    @abstractmethod
    def open_for_writing(self) -> None:
        """Create the store if needed and bring its schema up to date (the recorder, --plan)."""

    def exists(self) -> bool:
        """Whether there can be anything to read without creating it (SQLite: the file)."""
        return True

    # -- connection

    def connection(self) -> Any:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection: nothing left to do
                conn.close()

    def _run(self, work: Callable[[Any], Any]) -> Any:
        """`work(cursor)` on the connection, one caller at a time; driver errors become
        StoreErrors, a lost connection is dropped so that the next call reconnects."""
        with self._lock:
            return self._run_locked(work)

    def _run_locked(self, work: Callable[[Any], Any]) -> Any:
        try:
            conn = self.connection()
            cur = conn.cursor()
            try:
                return work(cur)
            finally:
                cur.close()
        except StoreError:
            raise
        except Exception as exc:
            error = self.translate(exc)
            if error is None:
                raise
            if isinstance(error, StoreUnavailable):
                self.close()
            raise error from None

    def _transaction(self, work: Callable[[Any], Any]) -> Any:
        def in_transaction(cur: Any) -> Any:
            cur.execute(self.dialect.begin)
            try:
                result = work(cur)
            except BaseException:
                with contextlib.suppress(Exception):  # connection gone: the server rolls back
                    cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
            return result

        return self._run(in_transaction)

    # -- schema

    def schema_version(self) -> int:
        """The version found: 0 for an empty store (the first SQLite meter wrote version 1 in
        `meta` only)."""

        def work(cur: Any) -> int:
            return self._version(cur)

        return self._run(work)

    def _version(self, cur: Any) -> int:
        if self._has_table(cur, "migrations"):
            cur.execute("SELECT MAX(version) FROM migrations")
            (found,) = cur.fetchone()
            if found is not None:
                return int(found)
        if self._has_table(cur, "meta"):
            cur.execute(
                self.dialect.sql("SELECT value FROM meta WHERE key = ?"), ("schema_version",)
            )
            row = cur.fetchone()
            return int(row[0]) if row else 0
        return 0

    def migrate(self, *, create: bool = True) -> int:
        """Bring the schema to SCHEMA_VERSION (one transaction). A newer store: StoreTooNew.
        `create=False` (readers): an empty store is StoreEmpty, nothing is created."""
        found = self.schema_version()
        if found > SCHEMA_VERSION:
            raise too_new(found)
        if found == SCHEMA_VERSION:
            return found
        if found == 0 and not create:
            raise StoreEmpty(f"no meter has recorded into {self.label} yet")

        def work(cur: Any) -> int:
            self._lock_schema(cur)
            current = self._version(cur)  # another meter may have migrated meanwhile
            if current > SCHEMA_VERSION:
                raise too_new(current)
            cur.execute(MIGRATIONS_TABLE)
            from ht_dash import __version__

            for version, script in MIGRATIONS:
                if version <= current:
                    continue
                script = script.format(
                    id_column=self.dialect.id_column,
                    hour=self.dialect.bucket("ts", 3600),
                    day=self.dialect.bucket("ts", 86400),
                )
                for statement in statements(script):
                    cur.execute(statement)
                cur.execute(
                    self.dialect.sql(
                        "INSERT INTO migrations (version, applied_at, by_version) VALUES (?, ?, ?)"
                    ),
                    (version, time.time(), __version__),
                )
            # A store of the first meter knew its version only from `meta`: record it.
            cur.execute(
                self.dialect.sql(
                    "INSERT INTO migrations (version, applied_at, by_version) VALUES (?, ?, ?)"
                    " ON CONFLICT (version) DO NOTHING"
                ),
                (1, time.time(), __version__),
            )
            cur.execute(
                self.dialect.sql(
                    "INSERT INTO meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                ("schema_version", str(SCHEMA_VERSION)),
            )
            cur.execute(
                self.dialect.sql(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
                ),
                ("salt", secrets.token_hex(16)),
            )
            return SCHEMA_VERSION

        return self._transaction(work)

    # -- meta

    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.query(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
            fetch=False,
        )

    def salt(self) -> bytes:
        """The fingerprint key, created with the store: every meter on it shares it."""
        if self._salt is None:
            value = self.get_meta("salt")
            if not value:
                raise StoreEmpty(f"{self.label} has no fingerprint key yet")
            self._salt = bytes.fromhex(value)
        return self._salt

    def fingerprint(self, credential: str) -> str:
        return fingerprint(self.salt(), credential)

    # -- writing (the recorder's thread)

    def write_batch(
        self, batch: Sequence[Record], instance: str, streams: Sequence[StreamMinute] = ()
    ) -> None:
        """All records, their sums and the streams' minute counts in one transaction."""
        rows = [(*record, instance) for record in batch]
        stream_rows = [(row.minute, instance, *row[1:]) for row in streams]
        daily, hourly, endpoint_days = rollups(batch, instance)
        dialect = self.dialect
        upsert_daily = dialect.sql(INSERT_DAILY)
        upsert_hourly, upsert_endpoint_days = (
            dialect.sql(sql.format(least=dialect.least, greatest=dialect.greatest))
            for sql in (UPSERT_HOURLY, UPSERT_ENDPOINT_DAYS)
        )

        def work(cur: Any) -> None:
            self._insert_requests(cur, rows)
            cur.executemany(upsert_daily, daily)
            cur.executemany(upsert_hourly, hourly)
            cur.executemany(upsert_endpoint_days, endpoint_days)
            if stream_rows:
                cur.executemany(dialect.sql(UPSERT_STREAM_MINUTES), stream_rows)

        self._transaction(work)

    def delete_requests_before(self, ts: float, chunk: int = RETENTION_CHUNK) -> int:
        """One bounded chunk of retention, its own transaction; returns the rows deleted."""
        sql = self.dialect.sql(DELETE_OLD_REQUESTS)

        def work(cur: Any) -> int:
            cur.execute(sql, (ts, chunk))
            return cur.rowcount

        return self._transaction(work)

    def delete_sums_before(self, ts: float, day: str) -> None:
        """Endpoint sums older than `ts`, daily sums before `day` (small tables)."""

        def work(cur: Any) -> None:
            cur.execute(self.dialect.sql("DELETE FROM hourly WHERE hour < ?"), (int(ts // 3600),))
            cur.execute(
                self.dialect.sql("DELETE FROM endpoint_days WHERE unix_day < ?"),
                (int(ts // 86400),),
            )
            cur.execute(self.dialect.sql("DELETE FROM daily WHERE day < ?"), (day,))
            cur.execute(
                self.dialect.sql("DELETE FROM stream_minutes WHERE minute < ?"), (int(ts // 60),)
            )

        self._transaction(work)

    # -- reading

    def query(self, sql: str, params: Sequence[Any] = (), *, fetch: bool = True) -> list[tuple]:
        """One statement, `?` placeholders, serialised with other callers of this store."""
        text = self.dialect.sql(sql)

        def work(cur: Any) -> list[tuple]:
            cur.execute(text, tuple(params))
            return cur.fetchall() if fetch else []

        return self._run(work)

    def bucket(self, expr: str, width: int | float | str) -> str:
        return self.dialect.bucket(expr, width)
