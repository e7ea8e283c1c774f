"""The meter's SQLite store: requests appended from the proxy's hot path, written in batches.

The proxy only appends to an in-memory deque; a background thread writes batches in WAL mode and
keeps daily aggregates. When the database is locked, full or read-only, forwarding is unaffected:
the batch is dropped and counted, and the reason is kept for the live line.

What is stored per request: time, method, path template, status, latency, response bytes,
`retry_after` on 429, a short keyed fingerprint of the token (never the token), and why the meter
itself answered (upstream unreachable / timeout) when it did.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from ht_dash.meter import DEFAULT_RETENTION_DAYS

SCHEMA_VERSION = 1
DB_FILENAME = "meter.sqlite3"
DAILY_RETENTION_DAYS = 400  # daily aggregates are tiny; keep them for `metrics --days 365`
FINGERPRINT_HEX = 8
BUSY_TIMEOUT_MS = 2000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,              -- unix seconds, when the request arrived
    method TEXT NOT NULL,
    path TEXT NOT NULL,            -- template, e.g. /segments/{id}/summary
    status INTEGER NOT NULL,
    latency_ms REAL NOT NULL,      -- until the response headers arrived
    bytes INTEGER NOT NULL,        -- response body bytes sent to the bot
    retry_after REAL,              -- seconds, on 429
    token_fp TEXT,                 -- keyed fingerprint of the token, never the token
    failure TEXT                   -- set when the meter answered itself: unreachable, timeout, ...
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
CREATE TABLE IF NOT EXISTS daily (
    day TEXT PRIMARY KEY,          -- UTC date, YYYY-MM-DD
    requests INTEGER NOT NULL,
    ok INTEGER NOT NULL,           -- 2xx: usage tokens spent, as far as the meter can tell
    errors INTEGER NOT NULL,       -- 5xx and 4xx other than 429
    throttled INTEGER NOT NULL,    -- 429
    latency_ms_sum REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_minutes (
    minute INTEGER NOT NULL,       -- unix seconds // 60, UTC
    channel TEXT NOT NULL,         -- channel template; '' for the connections themselves
    connections INTEGER NOT NULL,  -- '' row: stream connections open at the minute's last write
    subscriptions INTEGER NOT NULL,-- channel rows: subscriptions open at the minute's last write
    messages INTEGER NOT NULL,     -- publications pushed to bots ('' row: ones without a channel)
    bytes INTEGER NOT NULL,        -- '' row: all message bytes both ways; channel rows: their share
    PRIMARY KEY (minute, channel)
);
"""


class StreamMinute(NamedTuple):
    """Counts of one minute for one channel: gauges are replaced, counters added up."""

    minute: int
    channel: str
    connections: int
    subscriptions: int
    messages: int
    bytes: int


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


def is_error(status: int) -> bool:
    return status >= 500 or (400 <= status < 500 and status != 429)


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def connect(path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A connection that waits up to `busy_timeout_ms` for a lock held by another process."""
    # Handed from the opening thread to the writer thread, never used by two at once.
    conn = sqlite3.connect(
        path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return conn


def open_database(path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """Open (creating if needed) the meter database and its schema, in WAL mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path, busy_timeout_ms)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?)", (secrets.token_hex(16),)
        )
    except BaseException:
        conn.close()
        raise
    return conn


def read_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def write_meta(path: Path, key: str, value: str) -> None:
    conn = open_database(path)
    try:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
    finally:
        conn.close()


class Recorder:
    """Batched, thread-backed writer. `add()` is all the hot path does."""

    def __init__(
        self,
        path: Path,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        flush_interval: float = 0.25,
        max_pending: int = 500_000,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        self.path = path
        self.retention_days = retention_days
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.busy_timeout_ms = busy_timeout_ms
        self.added = 0
        self.written = 0
        self.dropped = 0
        self.last_error: str | None = None  # why records were last dropped
        self._pending: deque[Record] = deque()
        self._stream_rows: deque[StreamMinute] = deque(maxlen=100_000)
        self._stream_added = self._stream_done = 0  # rows handed over / written or dropped
        self._conn: sqlite3.Connection | None = None
        self._salt = secrets.token_bytes(16)  # replaced by the database's salt once opened
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._next_retention = 0.0

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the database (a failure is reported, not raised) and start the writer thread."""
        self._open()
        self._thread = threading.Thread(target=self._run, name="ht-dash-meter-writer", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write everything still pending, then stop the writer."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:
            self._write_pending()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- hot path ----------------------------------------------------------------------------

    def add(self, record: Record) -> None:
        self.added += 1
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            self.last_error = "the writer cannot keep up (too many records pending)"
            return
        self._pending.append(record)

    def add_streams(self, rows: Iterable[StreamMinute]) -> None:
        """Stream counts of a minute (a few rows a second at most: never dropped for volume)."""
        before = len(self._stream_rows)
        self._stream_rows.extend(rows)
        self._stream_added += len(self._stream_rows) - before
        self._wake.set()

    def fingerprint(self, credential: str) -> str:
        """Short keyed hash of a token: tells keys apart, cannot be turned back into the token."""
        digest = hmac.new(self._salt, credential.encode("utf-8", "surrogateescape"), hashlib.sha256)
        return digest.hexdigest()[:FINGERPRINT_HEX]

    @property
    def pending(self) -> int:
        """Records added but not yet written or dropped."""
        return self.added - self.written - self.dropped

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything added so far is written (or dropped). True if it got there."""
        if self._thread is None:
            self._write_pending()
            return True
        target = self.added
        deadline = time.monotonic() + timeout
        with self._idle:
            stream_target = self._stream_added
            while self.written + self.dropped < target or self._stream_done < stream_target:
                self._wake.set()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.05))
        return True

    # ---- writer thread -----------------------------------------------------------------------

    def _open(self) -> bool:
        try:
            self._conn = open_database(self.path, self.busy_timeout_ms)
            salt = read_meta(self._conn, "salt")
            if salt:
                self._salt = bytes.fromhex(salt)
            return True
        except (sqlite3.Error, OSError, ValueError) as exc:
            self._conn = None
            self.last_error = f"cannot open {self.path}: {exc}"
            return False

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self._write_pending()
        self._write_pending()

    def _write_pending(self) -> None:
        pending = self._pending
        if self._stream_rows and not pending:
            self._write([])
        while pending:
            batch: list[Record] = []
            try:
                while len(batch) < 20_000:
                    batch.append(pending.popleft())
            except IndexError:
                pass
            self._write(batch)
        with self._idle:
            self._idle.notify_all()

    def _write(self, batch: list[Record]) -> None:
        if self._conn is None and not self._open():
            self.dropped += len(batch)
            self._stream_done += len(self._stream_rows)
            self._stream_rows.clear()
            return
        assert self._conn is not None
        streams = []
        while self._stream_rows:
            streams.append(self._stream_rows.popleft())
        try:
            self._write_rows(batch, streams)
        finally:
            self._stream_done += len(streams)

    def _write_rows(self, batch: list[Record], streams: list[StreamMinute]) -> None:
        assert self._conn is not None
        try:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO requests (ts, method, path, status, latency_ms, bytes,"
                    " retry_after, token_fp, failure) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    batch,
                )
                conn.executemany(
                    "INSERT INTO daily (day, requests, ok, errors, throttled, latency_ms_sum)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (day) DO UPDATE SET"
                    " requests = requests + excluded.requests, ok = ok + excluded.ok,"
                    " errors = errors + excluded.errors,"
                    " throttled = throttled + excluded.throttled,"
                    " latency_ms_sum = latency_ms_sum + excluded.latency_ms_sum",
                    _daily_rows(batch),
                )
                conn.executemany(
                    "INSERT INTO stream_minutes (minute, channel, connections, subscriptions,"
                    " messages, bytes) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (minute, channel)"
                    " DO UPDATE SET connections = excluded.connections,"
                    " subscriptions = excluded.subscriptions,"
                    " messages = messages + excluded.messages, bytes = bytes + excluded.bytes",
                    streams,
                )
                self._apply_retention(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except Exception as exc:  # sqlite3.Error above all; the writer thread must never die
            self.dropped += len(batch)
            self.last_error = f"{exc} ({self.path.name})"
            if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                exc, sqlite3.OperationalError
            ):
                self._reset_connection()
            return
        self.written += len(batch)

    def _reset_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None

    def _apply_retention(self, conn: sqlite3.Connection) -> None:
        now = time.time()
        if now < self._next_retention:
            return
        self._next_retention = now + 3600
        conn.execute("DELETE FROM requests WHERE ts < ?", (now - self.retention_days * 86400,))
        conn.execute(
            "DELETE FROM stream_minutes WHERE minute < ?",
            ((now - self.retention_days * 86400) // 60,),
        )
        daily_days = max(DAILY_RETENTION_DAYS, self.retention_days)
        conn.execute("DELETE FROM daily WHERE day < ?", (utc_day(now - daily_days * 86400),))


def _daily_rows(batch: Iterable[Record]) -> list[tuple[str, int, int, int, int, float]]:
    days: dict[str, list] = {}
    last_index = -1
    day = ""
    for record in batch:
        day_index = int(record.ts) // 86400
        if day_index != last_index:  # most batches fall within one day: format once
            day = utc_day(record.ts)
            last_index = day_index
        row = days.get(day)
        if row is None:
            row = days[day] = [0, 0, 0, 0, 0.0]
        status = record.status
        row[0] += 1
        if 200 <= status < 300:
            row[1] += 1
        elif status == 429:
            row[3] += 1
        elif is_error(status):
            row[2] += 1
        row[4] += record.latency_ms
    return [(d, r[0], r[1], r[2], r[3], r[4]) for d, r in days.items()]
