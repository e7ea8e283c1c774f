"""The refresh engine: one scheduler, one polling loop per kind of data, never overlapping.

Each feed (live, subscription, metrics, …) runs its own loop: fetch, report, then wait for its
interval — or for the back-off a failure asks for — or until woken by a refresh request. A
slow server therefore delays the next poll instead of piling requests up, and `Retry-After`
falls out naturally. No Textual here: the app hands in a callback and runs `Scheduler.run()`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ht_dash.api.errors import AuthError, HtError, QuotaExhausted, RateLimited
from ht_dash.clock import Clock

BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 120.0
STALE_AFTER_INTERVALS = 3


@dataclass
class FeedState:
    """What a panel needs to show about its data: the data, its age, and what went wrong."""

    kind: str
    data: Any = None
    updated_at: datetime | None = None
    error: HtError | None = None
    failures: int = 0
    retry_at: datetime | None = None
    loading: bool = False
    paused: bool = False
    from_cache: bool = False
    interval: float = 0.0

    def age_s(self, now: datetime) -> float | None:
        return None if self.updated_at is None else max(0.0, (now - self.updated_at).total_seconds())

    def is_stale(self, now: datetime) -> bool:
        if self.data is None:
            return False
        if self.failures or self.from_cache:
            return True
        age = self.age_s(now)
        return age is not None and self.interval > 0 and age > STALE_AFTER_INTERVALS * self.interval

    def retry_in_s(self, now: datetime) -> float | None:
        return None if self.retry_at is None else max(0.0, (self.retry_at - now).total_seconds())


@dataclass
class Feed:
    kind: str
    fetch: Callable[[], Awaitable[Any]]
    interval: float
    active: bool = False
    pausable: bool = False
    state: FeedState = field(init=False)
    wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    in_flight: bool = False
    forced: bool = False

    def __post_init__(self) -> None:
        self.state = FeedState(kind=self.kind, interval=self.interval)


UpdateCallback = Callable[[FeedState], None]


class Scheduler:
    def __init__(
        self,
        clock: Clock,
        on_update: UpdateCallback,
        *,
        on_auth_failed: Callable[[AuthError], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock
        self.on_update = on_update
        self.on_auth_failed = on_auth_failed
        self.rng = rng or random.Random()
        self.feeds: dict[str, Feed] = {}
        self.paused = False
        self.stopped = False
        self._tasks: list[asyncio.Task[None]] = []

    # ---- configuration -----------------------------------------------------------------------

    def add(self, kind: str, fetch: Callable[[], Awaitable[Any]], interval: float, *, pausable: bool = False) -> Feed:
        feed = Feed(kind=kind, fetch=fetch, interval=interval, pausable=pausable)
        self.feeds[kind] = feed
        return feed

    def state(self, kind: str) -> FeedState:
        return self.feeds[kind].state

    def set_active(self, kinds: set[str]) -> None:
        """Poll exactly these kinds; a kind becoming active fetches at once if it has no fresh data."""
        for kind, feed in self.feeds.items():
            was, feed.active = feed.active, kind in kinds
            if feed.active and not was:
                feed.wake.set()  # the loop fetches at once if due, else waits the remainder

    def set_interval(self, kind: str, seconds: float) -> None:
        feed = self.feeds[kind]
        feed.interval = feed.state.interval = seconds
        feed.wake.set()

    def refresh(self, kinds: set[str] | None = None) -> None:
        """Poll now (the active feeds, or the given ones); an in-flight poll is not duplicated."""
        for kind, feed in self.feeds.items():
            if (kinds is None and feed.active) or (kinds is not None and kind in kinds):
                feed.state.retry_at = None
                feed.forced = True
                feed.wake.set()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        for feed in self.feeds.values():
            if feed.pausable:
                feed.state.paused = paused
                self.on_update(feed.state)
                feed.wake.set()

    def stop(self) -> None:
        self.stopped = True
        for task in self._tasks:
            task.cancel()

    # ---- running -----------------------------------------------------------------------------

    def _runnable(self, feed: Feed) -> bool:
        return feed.active and not self.stopped and not (feed.pausable and self.paused)

    async def run(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(feed)) for feed in self.feeds.values()]
        try:
            await asyncio.gather(*self._tasks)
        except asyncio.CancelledError:
            for task in self._tasks:
                task.cancel()
            raise

    async def poll(self, kind: str) -> FeedState:
        """One poll of one feed, reporting as the loop would (tests, snapshots, manual mode)."""
        feed = self.feeds[kind]
        await self._poll(feed)
        return feed.state

    async def _loop(self, feed: Feed) -> None:
        delay = 0.0
        while not self.stopped:
            if not self._runnable(feed):
                feed.wake.clear()
                await feed.wake.wait()
                delay = self._remaining(feed)
                continue
            if delay > 0:
                feed.wake.clear()
                try:
                    await asyncio.wait_for(feed.wake.wait(), timeout=delay)
                except TimeoutError:
                    pass
                else:
                    if feed.forced:
                        feed.forced = False
                    else:
                        delay = self._remaining(feed)
                        continue
                if not self._runnable(feed):
                    continue
            delay = await self._poll(feed)

    def _remaining(self, feed: Feed) -> float:
        """Seconds until the feed is due, from its last success or its retry instant."""
        now = self.clock.now()
        if feed.state.retry_at is not None:
            return max(0.0, (feed.state.retry_at - now).total_seconds())
        age = feed.state.age_s(now)
        if age is None:
            return 0.0
        return max(0.0, feed.interval - age)

    async def _poll(self, feed: Feed) -> float:
        if feed.in_flight:
            return feed.interval
        state = feed.state
        feed.in_flight = True
        state.loading = True
        self.on_update(state)
        try:
            data = await feed.fetch()
        except AuthError as exc:
            state.error, state.loading = exc, False
            state.failures += 1
            self.on_update(state)
            self.stopped = True
            if self.on_auth_failed:
                self.on_auth_failed(exc)
            return feed.interval
        except HtError as exc:
            delay = self._failure_delay(feed, exc)
            state.error, state.loading = exc, False
            state.failures += 1
            state.retry_at = self.clock.now() + timedelta(seconds=delay)
            self.on_update(state)
            return delay
        finally:
            feed.in_flight = False
        state.data, state.error, state.failures = data, None, 0
        state.updated_at, state.retry_at = self.clock.now(), None
        state.loading = state.from_cache = False
        self.on_update(state)
        return feed.interval

    def _failure_delay(self, feed: Feed, exc: HtError) -> float:
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return max(1.0, exc.retry_after)
        if isinstance(exc, QuotaExhausted) and exc.resets_at is not None:
            wait = (exc.resets_at - self.clock.now()).total_seconds()
            return max(feed.interval, min(wait, 6 * 3600))
        return backoff_delay(feed.state.failures, feed.interval, self.rng)


def backoff_delay(failures: int, interval: float, rng: random.Random) -> float:
    """Exponential back-off from the feed's interval, capped, with ±20 % jitter."""
    base = max(interval, BACKOFF_BASE_S) * (2 ** min(failures, 8))
    capped = min(base, max(BACKOFF_MAX_S, interval))
    return capped * rng.uniform(0.8, 1.2)
