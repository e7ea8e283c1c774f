"""The refresh engine: one scheduler, one polling loop per kind of data, never overlapping.

Each feed (live, subscription, metrics, …) runs its own loop: fetch, report, then wait for its
interval — or for what a failure asks for — or until woken by a change (pause, interval,
refresh). Decisions are made from the scheduler's state, never from the wake-up itself, so a
slow server delays the next poll instead of piling requests up, and an in-flight request is
never cancelled by a timer.

Failures:
- generic (network, 5xx, bad payload): exponential back-off with jitter;
- 429 (`RateLimited`): every feed holds until `retry_after` has passed (the limit is per token);
- 402 (`QuotaExhausted`): the feed is probed again at the reset, at most every
  `QUOTA_PROBE_S` — so fast polling stops;
- 401/403 (`AuthError`): all polling stops until `reauthorized()`;
- "not offered" (`NotOffered`: the service has no such endpoint for tokens): a state, not an
  error — the feed asks again at most every `NOT_OFFERED_PROBE_S`, or when refreshed (`r`).

Requests made outside the loops (a history page, the usage pace, a regeneration) pass the same
gate: `admit()` before (the 401 stop, the 429 hold), `observe(error)` after a failure.

No Textual here: the app hands in callbacks and runs `Scheduler.run()` in a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ht_dash.api.errors import (
    AuthError,
    HtError,
    NotAvailable,
    NotOffered,
    QuotaExhausted,
    RateLimited,
)
from ht_dash.clock import Clock

log = logging.getLogger(__name__)

BACKOFF_FIRST_MAX_S = 10.0  # the first retry after a failure comes after at most this
BACKOFF_MIN_S = 2.0
BACKOFF_MAX_S = 120.0
BACKOFF_JITTER = 0.2  # ±20 %
QUOTA_PROBE_S = 300.0  # after a 402, look again at most this often
NOT_AVAILABLE_RETRY_S = 30.0  # local (meter, plan): asking again sends the API nothing
NOT_OFFERED_PROBE_S = 3600.0  # a feed the API does not offer is asked again at most hourly
STALE_AFTER_INTERVALS = 3


class InternalError(HtError):
    """A fetch failed with something that is not an `HtError`: a bug, reported, not fatal."""

    title = "Internal error"

    def __init__(self, exc: BaseException) -> None:
        super().__init__(
            f"{type(exc).__name__} while fetching",
            hint="ht-dash will retry; run with --debug and report it if it persists",
        )


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
    held_until: datetime | None = None  # another feed's 429 holds this one until then

    def held_s(self, now: datetime) -> float | None:
        """Seconds this feed still waits for a 429 hold it did not cause; None if not held."""
        if self.held_until is None or self.loading or self.error is not None:
            return None
        left = (self.held_until - now).total_seconds()
        return left if left > 0 else None

    @property
    def not_offered(self) -> bool:
        """The API does not offer this feed: a state to show, not a fault that retries soon."""
        return isinstance(self.error, NotOffered)

    def age_s(self, now: datetime) -> float | None:
        if self.updated_at is None:
            return None
        return max(0.0, (now - self.updated_at).total_seconds())

    def is_stale(self, now: datetime) -> bool:
        if self.data is None:
            return False
        if self.failures or self.from_cache:
            return True
        age = self.age_s(now)
        return age is not None and self.interval > 0 and age > STALE_AFTER_INTERVALS * self.interval

    def retry_in_s(self, now: datetime) -> float | None:
        return None if self.retry_at is None else max(0.0, (self.retry_at - now).total_seconds())


class Waiter(Protocol):
    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        """Wait until `event` is set (→ True) or `timeout` seconds pass (→ False)."""
        ...


class AsyncioWaiter:
    """Real time, through the running event loop."""

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        if timeout is None:
            await event.wait()
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
            return True
        return False


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
    manual_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

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
        waiter: Waiter | None = None,
    ) -> None:
        self.clock = clock
        self.on_update = on_update
        self.on_auth_failed = on_auth_failed
        self.rng = rng or random.Random()
        self.waiter: Waiter = waiter or AsyncioWaiter()
        self.feeds: dict[str, Feed] = {}
        self.paused = False
        self.stopped = False
        self.auth_failed: AuthError | None = None
        self.hold_until: datetime | None = None  # a 429 holds every feed until then
        self.quota_resets_at: datetime | None = None  # last 402's reset instant, for display
        # polls started per feed kind, over the scheduler's life (the benchmark reads it)
        self.requests_started: Counter[str] = Counter()
        self._tasks: list[asyncio.Task[None]] = []

    # ---- configuration -----------------------------------------------------------------------

    def add(
        self,
        kind: str,
        fetch: Callable[[], Awaitable[Any]],
        interval: float,
        *,
        pausable: bool = False,
    ) -> Feed:
        feed = Feed(kind=kind, fetch=fetch, interval=interval, pausable=pausable)
        self.feeds[kind] = feed
        return feed

    def state(self, kind: str) -> FeedState:
        return self.feeds[kind].state

    def set_active(self, kinds: Iterable[str]) -> None:
        """Poll exactly these kinds; a kind becoming active fetches at once if it is due."""
        wanted = set(kinds)
        for kind, feed in self.feeds.items():
            was, feed.active = feed.active, kind in wanted
            if feed.active != was:
                feed.wake.set()

    def set_interval(self, kind: str, seconds: float) -> None:
        feed = self.feeds[kind]
        feed.interval = feed.state.interval = seconds
        feed.wake.set()

    def refresh(self, kinds: Iterable[str] | None = None) -> None:
        """Poll now: the active feeds (the `r` key), or the given ones (a screen changed their
        parameters: timeframe, period, kind). A back-off is skipped, a 429 hold respected.
        A poll in flight is never duplicated; for the given kinds one more follows as soon as it
        ends, since it may have asked with the old parameters."""
        wanted = None if kinds is None else set(kinds)
        for kind, feed in self.feeds.items():
            chosen = feed.active if wanted is None else kind in wanted
            if chosen and (wanted is not None or not feed.in_flight):
                feed.forced = True
                feed.wake.set()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        for feed in self.feeds.values():
            if feed.pausable:
                feed.state.paused = paused
                self._report(feed.state)
                feed.wake.set()

    def reauthorized(self) -> None:
        """After a new token is in place: clear the 401 stop and poll the active feeds now."""
        self.auth_failed = None
        for feed in self.feeds.values():
            feed.forced = True
            feed.wake.set()

    def stop(self) -> None:
        self.stopped = True
        for feed in self.feeds.values():
            feed.wake.set()
        for task in self._tasks:
            task.cancel()

    def planned_requests_per_minute(self, kinds: Iterable[str]) -> dict[str, float]:
        """Requests per minute these feeds send at their current intervals, if nothing fails."""
        rates = {}
        for kind in kinds:
            feed = self.feeds[kind]
            if feed.pausable and self.paused:
                rates[kind] = 0.0
            else:
                rates[kind] = 60.0 / feed.interval if feed.interval > 0 else 0.0
        return rates

    # ---- the gate for requests outside the loops ----------------------------------------------

    def admit(self) -> None:
        """Raise what a poll would meet now — the 401 stop, the 429 hold — instead of sending."""
        if self.auth_failed is not None:
            raise self.auth_failed
        if (hold := self._hold_s()) > 0:
            raise RateLimited("the API rate-limited this token", retry_after=hold)

    def observe(self, exc: HtError) -> None:
        """A request outside the loops failed: a 401 stops all polling, a 429 holds every feed."""
        if isinstance(exc, AuthError):
            self._auth_stop(exc)
        elif isinstance(exc, RateLimited):
            delay = BACKOFF_MIN_S if exc.retry_after is None else max(1.0, exc.retry_after)
            self._hold(self.clock.now() + timedelta(seconds=delay), holder=None)

    # ---- running -----------------------------------------------------------------------------

    def _runnable(self, feed: Feed) -> bool:
        return (
            feed.active
            and not self.stopped
            and self.auth_failed is None
            and not (feed.pausable and self.paused)
        )

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
        async with feed.manual_lock:  # a second manual poll waits for the first, then asks again
            await self._poll(feed)
        return feed.state

    async def _loop(self, feed: Feed) -> None:
        while not self.stopped:
            feed.wake.clear()  # every decision below reads state, so a lost wake-up loses nothing
            if not self._runnable(feed):
                await self.waiter.wait(feed.wake, None)
                continue
            delay = self.due_in(feed)
            if delay > 0:
                if await self.waiter.wait(feed.wake, delay):
                    continue  # woken: something changed, decide again
                if not self._runnable(feed) or self._hold_s() > 0:
                    continue
            feed.forced = False
            await self._poll(feed)

    def _hold_s(self) -> float:
        if self.hold_until is None:
            return 0.0
        return max(0.0, (self.hold_until - self.clock.now()).total_seconds())

    def due_in(self, feed: Feed) -> float:
        """Seconds until the feed should be polled: 0 when due now."""
        now = self.clock.now()
        state = feed.state
        waits = [0.0, self._hold_s()]
        if not feed.forced:
            if state.retry_at is not None:
                waits.append((state.retry_at - now).total_seconds())
            elif state.updated_at is not None and not state.from_cache:  # an offline copy: ask now
                waits.append(feed.interval - (now - state.updated_at).total_seconds())
        return max(waits)

    async def _poll(self, feed: Feed) -> None:
        if feed.in_flight:
            return
        state = feed.state
        feed.in_flight = True
        state.loading = True
        self.requests_started[feed.kind] += 1
        self._report(state)
        try:
            data = await feed.fetch()
        except AuthError as exc:
            self._failed(feed, exc, None)
            self._auth_stop(exc)
            return
        except HtError as exc:
            self._failed(feed, exc, self._failure_delay(feed, exc))
            return
        except asyncio.CancelledError:
            state.loading = False
            raise
        except Exception as exc:  # a bug must not kill the loop: report, back off, go on
            log.exception("fetching %s failed", feed.kind)
            error = InternalError(exc)
            self._failed(feed, error, self._failure_delay(feed, error))
            return
        finally:
            feed.in_flight = False
        state.data, state.error, state.failures = data, None, 0
        state.updated_at, state.retry_at = self.clock.now(), None
        state.loading = state.from_cache = False
        state.held_until = None
        self._report(state)

    def _auth_stop(self, exc: AuthError) -> None:
        first = self.auth_failed is None
        self.auth_failed = exc
        for other in self.feeds.values():
            other.wake.set()
        if first and self.on_auth_failed:  # several requests in flight: report once
            self.on_auth_failed(exc)

    def _hold(self, until: datetime | None, holder: Feed | None) -> None:
        """A 429 holds every feed (the limit is per token); their panels say why they wait."""
        self.hold_until = until
        for other in self.feeds.values():
            if other is not holder:
                other.state.held_until = until
                other.wake.set()  # re-plan around the hold

    def _report(self, state: FeedState) -> None:
        """Tell the app; a bug in a panel must not end the polling of its feed."""
        try:
            self.on_update(state)
        except Exception:
            log.exception("showing %s failed", state.kind)

    def _failed(self, feed: Feed, exc: HtError, delay: float | None) -> None:
        state = feed.state
        state.error, state.loading = exc, False
        state.failures += 1
        now = self.clock.now()
        state.retry_at = None if delay is None else now + timedelta(seconds=delay)
        if isinstance(exc, RateLimited):
            self._hold(state.retry_at, holder=feed)
        if isinstance(exc, QuotaExhausted):
            self.quota_resets_at = exc.resets_at
        self._report(state)

    def _failure_delay(self, feed: Feed, exc: HtError) -> float:
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return max(1.0, exc.retry_after)
        if isinstance(exc, QuotaExhausted):
            probe = max(feed.interval, QUOTA_PROBE_S)
            until_reset = None if exc.resets_at is None else (exc.resets_at - self.clock.now())
            if until_reset is None:
                return probe
            if until_reset.total_seconds() <= 0:  # reset passed yet still spent: clock skew
                return backoff_delay(feed.state.failures, feed.interval, self.rng)
            return min(until_reset.total_seconds(), probe)
        if isinstance(exc, NotOffered):
            return max(feed.interval, NOT_OFFERED_PROBE_S)
        if isinstance(exc, NotAvailable):
            return max(feed.interval, NOT_AVAILABLE_RETRY_S)
        # `failures` counts earlier failures: the first retry uses 2 ** 0
        return backoff_delay(feed.state.failures, feed.interval, self.rng)


def backoff_delay(failures: int, interval: float, rng: random.Random) -> float:
    """Exponential back-off after `failures` earlier failures, capped, with ±20 % jitter.

    It starts near the feed's interval (2 s for live, 10 s at most for slow feeds so an error
    clears quickly) and doubles up to 2 minutes, or the feed's own interval if that is longer.
    """
    first = min(max(interval, BACKOFF_MIN_S), BACKOFF_FIRST_MAX_S)
    cap = max(BACKOFF_MAX_S, interval)
    base = min(first * 2 ** min(failures, 16), cap)
    return base * rng.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)
