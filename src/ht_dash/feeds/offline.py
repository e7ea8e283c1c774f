"""Offline copies: each feed's last good answer is kept on disk and shown, marked, at next start.

`OfflineCopies.attach(scheduler)` wraps the feeds' fetches: a successful answer is saved (in a
background thread: a slow or full disk never holds a poll up) and, before the first poll, the
saved copy is put in the feed's state with `from_cache=True` — the panel then says "offline copy
· updated 3 h ago" until a fresh answer replaces it. The scheduler keeps polling as usual, so
the dashboard recovers by itself when the network returns.

Live usage is not kept (a two-second figure is worthless an hour later); the demo and the local
meter keep nothing (they are never offline). Keys carry the feed's parameter ("usage:7d"), the
cache directory is per API host (`ResponseCache`), and the token is never written.

No Textual here: the app hands in a callback for the one "cannot save" warning.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ht_dash.api import contract
from ht_dash.feeds.cache import Cached, ResponseCache

if TYPE_CHECKING:
    from ht_dash.clock import Clock
    from ht_dash.feeds.scheduler import Scheduler
    from ht_dash.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Codec:
    dump: Callable[[Any], Any]
    parse: Callable[[Any], Any]


# feed kind -> how its model is written and read back; feeds not listed are never kept
CACHED_FEEDS: dict[str, Codec] = {
    "profile": Codec(contract.dump_profile, contract.parse_profile),
    "token": Codec(contract.dump_token_info, contract.parse_token_info),
    "subscription": Codec(contract.dump_subscription, contract.parse_subscription),
    "metrics": Codec(contract.dump_metrics, contract.parse_metrics),
    "usage": Codec(contract.dump_endpoint_usage, contract.parse_endpoint_usage),
    "billing": Codec(contract.dump_next_billing, contract.parse_next_billing),
    "history": Codec(contract.dump_history, contract.parse_history),
}

Variant = Callable[[], object]


def cache_key(kind: str, variant: object = None) -> str:
    return kind if variant is None else f"{kind}:{variant}"


def response_cache_for(runtime: Runtime) -> ResponseCache | None:
    """The cache for this run's API host; None for the demo and the local meter."""
    if runtime.demo or runtime.settings.source != "api":
        return None
    return ResponseCache.default(runtime.base_url, demo=False)


def clear_offline_copies(base_url: str) -> int:
    """Forget every saved answer for this API host (logout, another account); files removed."""
    return ResponseCache.default(base_url, demo=False).clear()


class OfflineCopies:
    """The app's side of the response cache. With `cache=None` it keeps and shows nothing."""

    def __init__(
        self,
        cache: ResponseCache | None,
        clock: Clock,
        *,
        on_save_failed: Callable[[str], None] | None = None,
        background: bool = True,
    ) -> None:
        self.cache = cache
        self.clock = clock
        self.on_save_failed = on_save_failed
        self.background = background
        self._pending: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._reported = False

    @classmethod
    def for_runtime(cls, runtime: Runtime, **kwargs: Any) -> OfflineCopies:
        return cls(response_cache_for(runtime), runtime.clock, **kwargs)

    @property
    def enabled(self) -> bool:
        return self.cache is not None

    # ---- wiring ------------------------------------------------------------------------------

    def attach(self, scheduler: Scheduler, variants: Mapping[str, Variant] | None = None) -> int:
        """Save every cached feed's good answers, and show the saved ones now; how many shown."""
        if self.cache is None:
            return 0
        variants = variants or {}
        shown = 0
        for kind, feed in scheduler.feeds.items():
            if kind not in CACHED_FEEDS:
                continue
            variant = variants.get(kind)
            feed.fetch = self._saving(kind, feed.fetch, variant)
            state = feed.state
            if state.data is None and (copy := self.load(kind, _call(variant))) is not None:
                state.data, state.updated_at, state.from_cache = copy.model, copy.saved_at, True
                shown += 1
        return shown

    def _saving(
        self, kind: str, fetch: Callable[[], Awaitable[Any]], variant: Variant | None
    ) -> Callable[[], Awaitable[Any]]:
        async def fetch_and_save() -> Any:
            key = cache_key(kind, _call(variant))  # before the await: the key of this request
            data = await fetch()
            self.save(kind, key, data)
            return data

        return fetch_and_save

    # ---- disk --------------------------------------------------------------------------------

    def load(self, kind: str, variant: object = None) -> Cached[Any] | None:
        if self.cache is None or kind not in CACHED_FEEDS:
            return None
        return self.cache.load(cache_key(kind, variant), CACHED_FEEDS[kind].parse)

    def save(self, kind: str, key: str, data: Any) -> None:
        """Write `data` as `key`'s offline copy; in a daemon thread unless `background` is off."""
        if self.cache is None or kind not in CACHED_FEEDS:
            return
        now = self.clock.now()
        dump = CACHED_FEEDS[kind].dump
        if not self.background:
            self._write(key, data, dump, now)
            return
        with self._lock:
            if key in self._pending:  # the previous write of this key still runs: skip this one
                return
            thread = threading.Thread(
                target=self._write, args=(key, data, dump, now), name="ht-dash-cache", daemon=True
            )
            self._pending[key] = thread
        thread.start()

    def _write(self, key: str, data: Any, dump: Callable[[Any], Any], now: Any) -> None:
        try:
            assert self.cache is not None
            saved = self.cache.save(key, data, dump, now)
        except Exception:  # noqa: BLE001 - a cache must never break the dashboard
            log.exception("saving the offline copy of %s failed", key)
            saved, self.cache.last_error = False, f"unexpected error while saving {key}"  # type: ignore[union-attr]
        finally:
            with self._lock:
                self._pending.pop(key, None)
        if not saved and not self._reported and self.on_save_failed is not None:
            self._reported = True  # once: the same full disk need not be announced every 30 s
            self.on_save_failed(self.cache.last_error or "cannot save")  # type: ignore[union-attr]

    def wait_saved(self, timeout: float = 5.0) -> None:
        """Block until the writes started so far are done (tests, shutdown)."""
        with self._lock:
            threads = list(self._pending.values())
        for thread in threads:
            thread.join(timeout)

    def clear(self) -> int:
        """Forget this host's offline copies (logout); how many files were removed."""
        self.wait_saved(1.0)
        return 0 if self.cache is None else self.cache.clear()


def _call(variant: Variant | None) -> object:
    return None if variant is None else variant()
