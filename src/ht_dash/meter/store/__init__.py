"""The meter's stores behind one interface (`Store`): SQLite, embedded and the default, and
PostgreSQL for a team's meters sharing one database. `open_store(spec)` picks one."""

from __future__ import annotations

from pathlib import Path

from ht_dash.meter.store.base import (
    SCHEMA_VERSION,
    Record,
    Store,
    StoreEmpty,
    StoreError,
    StoreTooNew,
    StoreUnavailable,
    fingerprint,
    is_error,
    is_ok,
    utc_day,
)

__all__ = [
    "SCHEMA_VERSION",
    "Record",
    "Store",
    "StoreEmpty",
    "StoreError",
    "StoreTooNew",
    "StoreUnavailable",
    "default_sqlite_path",
    "fingerprint",
    "is_error",
    "is_ok",
    "open_store",
    "printable",
    "utc_day",
]


def default_sqlite_path() -> Path:
    from ht_dash.meter.store.sqlite import DB_FILENAME
    from ht_dash.paths import data_dir

    return data_dir() / DB_FILENAME


def open_store(spec: str | Path | None = None) -> Store:
    """`postgresql://…` → PostgreSQL (psycopg imported only then); a path, `sqlite:///path` or
    nothing → the SQLite file (default: meter.sqlite3 in the data directory)."""
    from ht_dash.meter.store.sqlite import SqliteStore

    if spec is None or spec == "":
        return SqliteStore(default_sqlite_path())
    if isinstance(spec, Path):
        return SqliteStore(spec)
    from ht_dash.meter.store.postgres import PostgresStore, is_postgres_url

    if is_postgres_url(spec):
        return PostgresStore(spec)
    if spec.startswith("sqlite://"):
        return SqliteStore(Path(spec.removeprefix("sqlite://")))
    if "://" in spec:
        from ht_dash.api.errors import ConfigError

        raise ConfigError(
            f"unknown meter store {printable(spec)!r}",
            hint="give a postgresql://user@host/db URL, or a path to a SQLite file",
        )
    return SqliteStore(Path(spec).expanduser())


def printable(spec: str | Path | None) -> str:
    """A store spec safe to print: a URL's password is `***`."""
    if spec is None:
        return str(default_sqlite_path())
    from ht_dash.config import redact_url

    text = str(spec)
    return redact_url(text) if "://" in text else text
