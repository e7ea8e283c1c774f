"""The last good response per endpoint, on disk, so a start without network still shows data.

One JSON file per key ("subscription", "usage:30d", ...) under `cache_dir()/responses/<namespace>/`,
where the namespace is the API host (or "demo": demo and real data never mix). Each file holds a
format version, the instant it was saved, the key, and the model's wire JSON (`contract.dump_*`),
read back through the strict `contract.parse_*`. Never a token: saving refuses anything that
holds one. Writes are atomic (temp file + os.replace) with mode 0600.

Nothing here raises on a bad disk: a read-only or full cache directory makes `save` return False
(with `last_error` for the UI and one logged warning); a corrupt, foreign or old file loads as None.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from ht_dash.api.errors import HtError
from ht_dash.api.models import RegeneratedToken
from ht_dash.logs import contains_secret

FORMAT_VERSION = 1
MAX_FILE_BYTES = 32 * 1024 * 1024
DEMO_NAMESPACE = "demo"

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Cached(Generic[T]):
    model: T
    saved_at: datetime

    def age(self, now: datetime) -> timedelta:
        return max(timedelta(0), now - self.saved_at)

    def age_text(self, now: datetime) -> str:
        """'just now', '4 min', '3 h 12 min', '2 days' — for "stale, cached 4 min ago"."""
        seconds = int(self.age(now).total_seconds())
        if seconds < 60:
            return "just now"
        minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
        if hours < 1:
            return f"{minutes} min"
        if days < 1:
            rest = minutes % 60
            return f"{hours} h {rest} min" if rest else f"{hours} h"
        return "1 day" if days == 1 else f"{days} days"


def namespace_for(base_url: str, *, demo: bool) -> str:
    """'demo', or the API host (and port) plus a short digest of the full base URL."""
    if demo:
        return DEMO_NAMESPACE
    parts = urlsplit(base_url)
    host = (parts.hostname or "unknown") + (f"-{parts.port}" if parts.port else "")
    digest = hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:8]
    return f"{_safe(host)}-{digest}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("._") or "_"


class ResponseCache:
    def __init__(self, root: Path, namespace: str) -> None:
        self.root = Path(root)
        self.namespace = _safe(namespace)
        self.last_error: str | None = None
        self._warned = False

    @classmethod
    def default(cls, base_url: str, *, demo: bool) -> ResponseCache:
        from ht_dash.paths import cache_dir

        return cls(cache_dir() / "responses", namespace_for(base_url, demo=demo))

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.directory)!r})"

    @property
    def directory(self) -> Path:
        return self.root / self.namespace

    def path_for(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
        return self.directory / f"{_safe(key)[:60]}-{digest}.json"

    # ---- save --------------------------------------------------------------------------------

    def save(self, key: str, model: T, dump: Callable[[T], Any], now: datetime) -> bool:
        """Store `dump(model)` as the last answer for `key`; False if not (see `last_error`)."""
        if isinstance(model, RegeneratedToken):
            return self._refuse(key, "it holds a token")
        try:
            document = {
                "format": FORMAT_VERSION,
                "key": key,
                "saved_at": now.astimezone(UTC).isoformat(),
                "data": dump(model),
            }
            text = json.dumps(document, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return self._refuse(key, f"it cannot be written as JSON ({exc})")
        if contains_secret(text):
            return self._refuse(key, "it holds a token")
        try:
            self._write_atomically(self.path_for(key), text.encode("utf-8"))
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            self._failed(f"cannot write the cache in {self.directory}: {reason}")
            return False
        self.last_error = None
        return True

    def _write_atomically(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def _refuse(self, key: str, why: str) -> bool:
        self.last_error = f"not caching {key}: {why}"
        log.warning("%s", self.last_error)
        return False

    def _failed(self, message: str) -> None:
        self.last_error = message
        # once per cache: the app polls, and the same full disk need not fill the log
        log.log(logging.DEBUG if self._warned else logging.WARNING, "%s", message)
        self._warned = True

    # ---- load --------------------------------------------------------------------------------

    def load(self, key: str, parse: Callable[[Any], T]) -> Cached[T] | None:
        """The last good answer for `key`; None if absent, unreadable, corrupt or another format."""
        path = self.path_for(key)
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.debug("cache %s unreadable: %s", path, exc.strerror or type(exc).__name__)
            return None
        try:
            if len(raw) > MAX_FILE_BYTES:
                raise ValueError("file too large")
            document = json.loads(raw.decode("utf-8"))
            if not isinstance(document, dict) or document.get("format") != FORMAT_VERSION:
                raise ValueError("other format")
            if document.get("key") != key:
                raise ValueError("other key")
            saved_at = datetime.fromisoformat(document["saved_at"])
            if saved_at.tzinfo is None:
                raise ValueError("saved_at without a zone")
            return Cached(parse(document["data"]), saved_at)
        except (ValueError, TypeError, KeyError, RecursionError, HtError) as exc:
            log.debug("cache %s ignored: %s", path.name, exc)
            return None

    def clear(self) -> int:
        """Remove this namespace's files (logout, another account); how many were removed."""
        removed = 0
        with contextlib.suppress(OSError):
            for path in self.directory.iterdir():
                if path.suffix in (".json", ".tmp"):
                    with contextlib.suppress(OSError):
                        path.unlink()
                        removed += 1
        return removed
