"""The meter's recorder: requests appended from the proxy's hot path, written in batches by a
thread into a store (`ht_dash.meter.store`: SQLite by default, PostgreSQL for a team).

The proxy only appends to an in-memory deque (bounded: `max_pending`); the writer thread saves
batches, each in one transaction together with the daily sums. The proxy never waits on the store:
- SQLite locked, full or read-only: the batch is dropped and counted, the reason kept for the
  live line (a local disk problem does not fix itself by waiting);
- PostgreSQL unreachable or restarting: records wait in the deque and go in when it is back; only
  past `max_pending` are new records dropped and counted.

What is stored per request: time, method, path template, status, latency, response bytes,
`retry_after` on 429, the meter's instance name, a short keyed fingerprint of the token (never the
token), and why the meter itself answered (upstream unreachable / timeout) when it did.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

from ht_dash.meter import DEFAULT_RETENTION_DAYS
from ht_dash.meter.store import Store, StoreError, StoreUnavailable
from ht_dash.meter.store.base import (
    RETENTION_CHUNK,
    Record,
    StreamMinute,
    fingerprint,
    is_error,
    is_ok,
    utc_day,
)
from ht_dash.meter.store.sqlite import BUSY_TIMEOUT_MS, DB_FILENAME, SqliteStore

__all__ = [
    "DB_FILENAME",
    "MAX_PENDING",
    "Record",
    "Recorder",
    "StreamMinute",
    "default_instance",
    "is_error",
    "is_ok",
    "utc_day",
]

DAILY_RETENTION_DAYS = 400  # daily aggregates are tiny; keep them for `metrics --days 365`
MAX_PENDING = 500_000  # records waiting for the store; past it new ones are dropped and counted
BATCH_SIZE = 20_000
RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 5.0)  # between attempts while the store is unreachable


def default_instance() -> str:
    return socket.gethostname() or "meter"


class _LateFingerprint:
    """A token seen before the store's fingerprint key could be read (PostgreSQL down at start):
    fingerprinted by the writer once the key is known. Held in memory only, never printed."""

    __slots__ = ("credential",)

    def __init__(self, credential: str) -> None:
        self.credential = credential

    def __repr__(self) -> str:
        return "<fingerprint pending>"


class Recorder:
    """Batched, thread-backed writer. `add()` is all the hot path does."""

    def __init__(
        self,
        store: Store | Path,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        flush_interval: float = 0.25,
        max_pending: int = MAX_PENDING,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        instance: str | None = None,
        observer: Callable[[Record], None] | None = None,
    ) -> None:
        if isinstance(store, Path):
            store = SqliteStore(store, busy_timeout_ms=busy_timeout_ms)
        self.store = store
        self.retention_days = retention_days
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.instance = instance or default_instance()
        self.observer = observer  # sees every record on the hot path (Prometheus counters)
        self.added = 0
        self.written = 0
        self.dropped = 0
        self.last_error: str | None = None  # why records were last dropped, or are waiting
        self.waiting_for_store = False  # PostgreSQL unreachable: records wait in the queue
        self._pending: deque[Record] = deque()
        # streams' minute counts (a few rows a second at most), written with the next batch
        self._stream_rows: deque[StreamMinute] = deque(maxlen=100_000)
        self._stream_added = self._stream_done = 0
        self._opened = False
        self._salt: bytes | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._next_retention = 0.0
        self._drain_deadline = 0.0
        self._late_fingerprints = False  # some records wait for the store's fingerprint key

    @property
    def path(self) -> Path | None:
        """The SQLite file, when the store is one."""
        return self.store.path if isinstance(self.store, SqliteStore) else None

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the store (a failure is reported, not raised — except a store from a newer
        ht-dash, StoreTooNew) and start the writer thread."""
        self._open()
        self._thread = threading.Thread(target=self._run, name="ht-dash-meter-writer", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write everything still pending (trying for up to `timeout` s), then stop the writer."""
        self._drain_deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout + 1)
            self._thread = None
        else:
            self._write_pending()
        self.store.close()

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- hot path ----------------------------------------------------------------------------

    def add(self, record: Record) -> None:
        self.added += 1
        if self.observer is not None:
            self.observer(record)
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            self.last_error = (
                f"the store is unreachable and {self.max_pending:,} records wait already"
                if self.waiting_for_store
                else "the writer cannot keep up (too many records pending)"
            )
            return
        self._pending.append(record)

    def add_streams(self, rows: Iterable[StreamMinute]) -> None:
        """Stream counts of a minute, from the stream relay."""
        before = len(self._stream_rows)
        self._stream_rows.extend(rows)
        self._stream_added += len(self._stream_rows) - before
        self._wake.set()

    def fingerprint(self, credential: str) -> str:
        """Short keyed hash of a token: tells keys apart, cannot be turned back into the token."""
        if self._salt is None:
            self._late_fingerprints = True
            return _LateFingerprint(credential)  # type: ignore[return-value]
        return fingerprint(self._salt, credential)

    @property
    def pending(self) -> int:
        """Records added but not yet written or dropped."""
        return self.added - self.written - self.dropped

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything added so far is written (or dropped). True if it got there."""
        if self._thread is None:
            self._write_pending()
            return self.written + self.dropped >= self.added
        target, stream_target = self.added, self._stream_added
        deadline = time.monotonic() + timeout
        with self._idle:
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
            self.store.open_for_writing()
            self._salt = self.store.salt()
        except StoreError as exc:  # StoreTooNew is a ConfigError: it stops the meter
            self.store.close()
            self._note_down(exc)
            return False
        self._opened = True
        self.waiting_for_store = False
        return True

    def _note_down(self, exc: StoreError) -> None:
        self.last_error = exc.message
        if self.store.keeps_batches_when_down:
            self.waiting_for_store = True

    def _run(self) -> None:
        while not self._stop.is_set():
            delay = self.flush_interval
            if self.waiting_for_store:
                delay = RETRY_DELAYS[min(self._failures, len(RETRY_DELAYS) - 1)]
            self._wake.wait(delay)
            self._wake.clear()
            self._write_pending()
        # Stopping: keep trying an unreachable store until close()'s deadline.
        deadline = self._drain_deadline
        while True:
            self._write_pending()
            if not self._pending or time.monotonic() >= deadline:
                break
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))

    def _write_pending(self) -> None:
        pending = self._pending
        try:
            if self._stream_rows and not pending:  # stream counts alone
                if self._opened or self._open():
                    self._write([])
                else:
                    self._stream_done += len(self._stream_rows)
                    self._stream_rows.clear()
            while pending:
                if not self._opened and not self._open():
                    if self.store.keeps_batches_when_down:
                        self._failures += 1
                        break  # the records wait for the store
                    self._drop(self._take(pending))
                    continue
                batch = self._take(pending)
                if self._write(batch):
                    self._apply_retention()
                elif self.waiting_for_store:
                    pending.extendleft(reversed(batch))  # back at the front, in order
                    break
        finally:
            with self._idle:
                self._idle.notify_all()

    @staticmethod
    def _take(pending: deque[Record]) -> list[Record]:
        batch: list[Record] = []
        try:
            while len(batch) < BATCH_SIZE:
                batch.append(pending.popleft())
        except IndexError:
            pass
        return batch

    def _drop(self, batch: list[Record]) -> None:
        self.dropped += len(batch)

    def _write(self, batch: list[Record]) -> bool:
        """One transaction. False: dropped (counted), or kept for a retry when waiting."""
        salt = self._salt
        assert salt is not None
        if self._late_fingerprints:
            batch = [
                r._replace(token_fp=fingerprint(salt, r.token_fp.credential))
                if isinstance(r.token_fp, _LateFingerprint)
                else r
                for r in batch
            ]
        streams = list(self._stream_rows)
        self._stream_rows.clear()
        try:
            self.store.write_batch(batch, self.instance, streams)
        except StoreError as exc:
            if isinstance(exc, StoreUnavailable):
                self._opened = False  # reopen (and re-check the schema) next time
            if isinstance(exc, StoreUnavailable) and self.store.keeps_batches_when_down:
                self._failures += 1
                self._note_down(exc)
                return False
            self._drop(batch)
            self.last_error = exc.message
            return False
        except Exception as exc:  # the writer thread must never die
            self._drop(batch)
            self.last_error = f"{type(exc).__name__}: {exc}"
            return False
        finally:
            self._stream_done += len(streams)  # written, or lost with the batch (gauges: re-sent)
        self.written += len(batch)
        self._failures = 0
        if self.waiting_for_store:
            self.waiting_for_store = False
            self.last_error = None
        return True

    def _apply_retention(self) -> None:
        """One bounded chunk per batch while old rows remain; then again in an hour."""
        now = time.time()
        if now < self._next_retention:
            return
        try:
            cutoff = now - self.retention_days * 86400
            deleted = self.store.delete_requests_before(cutoff, RETENTION_CHUNK)
            if deleted >= RETENTION_CHUNK:
                return  # more to delete: another chunk after the next batch
            daily_days = max(DAILY_RETENTION_DAYS, self.retention_days)
            self.store.delete_sums_before(cutoff, utc_day(now - daily_days * 86400))
        except StoreError:
            pass  # retried in the next hour; records are what matters
        self._next_retention = now + 3600
