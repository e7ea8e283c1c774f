"""Virtual time for scheduler tests: a FixedClock that only moves when every task is waiting.

`VirtualTime` is a `ht_dash.feeds.scheduler.Waiter`; scripted servers sleep on it too.
`advance(s)` moves the clock to each pending deadline in turn, lets the woken tasks run, and stops
at `now + s`, so a test of minutes of polling runs in milliseconds and always the same way.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta

from ht_dash.clock import FixedClock

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SETTLE_ROUNDS = 100  # event-loop turns that let every runnable task reach its next wait


class VirtualTime:
    def __init__(self, clock: FixedClock | None = None) -> None:
        self.clock = clock or FixedClock(START)
        self._timers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self.clock.now()

    def _timer(self, seconds: float) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        deadline = self.clock.now() + _delta(seconds)
        heapq.heappush(self._timers, (deadline, next(self._seq), future))
        return future

    async def sleep(self, seconds: float) -> None:
        await self._timer(seconds)

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        if event.is_set():
            return True
        if timeout is None:
            await event.wait()
            return True
        timer = self._timer(timeout)
        woken = asyncio.ensure_future(event.wait())
        try:
            done, _ = await asyncio.wait({woken, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            timer.cancel()
        return woken in done

    async def settle(self) -> None:
        for _ in range(SETTLE_ROUNDS):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        target = self.clock.now() + _delta(seconds)
        await self.settle()
        while True:
            while self._timers and self._timers[0][2].done():
                heapq.heappop(self._timers)
            if not self._timers or self._timers[0][0] > target:
                break
            deadline, _, future = heapq.heappop(self._timers)
            if deadline > self.clock.now():
                self.clock.advance((deadline - self.clock.now()).total_seconds())
            future.set_result(None)
            await self.settle()
        if target > self.clock.now():
            self.clock.advance((target - self.clock.now()).total_seconds())
        await self.settle()


def _delta(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
