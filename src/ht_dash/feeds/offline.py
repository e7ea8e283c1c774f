"""Offline copies: each feed's last good answer is kept on disk and shown, marked, at next start.

Which feeds keep a copy, how it is encoded and keyed is declared in `feeds.registry` (`codec`,
`variant`). `OfflineCopies.attach(scheduler, params_of)` wraps the feeds' fetches: a successful
answer is saved (in a background thread: a slow or full disk never holds a poll up) and, before
the first poll, the saved copy is put in the feed's state with `from_cache=True` — the panel then
says "offline copy · updated 3 h ago" until a fresh answer replaces it. The scheduler keeps
polling as usual, so the dashboard recovers by itself when the network returns.

Live usage is not kept (a two-second figure is worthless an hour later); the demo and the local
meter keep nothing (they are never offline). Keys carry the feed's parameter ("usage:7d"), the
cache directory is per API host (`ResponseCache`), and the token is never written.

No Textual here: the app hands in a callback for the one "cannot save" warning.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ht_dash.feeds.cache import Cached, ResponseCache
from ht_dash.feeds.registry import BY_NAME, FeedSpec, Params

if TYPE_CHECKING:
    from ht_dash.clock import Clock
    from ht_dash.feeds.scheduler import Scheduler
    from ht_dash.runtime import Runtime

log = logging.getLogger(__name__)


def cache_key(spec: FeedSpec, params: Params) -> str:
    """The copy's key: the feed's name, and its variant for these parameters ("usage:7d")."""
    return spec.name if spec.variant is None else f"{spec.name}:{spec.variant(params)}"


def response_cache_for(runtime: Runtime) -> ResponseCache | None:
    """The cache for this run's API host; None for the demo and the local meter."""
    if runtime.demo or runtime.settings.source == "meter":
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

    def attach(self, scheduler: Scheduler, params_of: Callable[[FeedSpec], Params]) -> int:
        """Save every cached feed's good answers, and show the saved ones now; how many shown.

        `params_of(spec)` gives a feed's current parameters (they name the copy)."""
        if self.cache is None:
            return 0
        shown = 0
        for kind, feed in scheduler.feeds.items():
            spec = BY_NAME.get(kind)
            if spec is None or spec.codec is None:
                continue
            feed.fetch = self._saving(spec, feed.fetch, params_of)
            state = feed.state
            if state.data is None and (copy := self.load(spec, params_of(spec))) is not None:
                state.data, state.updated_at, state.from_cache = copy.model, copy.saved_at, True
                shown += 1
        return shown

    def _saving(
        self,
        spec: FeedSpec,
        fetch: Callable[[], Awaitable[Any]],
        params_of: Callable[[FeedSpec], Params],
    ) -> Callable[[], Awaitable[Any]]:
        async def fetch_and_save() -> Any:
            key = cache_key(spec, params_of(spec))  # before the await: the key of this request
            data = await fetch()
            self.save(spec, key, data)
            return data

        return fetch_and_save

    # ---- disk --------------------------------------------------------------------------------

    def load(self, spec: FeedSpec, params: Params | None = None) -> Cached[Any] | None:
        """The saved copy of `spec` for these parameters (its defaults if None)."""
        if self.cache is None or spec.codec is None:
            return None
        key = cache_key(spec, spec.params if params is None else params)
        return self.cache.load(key, spec.codec.parse)

    def save(self, spec: FeedSpec, key: str, data: Any) -> None:
        """Write `data` as `key`'s offline copy; in a daemon thread unless `background` is off."""
        if self.cache is None or spec.codec is None:
            return
        now = self.clock.now()
        dump = spec.codec.dump
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
