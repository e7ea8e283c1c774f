"""PostgreSQL through psycopg 3: one store for all of a team's meters (imported only when used).

The URL's password never leaves this module: `label` and every error message show `***`. Better
still, keep it off the command line: libpq reads `PGPASSWORD` and `~/.pgpass` (docs/meter.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ht_dash.api.errors import ConfigError
from ht_dash.config import PASSWORD_PARAMS as _PASSWORD_PARAMS
from ht_dash.config import redact_url
from ht_dash.meter.store.base import (
    POSTGRES,
    REQUEST_COLUMNS,
    Store,
    StoreError,
    StoreUnavailable,
)

SCHEMES = ("postgresql", "postgres")
CONNECT_TIMEOUT_S = 3
# For this connection only: the endpoint table's hash aggregate over 30 days of hourly sums
# (tens of thousands of groups) fits in memory instead of spilling to disk at the 4 MB default.
WORK_MEM = "32MB"
_SCHEMA_LOCK = 0x68745F6D65746572  # pg_advisory_xact_lock key: "ht_meter"


def is_postgres_url(spec: str) -> bool:
    return spec.split(":", 1)[0].lower() in SCHEMES and "://" in spec


def url_secrets(url: str) -> list[str]:
    """The password as it may appear in messages: raw and percent-decoded."""
    from urllib.parse import unquote

    found = []
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    if parts.password:
        found += [parts.password, unquote(parts.password)]
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in _PASSWORD_PARAMS and value:
            found += [value, unquote(value)]
    return [s for s in found if s]


class PostgresStore(Store):
    dialect = POSTGRES
    keeps_batches_when_down = True  # a restart or a network blip: records wait, then go in
    remote = True

    def __init__(self, url: str, *, application_name: str = "ht-dash") -> None:
        super().__init__()
        if not is_postgres_url(url):
            raise ConfigError("a PostgreSQL store is a postgresql://… URL")
        self._url = url
        self._secrets = url_secrets(url)
        self.application_name = application_name

    @property
    def label(self) -> str:
        return redact_url(self._url)

    def __repr__(self) -> str:
        return f"PostgresStore({self.label!r})"

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def open_for_writing(self) -> None:
        self.migrate(create=True)

    def _connect(self) -> Any:
        try:
            import psycopg
        except ImportError:  # pragma: no cover - a regular dependency
            raise ConfigError(
                "a PostgreSQL store needs psycopg 3", hint="pip install 'psycopg[binary]>=3.1'"
            ) from None
        try:
            conn = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name=self.application_name,
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
            )
            conn.execute(f"SET work_mem = '{WORK_MEM}'")
            return conn
        except Exception as exc:
            error = self.translate(exc)
            if error is None:
                raise
            raise error from None

    def _insert_requests(self, cur: Any, rows: Sequence[tuple]) -> None:
        with cur.copy(f"COPY requests ({REQUEST_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _lock_schema(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))

    def _has_table(self, cur: Any, name: str) -> bool:
        # A scan of pg_class, not to_regclass: after waiting for the schema lock, to_regclass
        # answers from the catalog cache of before the wait and misses another meter's tables.
        cur.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
            " ON n.oid = c.relnamespace WHERE c.relname = %s"
            " AND n.nspname = ANY (current_schemas(false)))",
            (name,),
        )
        return bool(cur.fetchone()[0])

    def translate(self, exc: BaseException) -> BaseException | None:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return None
        message = self.scrub(" ".join(str(exc).split()) or type(exc).__name__)
        where = f" ({self.label})"
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return StoreUnavailable(f"PostgreSQL unreachable: {message}{where}")
        return StoreError(f"PostgreSQL: {message}{where}")
