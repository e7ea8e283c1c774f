"""The embedded default: one SQLite file per meter, WAL mode, private to its user."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ht_dash.meter.store.base import (
    REQUEST_COLUMNS,
    SQLITE,
    Store,
    StoreError,
    StoreUnavailable,
)

DB_FILENAME = "meter.sqlite3"
BUSY_TIMEOUT_MS = 2000
_INSERT = f"INSERT INTO requests ({REQUEST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def connect(path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A connection that waits up to `busy_timeout_ms` for a lock held by another process."""
    # Handed between threads (the reader's worker threads), never used by two at once.
    conn = sqlite3.connect(
        path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return conn


def make_private(path: Path) -> None:
    """The database only for its owner: file 0600 (SQLite gives its -wal and -shm files the
    database file's mode), in a directory created 0700. Existing files are tightened too, and so
    is ht-dash's own data directory — not a directory the user chose for the file."""
    from ht_dash.paths import data_dir

    parent = path.parent
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if parent.resolve() == data_dir().resolve():
        with contextlib.suppress(OSError):
            os.chmod(parent, 0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(path.with_name(name), 0o600)


class SqliteStore(Store):
    dialect = SQLITE
    keeps_batches_when_down = False  # locked or full: drop and count, as ever

    def __init__(self, path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        super().__init__()
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.creating = False  # set by open_for_writing: the file may be created

    @property
    def label(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def exists(self) -> bool:
        return self.path.exists()

    def open_for_writing(self) -> None:
        """Create (private) if needed, WAL mode, schema up to date."""
        self.creating = True
        try:
            make_private(self.path)
        except OSError as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from None
        self._run(self._wal)
        self.migrate(create=True)

    @staticmethod
    def _wal(cur: Any) -> None:
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")

    def _connect(self) -> sqlite3.Connection:
        if not self.creating and not self.path.exists():
            raise StoreUnavailable(f"no meter database at {self.path}")
        return connect(self.path, self.busy_timeout_ms)

    def _insert_requests(self, cur: Any, rows: Sequence[tuple]) -> None:
        cur.executemany(_INSERT, rows)

    def _lock_schema(self, cur: Any) -> None:
        pass  # BEGIN IMMEDIATE already holds the only write lock

    def _has_table(self, cur: Any, name: str) -> bool:
        cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return cur.fetchone() is not None

    def translate(self, exc: BaseException) -> BaseException | None:
        # Locked, full, read-only: the connection is fine, this batch is not. Anything else
        # (a damaged file, a file that vanished): reopen on the next write.
        if isinstance(exc, sqlite3.OperationalError):
            return StoreError(f"{exc} ({self.path.name})")
        if isinstance(exc, sqlite3.Error):
            return StoreUnavailable(f"{exc} ({self.path.name})")
        if isinstance(exc, OSError):
            return StoreUnavailable(f"cannot open {self.path}: {exc}")
        return None
